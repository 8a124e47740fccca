/**
 * Gaussian-process Bayesian optimisation (the "gp" algorithm).
 *
 * Model: a GP with a Matern-5/2 ARD kernel (Hamming factor for categoricals)
 * over the encoded unit box (encoding.ts), outputs standardised (mean 0,
 * sd 1) and oriented for minimisation (maximised objectives are negated),
 * hyperparameters by MAP (fit.ts). Acquisition: log-EI (default) or UCB,
 * times the probability of feasibility of each constraint, maximised by
 * screening + local refinement (optimize-acquisition.ts) and snapped to legal
 * values.
 *
 * Policies (all deterministic functions of the sample context):
 *
 * - Start-up: until `nStartupTrials` trials have finished (COMPLETE, PRUNED
 *   or FAILED) and at least one COMPLETE trial has finite values, suggestions
 *   come from the scrambled Sobol QuasiRandomSampler (point index = trial id),
 *   so parallel workers at the start get distinct, evenly spread points. A
 *   study whose trials all fail therefore stays quasi-random.
 * - Failed trials carry information: a FAILED trial (or a COMPLETE one with a
 *   missing or non-finite value) is observed at the worst complete value plus
 *   `failedMargin` times the range of complete values, so the GP's mean is
 *   poor around it and EI steers away. A PRUNED trial with a forecast final value
 *   (TrialView.forecast: the curve pruner's prediction when it pruned it) is
 *   observed at that forecast, never better than the best complete value;
 *   else, with a finite last intermediate value, at that value, but never
 *   better than the median complete value (it was stopped for looking bad);
 *   without either it counts as failed.
 * - Parallel workers: RUNNING and QUEUED trials (the `maxPending` most recent)
 *   are added as kriging-believer fantasies, observed at the posterior mean,
 *   which shrinks the variance around them so the next suggestion goes
 *   elsewhere; a believed value below the incumbent (and, with constraints,
 *   believed feasible) becomes the incumbent. Fantasies are conditioned on
 *   with the minimum noise (not the fitted one), so the variance really
 *   collapses at them; intermediate values of running trials are not used. A suggestion equal to an existing trial is skipped for the
 *   next best distinct point.
 * - Multi-objective: ParEGO-style random scalarisation, one weight vector per
 *   trial (Dirichlet(1), keyed by seed and trial id): each objective is
 *   min-max normalised over complete trials and combined by the augmented
 *   Chebyshev function max_i w_i f_i + 0.05 sum_i w_i f_i; the GP models that
 *   scalar. Hyperparameters are fitted on the equal-weight scalarisation so
 *   the fit does not change with every trial's weights.
 * - Constraints (trial values feasible when every constraint <= 0): one GP
 *   per constraint over the COMPLETE trials that report it; the acquisition
 *   adds log P(feasible); the incumbent for EI is the best feasible trial,
 *   and with none feasible the acquisition is P(feasible) alone.
 * - Bounded cost: the posterior uses at most `maxObservations` finished
 *   trials, the `keepBest` best plus a spread subset of the rest (greedy
 *   farthest-point in the encoded space). Hyperparameters are refitted on the
 *   first R(m) finished trials (in id order) of the m finished, with
 *   R(m) = m up to 64, then m rounded down to a multiple of 8 (64..127),
 *   16 (128..255), 32, 64, ... (a refit every ~m/8 trials), on at most
 *   `maxFitObservations` of them (same best + spread rule). Fits are memoised
 *   by their exact input data (a pure memo: same data, same result), so
 *   between refit points a suggestion costs one posterior and one
 *   acquisition optimisation.
 * - Dimensions that cannot vary (zero-width, single choice) are not
 *   modelled; conditional dimensions use the fixed inactive defaults
 *   documented in encoding.ts.
 */
import type { Direction } from "../../model.js";
import { createRng, mixKeys, type Rng } from "../../rng.js";
import { CompiledSpace } from "../../space.js";
import { QuasiRandomSampler } from "../quasi-random.js";
import type { SampleContext, SampleResult, Sampler, TrialView } from "../sampler.js";
import type { AcquisitionKind, ConstraintModel } from "./acquisition.js";
import { SpaceEncoding } from "./encoding.js";
import { fitKernel, type FitResult } from "./fit.js";
import type { FeatureShape } from "./kernel.js";
import { DEFAULT_ACQ_OPTIMIZER, optimizeAcquisition } from "./optimize-acquisition.js";
import { GpPosterior } from "./posterior.js";

