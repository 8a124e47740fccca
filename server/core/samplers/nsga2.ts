/**
 * NSGA-II (Deb et al. 2002, "nsga2") for one or several objectives, with
 * Deb's constrained domination.
 *
 * - Population P = 50 by default (`populationSize`). Generations are fixed
 *   blocks of P trial ids replayed from the history
 *   (evolution/generations.ts): block 0 is uniform random; each later trial is
 *   a child of the current parent pool; a block still running never blocks a
 *   suggestion (further children come from the same pool).
 * - Survivors ((P + P) elitism): when a block closes, pool + block are sorted
 *   into fronts by fast non-dominated sorting under constrained domination
 *   (feasible before infeasible; among infeasible, smaller total violation,
 *   the sum of positive `TrialView.constraints`, first; feasible means every
 *   constraint <= 0), each front by crowding distance, and the best P are
 *   kept. FAILED trials have infinite violation (dominated by everything);
 *   PRUNED ones rank after every COMPLETE one (evolution/fitness.ts).
 * - Parents: binary tournaments on (front, larger crowding distance).
 * - Variation as in Deb's reference code: crossover with probability 0.9,
 *   each numeric gene crossed by SBX (eta 20) with probability 0.5 on its
 *   [0, 1] encoding, categorical genes uniformly; polynomial mutation (eta 20)
 *   per gene with probability 1/d, random reset for categorical genes.
 */
import { checkPopulationSize, PopulationEngine, type Individual } from "./evolution/population.js";
import type { SampleContext, SampleResult, Sampler } from "./sampler.js";

export const STREAM_NSGA2_INIT = 0x4e_53_49_4e; // "NSIN"
export const STREAM_NSGA2_CHILD = 0x4e_53_43_48; // "NSCH"

export interface Nsga2Options {
  populationSize?: number;
}

export class Nsga2Sampler implements Sampler {
  readonly name = "nsga2";
  readonly populationSize: number;
  private readonly engine: PopulationEngine;

  constructor(options: Nsga2Options = {}) {
    this.populationSize = checkPopulationSize(options.populationSize ?? 50);
    this.engine = new PopulationEngine({
      populationSize: this.populationSize,
      survival: "nsga2",
      elites: 0,
      tournament: 2,
      crossoverProb: 0.9,
      sbxProb: 0.5,
      etaCrossover: 20,
      inherit: "first",
      mutation: { kind: "polynomial", eta: 20 },
      initStream: STREAM_NSGA2_INIT,
      childStream: STREAM_NSGA2_CHILD,
    });
  }

  sample(ctx: SampleContext): SampleResult {
    return this.engine.sample(ctx);
  }

  /** The parent pool the next trial is bred from, best first, with front and crowding. */
  population(ctx: SampleContext): readonly Individual[] {
    return this.engine.pool(ctx);
  }
}
