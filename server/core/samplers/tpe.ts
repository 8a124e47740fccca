/**
 * Tree-structured Parzen Estimator (TPE), in Optuna 3.1's flavour: after a
 * start-up phase, rank the trials, fit one density l(x) to the good ones and
 * one g(x) to the rest, draw candidates from l(x) and keep the one with the
 * largest l(x) / g(x).
 *
 * Two variants: independent (one estimator per dimension, Optuna's default)
 * and multivariate (joint kernels over each group of dimensions that are
 * active together, Optuna's multivariate=True with group=True). Conditional
 * dimensions are native: an estimator only sees the trials where its
 * dimensions were active, and a group is only sampled when its condition
 * holds for the values chosen so far.
 *
 * What goes into which group (splitTrials): COMPLETE trials by value,
 * PRUNED trials after them by (step desc, value), infeasible trials by
 * violation; RUNNING/QUEUED trials as constant liars and FAILED trials in the
 * bad group only. Several objectives: non-dominated sorting with crowding
 * distance for ties.
 *
 * Beyond Optuna: failures also feed a feasibility factor P(no failure | x)
 * (TpeSettings.failureModel), and the start-up points are 6 (not 10)
 * scrambled Sobol points. Candidates are scored with bandwidth-weighted kernels in the
 * independent variant, which is how Optuna 3.1 effectively scores them
 * (TpeSettings.bandwidthWeighted). Defaults and their measurements:
 * tpe/settings.ts and bench/README.md.
 *
 * Bounded cost: the sampler keeps incremental state over the history it saw
 * last (tpe/history.ts), and fits each estimator to at most maxKernels
 * observations, a weight-preserving subsample past that (TpeHistory.gather),
 * so a suggestion's cost does not grow with the study beyond one identity
 * comparison per trial.
 *
 * Pure: the suggestion depends only on (seed, trial id, trials); randomness
 * comes from createRng(seed, trialId, STREAM_TPE) (and STREAM_TPE_CAP for the
 * subsample). The incremental state only saves work.
 */
import { createRng, type Rng } from "../rng.js";
import type { FlatParams, ScalarValue } from "../space.js";
import { QuasiRandomSampler } from "./quasi-random.js";
import { RandomSampler } from "./random.js";
import type { SampleContext, SampleResult, Sampler, TrialView } from "./sampler.js";
import { STREAM_TPE, STREAM_TPE_CAP } from "./streams.js";
import { encode, TpeHistory, type HistorySplit, type IndexSource } from "./tpe/history.js";
import { ParzenEstimator, type CandidateCol, type Observations, type ParzenParams } from "./tpe/parzen.js";
import { DEFAULT_TPE_SETTINGS, type TpeSettings } from "./tpe/settings.js";
import { fromUnitCoord, spaceModel, toUnit, unitCell, type Group, type NumericDim } from "./tpe/space-model.js";

export { DEFAULT_TPE_SETTINGS, defaultGamma, defaultWeights, type TpeSettings } from "./tpe/settings.js";
export { ParzenEstimator, type CandidateCol, type Observations, type ParzenParams } from "./tpe/parzen.js";

export class TpeSampler implements Sampler {
  readonly name: string;
  readonly settings: Readonly<TpeSettings>;
  private readonly startup: Sampler;
  private readonly parzen: ParzenParams;
  /** Incremental state over the last history seen (see tpe/history.ts); only saves work. */
  private history: TpeHistory | undefined;

  /**
   * @param settings overrides of DEFAULT_TPE_SETTINGS (the daemon passes none
   *   but `multivariate`).
   * @param name the algorithm name reported by `name`.
   */
  constructor(settings: Partial<TpeSettings> = {}, name?: string) {
    const s: TpeSettings = { ...DEFAULT_TPE_SETTINGS, ...settings };
    this.settings = Object.freeze(s);
    this.name = name ?? (s.multivariate ? "tpe_multivariate" : "tpe_independent");
    this.startup = s.startup === "random" ? new RandomSampler() : new QuasiRandomSampler({ sequence: "sobol", scrambled: true });
    this.parzen = {
      multivariate: s.multivariate,
      priorWeight: s.priorWeight,
      considerMagicClip: s.considerMagicClip,
      considerEndpoints: s.considerEndpoints,
      weights: s.weights,
      bandwidthWeighted: s.bandwidthWeighted ?? !s.multivariate,
    };
  }

  sample(ctx: SampleContext): SampleResult {
    const s = this.settings;
    const h = this.historyFor(ctx);
    h.update(ctx.trials);
    const split = h.split(ctx.trials, ctx.trialId);
    if (split.informative < s.nStartupTrials) return this.startup.sample(ctx);
    const model = spaceModel(ctx.space);
    const groupOf = s.multivariate ? model.joint : model.independent;
    const rng = createRng(ctx.seed, ctx.trialId, STREAM_TPE);
    const capRng = createRng(ctx.seed, ctx.trialId, STREAM_TPE_CAP);
    const draw = (): number => capRng.next();
    const flat: FlatParams = {};
    const chosen = new Map<Group, ScalarValue[]>();
    for (const dim of ctx.space.dims) {
      if (!ctx.space.isActive(dim, flat)) continue;
      const fixed = model.fixed.get(dim.index);
      if (fixed !== undefined) {
        flat[dim.name] = fixed;
        continue;
      }
      const g = groupOf.get(dim.index);
      if (g === undefined) continue;
      let values = chosen.get(g);
      if (values === undefined) {
        values = this.sampleGroup(g, h, split, rng, draw);
        chosen.set(g, values);
      }
      flat[dim.name] = values[g.dims.findIndex((md) => md.dim.index === dim.index)];
    }
    return { kind: "params", flat };
  }