/** Stream keys (see ../streams.ts), distinct from every other sampler's. */
export const STREAM_GP_CANDIDATES = 0x47_50_41_43; // "GPAC"
export const STREAM_GP_SOBOL = 0x47_50_53_42; // "GPSB"
export const STREAM_GP_FIT = 0x47_50_46_54; // "GPFT"
export const STREAM_GP_PAREGO = 0x47_50_4d_4f; // "GPMO"

export interface GpSamplerOptions {
  /** Finished trials before the GP takes over from quasi-random sampling. Default 10. */
  nStartupTrials: number;
  /** "logei" (default) or "ucb". */
  acquisition: AcquisitionKind;
  /** UCB exploration weight beta (mean - sqrt(beta) sd). Default 4. */
  ucbBeta: number;
  /** Acquisition screening points. Default 2048. */
  candidates: number;
  /** Screened points refined by L-BFGS. Default 10. */
  localStarts: number;
  /** L-BFGS iterations per refinement pass. Default 25. */
  localIterations: number;
  /** L-BFGS runs per hyperparameter fit. Default 3. */
  fitRestarts: number;
  /** Random hyperparameter starts screened per fit. Default 12. */
  fitScreen: number;
  /** L-BFGS iterations per fit run. Default 60. */
  fitMaxIterations: number;
  /** Most finished trials in the posterior. Default 300. */
  maxObservations: number;
  /** Of those, the best kept unconditionally. Default 200. */
  keepBest: number;
  /** Most trials a hyperparameter fit sees. Default 128. */
  maxFitObservations: number;
  /** Most RUNNING / QUEUED trials used as fantasies. Default 64. */
  maxPending: number;
  /** Failed trials are observed at worst + failedMargin * range. Default 0.5. */
  failedMargin: number;
  /** Hyperparameter fits memoised (per sampler instance). Default 16. */
  memoSize: number;
}

export const DEFAULT_GP_OPTIONS: Readonly<GpSamplerOptions> = {
  nStartupTrials: 10,
  acquisition: "logei",
  ucbBeta: 4,
  candidates: DEFAULT_ACQ_OPTIMIZER.candidates,
  localStarts: DEFAULT_ACQ_OPTIMIZER.localStarts,
  localIterations: DEFAULT_ACQ_OPTIMIZER.localIterations,
  fitRestarts: 3,
  fitScreen: 12,
  fitMaxIterations: 60,
  maxObservations: 300,
  keepBest: 200,
  maxFitObservations: 128,
  maxPending: 64,
  failedMargin: 0.5,
  memoSize: 16,
};

/** One finished trial as the GP sees it. */
interface Observation {
  id: number;
  x: Float64Array;
  /** Oriented (minimise) scalar objective, raw units. */
  y: number;
  /** A COMPLETE trial with finite values (eligible as incumbent). */
  complete: boolean;
  /** Constraint values (COMPLETE trials that report them). */
  constraints: readonly number[] | undefined;
}

/** A finished trial's values before imputation. */
interface Finished {
  trial: TrialView;
  x: Float64Array;
  /** Oriented objective values when COMPLETE and all finite. */
  values: number[] | undefined;
  /** Oriented last intermediate value of a PRUNED trial of a single-objective study, when finite. */
  intermediate: number | undefined;
  /** Oriented forecast final value of a PRUNED trial of a single-objective study (TrialView.forecast), when finite. */
  forecast: number | undefined;
}

const isFinishedState = (t: TrialView): boolean => t.state === "COMPLETE" || t.state === "FAILED" || t.state === "PRUNED";

/** Number of leading finished trials the hyperparameters are fitted on. */
export function refitPoint(m: number): number {
  if (m <= 64) return m;
  const step = 2 ** (Math.floor(Math.log2(m)) - 3);
  return Math.floor(m / step) * step;
}

export class GpSampler implements Sampler {
  readonly name = "gp";
  readonly options: Readonly<GpSamplerOptions>;
  private readonly startup = new QuasiRandomSampler({ sequence: "sobol", scrambled: true });
  private readonly memo = new Map<string, FitResult>();
  private encodingCache: { space: CompiledSpace; enc: SpaceEncoding } | undefined;

  constructor(options: Partial<GpSamplerOptions> = {}) {
    this.options = { ...DEFAULT_GP_OPTIONS, ...options };
  }

