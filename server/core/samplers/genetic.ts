/**
 * A genetic algorithm ("genetic") for single-objective studies, over every
 * kind of parameter (floats, ints, steps, log scales, categoricals,
 * conditional sub-spaces and flattened lr schedules).
 *
 * - Population P = 50 by default (`populationSize`; 20 suits budgets of a few
 *   hundred trials: construct `new GeneticSampler({ populationSize: 20 })`).
 *   Generations are fixed blocks of P trial ids, replayed from the history
 *   (evolution/generations.ts): block 0 is uniform random, later trials are
 *   children of the current parent pool, and a block that still runs never
 *   blocks a suggestion (further children come from the same pool).
 * - Survivors: generational replacement with elitism: when a block closes,
 *   the pool becomes the ceil(P / 10) best of (pool + block), then the best
 *   remaining children of the block.
 * - Selection: tournaments of 3 on the pool's order.
 * - Crossover (probability 0.9): uniform (each gene from either parent);
 *   for numeric genes, half of the time SBX (eta 15) on the [0, 1] encoding
 *   instead. Mutation: per gene with probability 1/d, Gaussian (sd 0.1 of the
 *   encoded range, reflected) for numeric genes, random reset for
 *   categorical ones.
 * - Fitness (evolution/fitness.ts): FAILED trials (and COMPLETE ones without
 *   finite values) rank worst; infeasible ones after feasible ones by total
 *   violation; PRUNED ones after COMPLETE ones by the pruner's forecast of
 *   their final value, or their last value without one. With
 *   several objectives the order is NSGA-II's (front, then crowding).
 */
import { checkPopulationSize, PopulationEngine, type Individual } from "./evolution/population.js";
import type { SampleContext, SampleResult, Sampler } from "./sampler.js";

export const STREAM_GENETIC_INIT = 0x47_41_49_4e; // "GAIN"
export const STREAM_GENETIC_CHILD = 0x47_41_43_48; // "GACH"

export interface GeneticOptions {
  populationSize?: number;
}

export class GeneticSampler implements Sampler {
  readonly name = "genetic";
  readonly populationSize: number;
  private readonly engine: PopulationEngine;

  constructor(options: GeneticOptions = {}) {
    this.populationSize = checkPopulationSize(options.populationSize ?? 50);
    this.engine = new PopulationEngine({
      populationSize: this.populationSize,
      survival: "elitist-generational",
      elites: Math.ceil(this.populationSize / 10),
      tournament: 3,
      crossoverProb: 0.9,
      sbxProb: 0.5,
      etaCrossover: 15,
      inherit: "uniform",
      mutation: { kind: "gaussian", sd: 0.1 },
      initStream: STREAM_GENETIC_INIT,
      childStream: STREAM_GENETIC_CHILD,
    });
  }

  sample(ctx: SampleContext): SampleResult {
    return this.engine.sample(ctx);
  }

  /** The parent pool the next trial is bred from, best first. */
  population(ctx: SampleContext): readonly Individual[] {
    return this.engine.pool(ctx);
  }
}
