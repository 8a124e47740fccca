/**
 * The CMA-ES sampler ("cmaes"): CMA-ES with IPOP restarts (cma.ts) made
 * stateless by replaying generations from the trial history
 * (evolution/generations.ts).
 *
 * - No start-up trials: generation 0 is drawn around the centre of the
 *   encoded space [0, 1]^n with sigma0 = 0.3 (as Optuna's CmaEsSampler).
 * - Generation g is the block of lambda_g trial positions after generation
 *   g - 1 (lambda doubles at each IPOP restart). Trial t is drawn from the
 *   distribution after the last closed generation with the generator
 *   (seed, t, "CMAS"): while a generation still has QUEUED or RUNNING trials,
 *   new trials keep coming from the same distribution and fill the next
 *   block(s), so every worker is served at once.
 * - Closing a generation re-draws each member from the stored state with its
 *   own generator to recover the continuous point it was drawn at: a match
 *   with this generation's distribution is an ordinary CMA-ES sample; a match
 *   with one of the 3 previous distributions (drawn while an earlier
 *   generation ran) or no match (enqueued or added by users, retries) makes
 *   it an injected solution, encoded from its values (inactive coordinates at
 *   the mean) and length-capped.
 * - Ranking (evolution/fitness.ts): FAILED trials are worst in their
 *   generation, PRUNED ones rank after every COMPLETE one by the pruner's
 *   forecast of their final value, or their last value without one, infeasible ones after feasible ones by violation; several
 *   objectives are ranked by NSGA-II's (front, crowding) order.
 * - Conditional parameters: every numeric dimension has a coordinate, active
 *   or not; a candidate is decoded parents first and inactive dimensions are
 *   dropped (their coordinates carry no fitness signal and drift neutrally).
 * - A candidate equal to a trial of the last closed generation or later
 *   (RUNNING ones included) is redrawn, up to 4 draws.
 */
import type { Direction } from "../../model.js";
import { createRng } from "../../rng.js";
import type { FlatParams } from "../../space.js";
import { flatKey, genomeOf, sameFlat, toUnit, type Genome } from "../evolution/encoding.js";
import { fitnessOf, orderByFitness } from "../evolution/fitness.js";
import { GenerationMemo, MemoTable, type Generations } from "../evolution/generations.js";
import type { SampleContext, SampleResult, Sampler, TrialView } from "../sampler.js";
import { defaultLambda, drawCandidate, MAX_DOUBLINGS, newRun, update, type CmaState, type Evaluated } from "./cma.js";

export const STREAM_CMAES = 0x43_4d_41_53; // "CMAS"
export const STREAM_CMAES_RESTART = 0x43_4d_41_52; // "CMAR"

/** Draws per suggestion before a duplicate is accepted. */
const DEDUP_DRAWS = 4;
/** Distributions (this generation's and earlier ones) a member is matched against. */
const KEEP = 4;

export interface CmaEsOptions {
  /** Initial step size on the [0, 1] encoding (default 0.3). */
  sigma0?: number;
  /** Initial population size lambda0 (default 4 + floor(3 ln d)). */
  populationSize?: number;
}

export class CmaEsSampler implements Sampler {
  readonly name = "cmaes";
  readonly sigma0: number;
  readonly populationSize: number | undefined;
  private readonly memos = new MemoTable<object, CmaState>();

  constructor(options: CmaEsOptions = {}) {
    const sigma0 = options.sigma0 ?? 0.3;
    if (!(Number.isFinite(sigma0) && sigma0 > 0)) throw new RangeError(`sigma0 must be a finite number > 0 (got ${sigma0})`);
    const lambda = options.populationSize;
    if (lambda !== undefined && !(Number.isSafeInteger(lambda) && lambda >= 2)) {
      throw new RangeError(`population size must be an integer >= 2 (got ${lambda})`);
    }
    this.sigma0 = sigma0;
    this.populationSize = lambda;
  }

  sample(ctx: SampleContext): SampleResult {
    const genome = genomeOf(ctx.space);
    const replayed = this.memo(ctx, genome).replay(ctx.trials);
    const seen = new Set<string>();
    for (let p = replayed.lastClosedStart; p < ctx.trials.length; p++) {
      const v = ctx.trials[p];
      if (v) seen.add(flatKey(genome, v.flat));
    }
    const rng = createRng(ctx.seed, ctx.trialId, STREAM_CMAES);
    let flat: FlatParams = {};
    for (let k = 0; k < DEDUP_DRAWS; k++) {
      flat = drawCandidate(genome, replayed.state, rng).flat;
      if (!seen.has(flatKey(genome, flat))) break;
    }
    return { kind: "params", flat };
  }

  /** The distribution the next trial is drawn from (for inspection and tests). */
  state(ctx: SampleContext): CmaState {
    return this.memo(ctx, genomeOf(ctx.space)).replay(ctx.trials).state;
  }

  private memo(ctx: SampleContext, genome: Genome): GenerationMemo<CmaState> {
    const key = `${ctx.seed}|${ctx.directions.join(",")}`;
    return this.memos.get(ctx.space, key, () => new GenerationMemo(this.generations(genome, ctx.seed, ctx.directions), KEEP));
  }

  private generations(genome: Genome, seed: number, dirs: readonly Direction[]): Generations<CmaState> {
    const lambda0 = this.populationSize ?? defaultLambda(genome);
    const n = genome.numeric.length;
    const restart = (prev: CmaState, reason: string): CmaState => {
      const run = prev.run + 1;
      const rng = createRng(seed, run, STREAM_CMAES_RESTART);
      const mean = Float64Array.from({ length: n }, () => rng.next());
      return newRun(genome, run, lambda0 * 2 ** Math.min(run, MAX_DOUBLINGS), this.sigma0, mean, reason);
    };
    return {
      initial: () => newRun(genome, 0, lambda0, this.sigma0, new Float64Array(n).fill(0.5), ""),
      blockSize: (s) => s.p.lambda,
      close: (recent, members) => {
        const st = recent[0] as CmaState;
        const evaluated = members.map((v) => evaluate(genome, seed, recent, v, dirs));
        const order = orderByFitness(
          evaluated.map((e) => e.fit),
          dirs.length,
        );
        return update(genome, st, evaluated, order, (reason) => restart(st, reason));
      },
    };
  }
}

/** A member's evaluated point: re-drawn from the distribution it came from, else encoded. */
function evaluate(genome: Genome, seed: number, recent: readonly CmaState[], v: TrialView, dirs: readonly Direction[]): Evaluated {
  const fit = fitnessOf(v, dirs);
  for (let j = 0; j < recent.length; j++) {
    const rng = createRng(seed, v.id, STREAM_CMAES);
    for (let k = 0; k < DEDUP_DRAWS; k++) {
      const c = drawCandidate(genome, recent[j] as CmaState, rng);
      if (sameFlat(genome, c.flat, v.flat)) return { x: c.x, flat: v.flat, fit, own: j === 0 };
    }
  }
  const st = recent[0] as CmaState;
  const x = Float64Array.from(st.mean);
  for (const g of genome.numeric) {
    const value = v.flat[g.dim.name];
    if (typeof value === "number") x[g.coord] = toUnit(value, g.domain);
  }
  return { x, flat: v.flat, fit, own: false };
}