  sample(ctx: SampleContext): SampleResult {
    const enc = this.encoding(ctx.space);
    const directions: readonly Direction[] = ctx.directions.length > 0 ? ctx.directions : ["minimize"];
    const finished: Finished[] = [];
    const pending: TrialView[] = [];
    let nComplete = 0;
    for (const t of ctx.trials) {
      if (t.id === ctx.trialId) continue;
      if (isFinishedState(t)) {
        const values = orientedValues(t, directions);
        if (values) nComplete++;
        const oriented = (v: number | undefined): number | undefined =>
          t.state === "PRUNED" && directions.length === 1 && v !== undefined && Number.isFinite(v)
            ? directions[0] === "maximize"
              ? -v
              : v
            : undefined;
        const intermediate = oriented(t.lastIntermediate?.value);
        const forecast = oriented(t.forecast);
        finished.push({ trial: t, x: enc.encode(t.flat), values, intermediate, forecast });
      } else pending.push(t);
    }
    if (enc.dims === 0 || nComplete === 0 || finished.length < this.options.nStartupTrials) {
      return this.startup.sample(ctx);
    }
    const result = this.suggest(ctx, enc, directions, finished, pending);
    return result ?? this.startup.sample(ctx);
  }

  private encoding(space: CompiledSpace): SpaceEncoding {
    if (this.encodingCache?.space !== space) this.encodingCache = { space, enc: new SpaceEncoding(space) };
    return this.encodingCache.enc;
  }

  private suggest(
    ctx: SampleContext,
    enc: SpaceEncoding,
    directions: readonly Direction[],
    finished: Finished[],
    pending: TrialView[],
  ): SampleResult | undefined {
    const o = this.options;
    const shape = enc.shape;
    const weights = directions.length > 1 ? paregoWeights(createRng(ctx.seed, ctx.trialId, STREAM_GP_PAREGO), directions.length) : [1];

    // Posterior data: every finished trial, then the best + spread subset.
    const all = observe(finished, weights, o.failedMargin);
    const data = selectSubset(all, o.maxObservations, Math.min(o.keepBest, o.maxObservations), shape);

    // Hyperparameters: fitted on a prefix of the finished trials, memoised.
    const prefix = finished.slice(0, refitPoint(finished.length));
    const equal = weights.map(() => 1 / weights.length);
    const fitData = selectSubset(
      observe(prefix, equal, o.failedMargin),
      o.maxFitObservations,
      Math.floor(o.maxFitObservations / 2),
      shape,
    );
    const objParams = this.fit(ctx.seed, -1, fitData.map((ob) => ob.x), fitData.map((ob) => ob.y), shape);

    const { z: yStd } = standardise(data.map((ob) => ob.y));
    const xs = data.map((ob) => ob.x);
    let gp = new GpPosterior(stack(xs, shape.dims), yStd, shape, objParams.params);

    // Constraints: one GP each over complete trials that report the constraint.
    const nConstraints = data.reduce((m, ob) => Math.max(m, ob.complete ? (ob.constraints?.length ?? 0) : 0), 0);
    const constraintModels: ConstraintModel[] = [];
    for (let c = 0; c < nConstraints; c++) {
      const has = (ob: Observation): boolean => ob.complete && ob.constraints !== undefined && Number.isFinite(ob.constraints[c]);
      const cData = data.filter(has);
      if (cData.length === 0) continue;
      const cFit = fitData.filter(has);
      const fitSet = cFit.length > 0 ? cFit : cData.slice(0, o.maxFitObservations);
      const cParams = this.fit(ctx.seed, c, fitSet.map((ob) => ob.x), fitSet.map((ob) => (ob.constraints as readonly number[])[c]), shape);
      const { z, mean, sd } = standardise(cData.map((ob) => (ob.constraints as readonly number[])[c]));
      constraintModels.push({
        gp: new GpPosterior(stack(cData.map((ob) => ob.x), shape.dims), z, shape, cParams.params),
        threshold: (0 - mean) / sd,
      });
    }

    // Incumbent: best feasible complete observation (standardised).
    let best: number | undefined;
    const ranked: number[] = [];
    data.forEach((ob, i) => {
      if (!ob.complete) return;
      if (nConstraints > 0 && !feasible(ob, nConstraints)) return;
      ranked.push(i);
      if (best === undefined || yStd[i] < best) best = yStd[i];
    });
    if (ranked.length === 0) data.forEach((ob, i) => ob.complete && ranked.push(i));
    ranked.sort((a, b) => yStd[a] - yStd[b] || data[a].id - data[b].id);
    const anchors = ranked.slice(0, 5).map((i) => data[i].x);

    // Kriging believer: pending trials observed at the current posterior mean.
    const fantasies = pending.slice(Math.max(0, pending.length - o.maxPending));
    if (fantasies.length > 0) {
      const px = fantasies.map((t) => enc.encode(t.flat));
      const py = px.map((x) => gp.mean(x));
      // The believed values count as observations: one below the incumbent
      // becomes the incumbent, or EI would still favour the pending point.
      px.forEach((x, k) => {
        if (best === undefined && nConstraints > 0) return;
        if (constraintModels.some((c) => c.gp.mean(x) > c.threshold)) return;
        best = best === undefined ? py[k] : Math.min(best, py[k]);
      });
      const y2 = new Float64Array(yStd.length + py.length);
      y2.set(yStd);
      y2.set(py, yStd.length);
      gp = new GpPosterior(stack([...xs, ...px], shape.dims), y2, shape, objParams.params, yStd.length);
    }

    const rng: Rng = createRng(ctx.seed, ctx.trialId, STREAM_GP_CANDIDATES);
    const ranking = optimizeAcquisition(
      enc,
      { kind: o.acquisition, objective: gp, best, beta: o.ucbBeta, constraints: constraintModels },
      rng,
      mixKeys(ctx.seed, ctx.trialId, STREAM_GP_SOBOL),
      anchors,
      { candidates: o.candidates, localStarts: o.localStarts, localIterations: o.localIterations },
    );
    const existing = new Set(ctx.trials.map((t) => CompiledSpace.key(t.flat)));
    for (const p of ranking) {
      if (!existing.has(p.key) && Number.isFinite(p.value)) return { kind: "params", flat: p.flat };
    }
    return undefined;
  }