  /** The incremental history for this context's space and directions (a new one when they change). */
  private historyFor(ctx: SampleContext): TpeHistory {
    const h = this.history;
    if (h !== undefined && h.space === ctx.space && h.directionsKey === ctx.directions.join(",")) return h;
    this.history = new TpeHistory(ctx.space, ctx.directions, this.settings);
    return this.history;
  }

  private fit(g: Group, h: TpeHistory, src: IndexSource, draw: () => number, p: ParzenParams = this.parzen): { est: ParzenEstimator; total: number } {
    const got = h.gather(g, src, p.weights, this.settings.maxKernels, draw);
    return { est: new ParzenEstimator(g.dims, got.obs, p, got.weights), total: got.total };
  }

  /** Values for every dimension of a group: the best of nEiCandidates draws from l(x) by l(x) / g(x). */
  private sampleGroup(g: Group, h: TpeHistory, split: HistorySplit, rng: Rng, draw: () => number): ScalarValue[] {
    const lower = this.fit(g, h, h.belowSource(g, split), draw).est;
    const upper = this.fit(g, h, h.aboveSource(g, split), draw).est;
    const nc = Math.max(1, Math.floor(this.settings.nEiCandidates));
    const { cols, values } = drawCandidates(g, lower, nc, rng);
    const ll = lower.logPdf(cols, nc);
    const lg = upper.logPdf(cols, nc);
    const penalty = this.settings.failureModel ? this.failurePenalty(g, h, split, cols, nc, draw) : undefined;
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < nc; c++) {
      const score = ll[c] - lg[c] + (penalty ? penalty[c] : 0);
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    return g.dims.map((_, j) => values[j][best]);
  }

  /**
   * log P(no failure | x) per candidate from two Parzen estimators, s(x) over
   * the trials that succeeded and f(x) over those that failed (where the
   * group was active): log(n_ok s) - log(n_ok s + n_failed f). Undefined
   * when no failure touches the group.
   */
  private failurePenalty(g: Group, h: TpeHistory, split: HistorySplit, cols: CandidateCol[], nc: number, draw: () => number): Float64Array | undefined {
    if (!split.anyFailed) return undefined;
    const failedSrc = h.failedSource(g, split);
    if (failedSrc.n === 0) return undefined;
    // Neighbour bandwidths (per dimension) even for joint kernels: they adapt
    // to the local density of failures, so a sharp failing edge stays sharp.
    const p = { ...this.parzen, multivariate: false };
    const ok = this.fit(g, h, h.succeededSource(g, split), draw, p);
    const failed = this.fit(g, h, failedSrc, draw, p);
    const ls = ok.est.logPdf(cols, nc);
    const lf = failed.est.logPdf(cols, nc);
    const a = Math.log(Math.max(ok.total, 1));
    const b = Math.log(failed.total);
    const out = new Float64Array(nc);
    for (let c = 0; c < nc; c++) {
      const x = a + ls[c];
      const y = b + lf[c];
      const m = Math.max(x, y);
      out[c] = m === Number.NEGATIVE_INFINITY ? 0 : x - (m + Math.log(Math.exp(x - m) + Math.exp(y - m)));
    }
    return out;
  }
}

/** nc joint draws from the estimator: legal values, and their coordinates for evaluation. */
function drawCandidates(g: Group, est: ParzenEstimator, nc: number, rng: Rng): { cols: CandidateCol[]; values: ScalarValue[][] } {
  const d = g.dims.length;
  const values: ScalarValue[][] = g.dims.map(() => new Array<ScalarValue>(nc));
  const cols: CandidateCol[] = g.dims.map((md): CandidateCol => {
    if (md.kind === "categorical") return { kind: "categorical", index: new Int32Array(nc) };
    if (md.halfStep > 0) return { kind: "discrete", lo: new Float64Array(nc), hi: new Float64Array(nc) };
    return { kind: "continuous", u: new Float64Array(nc) };
  });
  for (let c = 0; c < nc; c++) {
    const kernel = est.sampleKernel(rng);
    for (let j = 0; j < d; j++) {
      const md = g.dims[j];
      const col = cols[j];
      if (md.kind === "categorical") {
        const idx = est.sampleCategorical(j, kernel, rng);
        (col as { index: Int32Array }).index[c] = idx;
        values[j][c] = md.choices[idx];
        continue;
      }
      const v = fromUnitCoord(md, est.sampleNumeric(j, kernel, rng));
      values[j][c] = v;
      setNumericCoord(md, col, c, v);
    }
  }
  return { cols, values };
}

function setNumericCoord(md: NumericDim, col: CandidateCol, c: number, v: number): void {
  if (col.kind === "discrete") {
    const [lo, hi] = unitCell(md, v);
    col.lo[c] = lo;
    col.hi[c] = hi;
  } else if (col.kind === "continuous") col.u[c] = toUnit(md, v);
}