  /** MAP hyperparameters, memoised by the exact data (a pure memo). */
  private fit(seed: number, which: number, xs: Float64Array[], ys: number[], shape: FeatureShape): FitResult {
    const { z } = standardise(ys);
    const x = stack(xs, shape.dims);
    const key = `${seed}|${which}|${shape.dims}|${Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("base64")}|${Buffer.from(z.buffer, z.byteOffset, z.byteLength).toString("base64")}`;
    const hit = this.memo.get(key);
    if (hit) {
      // Refresh recency.
      this.memo.delete(key);
      this.memo.set(key, hit);
      return hit;
    }
    const o = this.options;
    const res = fitKernel(x, z, shape, createRng(seed, which, ys.length, STREAM_GP_FIT), {
      restarts: o.fitRestarts,
      screen: o.fitScreen,
      maxIterations: o.fitMaxIterations,
    });
    this.memo.set(key, res);
    while (this.memo.size > Math.max(0, o.memoSize)) this.memo.delete(this.memo.keys().next().value as string);
    return res;
  }
}

/** Objective values of a COMPLETE trial, oriented for minimisation; undefined when not usable. */
function orientedValues(t: TrialView, directions: readonly Direction[]): number[] | undefined {
  if (t.state !== "COMPLETE" || t.values === undefined || t.values.length < directions.length) return undefined;
  const out: number[] = [];
  for (let i = 0; i < directions.length; i++) {
    const v = t.values[i];
    if (!Number.isFinite(v)) return undefined;
    out.push(directions[i] === "maximize" ? -v : v);
  }
  return out;
}

/** Random weights on the simplex (Dirichlet(1)). */
export function paregoWeights(rng: Rng, m: number): number[] {
  const e = Array.from({ length: m }, () => -Math.log(1 - rng.next()));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => (s > 0 ? v / s : 1 / m));
}

/**
 * Observations of finished trials: scalarised objective for complete ones,
 * the imputed values for failed and pruned ones (see the policies above).
 */
function observe(finished: readonly Finished[], weights: readonly number[], failedMargin: number): Observation[] {
  const m = weights.length;
  const complete = finished.filter((f) => f.values !== undefined);
  // Scalarise (identity for one objective).
  let scal: (v: readonly number[]) => number = (v) => v[0];
  if (m > 1) {
    const lo = new Array<number>(m).fill(Infinity);
    const hi = new Array<number>(m).fill(-Infinity);
    for (const f of complete) {
      for (let i = 0; i < m; i++) {
        const v = (f.values as number[])[i];
        lo[i] = Math.min(lo[i], v);
        hi[i] = Math.max(hi[i], v);
      }
    }
    scal = (v) => {
      let mx = -Infinity;
      let sum = 0;
      for (let i = 0; i < m; i++) {
        const range = hi[i] - lo[i];
        const t = (weights[i] * (v[i] - lo[i])) / (range > 0 ? range : 1);
        mx = Math.max(mx, t);
        sum += t;
      }
      return mx + 0.05 * sum;
    };
  }
  const ys = complete.map((f) => scal(f.values as number[]));
  let worst = -Infinity;
  let bestY = Infinity;
  for (const y of ys) {
    worst = Math.max(worst, y);
    bestY = Math.min(bestY, y);
  }
  const range = worst - bestY;
  const gap = range > 0 ? failedMargin * range : Math.max(1, Math.abs(worst) * 0.1);
  const failedY = worst + gap;
  const sorted = [...ys].sort((a, b) => a - b);
  const median = sorted.length > 0 ? sorted[Math.floor((sorted.length - 1) / 2)] : failedY;

  return finished.map((f) => {
    const t = f.trial;
    if (f.values !== undefined) {
      return { id: t.id, x: f.x, y: scal(f.values), complete: true, constraints: t.constraints };
    }
    // A pruned trial: the pruner's forecast of its final value when there
    // is one (no better than the best, no worse than a failure); else its
    // last value, no better than the median, no worse than a failure.
    const y =
      f.forecast !== undefined
        ? Math.min(Math.max(f.forecast, bestY), failedY)
        : f.intermediate !== undefined
          ? Math.min(Math.max(f.intermediate, median), failedY)
          : failedY;
    return { id: t.id, x: f.x, y, complete: false, constraints: undefined };
  });
}

function feasible(ob: Observation, n: number): boolean {
  if (ob.constraints === undefined) return false;
  for (let c = 0; c < n; c++) if (!(ob.constraints[c] <= 0)) return false;
  return true;
}

/** Standardise to mean 0, sd 1 (sd taken as 1 when the values are constant). */
export function standardise(ys: readonly number[]): { z: Float64Array; mean: number; sd: number } {
  const n = ys.length;
  let mean = 0;
  for (const y of ys) mean += y;
  mean = n > 0 ? mean / n : 0;
  let v = 0;
  for (const y of ys) v += (y - mean) * (y - mean);
  let sd = n > 1 ? Math.sqrt(v / n) : 0;
  if (!(sd > 1e-12 * Math.max(1, Math.abs(mean)))) sd = 1;
  return { z: Float64Array.from(ys, (y) => (y - mean) / sd), mean, sd };
}

function stack(xs: readonly Float64Array[], d: number): Float64Array {
  const out = new Float64Array(xs.length * d);
  xs.forEach((x, i) => out.set(x, i * d));
  return out;
}

/**
 * At most `cap` observations: the `keepBest` lowest, then greedily the one
 * farthest (unit-lengthscale distance) from those already chosen. Returned
 * in id order; the input order when nothing is dropped.
 */
function selectSubset(obs: Observation[], cap: number, keepBest: number, shape: FeatureShape): Observation[] {
  if (obs.length <= cap) return obs;
  const sorted = [...obs].sort((a, b) => a.y - b.y || a.id - b.id);
  const chosen = sorted.slice(0, keepBest);
  const rest = sorted.slice(keepBest);
  const minDist = new Float64Array(rest.length).fill(Infinity);
  const taken = new Uint8Array(rest.length);
  const dist = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let j = 0; j < shape.dims; j++) {
      if (shape.isCat[j] === 1) s += a[j] === b[j] ? 0 : 1;
      else s += (a[j] - b[j]) * (a[j] - b[j]);
    }
    return s;
  };
  for (const c of chosen) for (let i = 0; i < rest.length; i++) minDist[i] = Math.min(minDist[i], dist(rest[i].x, c.x));
  while (chosen.length < cap) {
    let pick = -1;
    for (let i = 0; i < rest.length; i++) {
      if (taken[i] === 1) continue;
      if (pick < 0 || minDist[i] > minDist[pick] || (minDist[i] === minDist[pick] && rest[i].id < rest[pick].id)) pick = i;
    }
    if (pick < 0) break;
    taken[pick] = 1;
    const p = rest[pick];
    chosen.push(p);
    for (let i = 0; i < rest.length; i++) if (taken[i] === 0) minDist[i] = Math.min(minDist[i], dist(rest[i].x, p.x));
  }
  return chosen.sort((a, b) => a.id - b.id);
}
