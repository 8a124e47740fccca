/**
 * The learning-curve pruner (hpod's default). It prunes a trial only when its
 * own curve says, with confidence, that its value at the horizon will be
 * worse than the best final value of the COMPLETE trials; so a slow starter
 * whose curve is still falling steeply keeps running even while it is behind
 * every other trial at the same step (crossing curves), which is where the
 * median rule goes wrong.
 *
 * On each intermediate report of a RUNNING trial (first objective, in its
 * direction; internally everything is a loss, sign-flipped when maximising):
 *
 * 1. a NaN or infinite value prunes at once ("diverged");
 * 2. nothing else happens before `startupTrials` trials are COMPLETE (with a
 *    feasible final value), before `warmupSteps`, or off the `intervalSteps`
 *    grid;
 * 3. a value far worse than any value a COMPLETE trial ever reported (beyond
 *    that worst value by more than its gap to the best final value, on the
 *    last two reports) prunes ("far worse");
 * 4. with at least 8 reports and the last step at or past `minResource`
 *    (default 5 % of the horizon), the curve is extrapolated to the horizon
 *    (`maxResource`, else the longest step any trial of the study reached)
 *    by `forecast` (curve-fit.ts: exp, pow, logpow and weibull families,
 *    profile-likelihood bounds, union over the families the data does not
 *    reject), with the noise variance floored at the study's typical one
 *    (pooled from the best completed curves). It is pruned when the
 *    optimistic bound at level `confidence` (the lower bound when minimising)
 *    is still worse than the best final value, and the guards below agree:
 *    - skip: a trial at or better than the best and not worsening is not
 *      forecast at all; nor is one still speeding up (the rising flank of a
 *      sigmoid, a drop after a plateau), whose end no family can place;
 *    - calibration: the same forecast made for the best completed trials at
 *      this step missed the levels they really reached (a line through their
 *      last reports, at the last one: not one noisy final value, as the
 *      forecast is of the mean curve) by at most some margin; the bound must clear the best
 *      by that margin (the study's curves do things the families cannot
 *      foresee: the forecasts on finished curves show it);
 *    - state guard: for a curve that is not clearly improving (a plateau, a
 *      flat start), the completed trials that were no steeper at this step
 *      must not have improved from there by enough to reach the best.
 *
 * A forecast prune returns the point forecast (objective units) with the
 * decision; the runtime stores it on the trial for the samplers.
 *
 * Reasons name the prediction, its interval in the objective's units, the
 * horizon, the best and the family that fitted best, e.g.
 * "curve: predicted final 0.412 [0.398, 0.43] at step 100 is worse than best
 * 0.31 (exp fit to 24 points up to step 24)".
 */
import type { Direction, Trial } from "../model.js";
import type { PruneDecider, StudyRuntime } from "../study-runtime.js";
import { CompletedIndex, CONTINUE, directionOf, fmt, isFirstInIntervalStep, lastStep, prune, series, type PruneResult } from "./common.js";
import { DEFAULT_FAMILIES, forecast, type CurveForecast, type Family } from "./curve-fit.js";

export interface CurveOptions {
  startupTrials: number;
  warmupSteps: number;
  intervalSteps: number;
  /** Earliest step for a forecast; 0: 5 % of the horizon. */
  minResource: number;
  /** Horizon; 0: the longest step any trial of the study reached. */
  maxResource: number;
  /** One-sided level of the forecast interval, in (0, 1). */
  confidence: number;
}

/** Knobs that are not part of the API (tests and the benchmark tune them). */
export interface CurveTuning {
  /** Reports before the first forecast (every family then has 2 residual degrees of freedom or more). */
  minPoints: number;
  /** Fraction of the horizon before the first forecast (when minResource is 0). */
  minFraction: number;
  /** Fit at most this many points (later reports are averaged in bins). */
  maxPoints: number;
  /** Bound a new observation at the horizon (true) or the mean curve (false). */
  predictive: boolean;
  /** A family is plausible within this many noise variances of the best RSS (or AICc units). */
  maxDelta: number;
  /** How families are judged plausible (see curve-fit.ts). */
  plausibility: "rss" | "aicc";
  /** Widen the bound by the largest miss of the forecasts on the best COMPLETE trials. */
  calibrate: boolean;
  /**
   * A COMPLETE trial's level (what the best and the calibration targets
   * are): "fit", its whole curve's best fit at its last report; "line", a
   * straight line through its last reports (stateWindow) at the last one;
   * "off", its observed final value.
   */
  denoise: "fit" | "line" | "off";
  /** The best is the best level (true) or the best observed final value (false). */
  denoiseBest: boolean;
  /**
   * How the families' forecasts combine: "union", the most optimistic bound
   * of the plausible families; "mixture", the probability of ending below
   * the best averaged over them (weights by likelihood).
   */
  combine: "union" | "mixture";
  /** Floor each curve's noise variance at this fraction of the study's typical one (from the reference trials; 0: off). */
  pooledNoise: number;
  /** Also require the comparable-state empirical bound to exceed the best. */
  stateGuard: boolean;
  /** Points of the line that gives a curve's level and slope: fraction of the reports, within [min, max]. */
  stateWindow: { min: number; fraction: number; max: number };
  /** Significance (standard errors) of the acceleration test; 0: off. */
  accelerationZ: number;
  /** Width (standard errors) of the slope comparison of the state guard. */
  stateZ: number;
  /** How many of the best COMPLETE trials calibrate. */
  references: number;
  families: readonly Family[];
}

export const CURVE_DEFAULTS = {
  startupTrials: 5,
  confidence: 0.95,
} as const;

export const DEFAULT_TUNING: CurveTuning = {
  minPoints: 8,
  minFraction: 0.05,
  maxPoints: 64,
  predictive: false,
  maxDelta: 6,
  plausibility: "rss",
  calibrate: true,
  denoise: "line",
  denoiseBest: false,
  combine: "union",
  references: 8,
  stateGuard: true,
  stateZ: 2,
  stateWindow: { min: 4, fraction: 0.25, max: 16 },
  accelerationZ: 2,
  pooledNoise: 1,
  families: DEFAULT_FAMILIES,
};

export class CurvePruner implements PruneDecider {
  private readonly completed = new CompletedIndex();
  private completedSeen = -1;
  /** Best feasible final value among COMPLETE trials, as a loss (sign applied). */
  private bestLoss: number | undefined;
  /** Worst intermediate value any COMPLETE trial reported, as a loss. */
  private worstLoss: number | undefined;
  /** The best COMPLETE trials (losses), for calibration. */
  private references: Array<{ trial: Trial; loss: number }> = [];
  private readonly calibrationMemo = new Map<string, number>();
  /** Fit of each reference trial's whole curve: residual variance per report, and its fitted final value (loss). */
  private readonly wholeMemo = new Map<number, { noise: number; final: number }>();
  /** Level of each COMPLETE trial (loss; NaN: use the observed final value). */
  private readonly levelMemo = new Map<number, number>();
  private readonly stateMemo = new Map<string, LocalState | null>();
  private lastNoiseFloor = 0;
  private longest = -1;
  private trialsSeen = -1;
  readonly tuning: CurveTuning;

  constructor(
    readonly options: CurveOptions,
    tuning: Partial<CurveTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_TUNING, ...tuning };
  }

  decide(trial: Trial, runtime: StudyRuntime): PruneResult {
    const o = this.options;
    const dir: Direction = directionOf(runtime);
    const sign = dir === "minimize" ? 1 : -1;
    const step = lastStep(trial);
    if (step === undefined) return CONTINUE;
    const { steps, values } = series(trial);
    const latest = values[values.length - 1] as number;
    if (!Number.isFinite(latest)) return prune(`curve: value ${latest} at step ${step} (diverged)`);
    this.refresh(runtime, sign);
    if (step > this.longest) this.longest = step;
    const best = this.bestLoss;
    if (best === undefined || this.completed.count < Math.max(1, o.startupTrials)) return CONTINUE;
    if (step < o.warmupSteps || !isFirstInIntervalStep(step, trial, o.warmupSteps, o.intervalSteps)) return CONTINUE;

    const far = this.farWorse(steps, values, sign, best);
    if (far) return prune(far);

    const horizon = o.maxResource > 0 ? o.maxResource : this.longest;
    const t = this.tuning;
    const minStep = o.minResource > 0 ? o.minResource : t.minFraction * horizon;
    if (values.length < t.minPoints || step < minStep) return CONTINUE;
    if (step >= horizon && o.maxResource === 0) return CONTINUE;
    const { xs, ys, size } = binned(steps, values, sign, t.maxPoints);
    // Already at or better than the best and not getting worse: a forecast
    // cannot put it confidently behind.
    if (recentLevel(ys) <= best && recentSlope(xs, ys) <= 0) return CONTINUE;
    // Still speeding up (before the bend of a sigmoid): no family here can
    // say where it levels off.
    if (t.accelerationZ > 0 && accelerating(xs, ys, t.accelerationZ)) return CONTINUE;
    this.lastNoiseFloor = this.noiseFloor(Math.max(horizon, step), sign);
    const h = Math.max(horizon, step);
    const mixture = t.combine === "mixture";
    const alpha = 1 - o.confidence;
    const f = this.forecastOf(xs, ys, h, this.lastNoiseFloor / size, undefined, mixture ? best : undefined);
    if (!f || !(mixture ? (f.below ?? 1) < alpha : f.lower > best)) return CONTINUE;
    const margin = t.calibrate ? this.calibration(step, h, sign) : 0;
    if (mixture) {
      if (margin > 0 && !((this.forecastOf(xs, ys, h, this.lastNoiseFloor / size, undefined, best + margin)?.below ?? 1) < alpha)) return CONTINUE;
    } else if (!(f.lower - margin > best)) return CONTINUE;
    if (t.stateGuard) {
      const e = this.empiricalBound(steps, values, sign);
      if (e !== undefined && !(e.level - e.improvement > best)) return CONTINUE;
    }
    return prune(reasonOf(f, sign, best, step, margin), sign * f.prediction);
  }

  private forecastOf(
    xs: readonly number[],
    ys: readonly number[],
    horizon: number,
    noiseFloor: number,
    confidence = this.options.confidence,
    at?: number,
  ): CurveForecast | undefined {
    const t = this.tuning;
    if (xs.length < t.minPoints) return undefined;
    return forecast(xs, ys, horizon, {
      confidence,
      noiseFloor,
      predictive: t.predictive,
      maxDelta: t.maxDelta,
      plausibility: t.plausibility,
      families: t.families,
      ...(at !== undefined ? { at } : {}),
    });
  }

  /** Re-reads the COMPLETE trials and the longest step when the study changed. */
  private refresh(runtime: StudyRuntime, sign: number): void {
    this.completed.refresh(runtime);
    if (this.completed.count !== this.completedSeen || runtime.trials.length !== this.trialsSeen) {
      this.completedSeen = this.completed.count;
      this.trialsSeen = runtime.trials.length;
      const finals: Array<{ trial: Trial; loss: number }> = [];
      const horizon = Math.max(this.longest, this.options.maxResource);
      for (const c of this.completed.trials) {
        const v = c.final?.values[0];
        if (v === undefined || !Number.isFinite(v) || !(c.final?.constraintValues ?? []).every((x) => x <= 0)) continue;
        finals.push({ trial: c, loss: this.tuning.denoiseBest ? this.levelOf(c, sign * v, horizon, sign) : sign * v });
      }
      finals.sort((a, b) => a.loss - b.loss);
      let worst: number | undefined;
      for (const c of this.completed.trials) {
        for (const m of c.intermediate) {
          const v = sign * (m.values[0] ?? Number.NaN);
          if (Number.isFinite(v) && (worst === undefined || v > worst)) worst = v;
        }
      }
      this.worstLoss = worst;
      this.bestLoss = finals[0]?.loss;
      this.references = finals.slice(0, this.tuning.references);
      for (const x of runtime.trials) {
        const s = x ? lastStep(x) : undefined;
        if (s !== undefined && s > this.longest) this.longest = s;
      }
    }
  }

  /**
   * Rule 3: the last two values are each beyond the worst value any COMPLETE
   * trial ever reported (at any step) by more than the distance from that
   * worst value to the best final value: a divergence, not a slow start.
   */
  private farWorse(steps: readonly number[], values: readonly number[], sign: number, best: number): string | undefined {
    const n = values.length;
    if (n < 2 || this.worstLoss === undefined) return undefined;
    const limit = this.worstLoss + Math.max(0, this.worstLoss - best);
    for (let i = n - 2; i < n; i++) if (!(sign * (values[i] as number) > limit)) return undefined;
    return (
      `curve: value ${fmt(values[n - 1] as number)} at step ${steps[n - 1]} is far worse than any value the ${this.completed.count} ` +
      `completed trials reported (worst ${fmt(sign * this.worstLoss)})`
    );
  }

  /**
   * A COMPLETE trial's level, as a loss: its final value with the noise of
   * one report removed (`denoise`), so that the calibration holds forecasts
   * (of the mean curve) against what the curves really reached (and, with
   * `denoiseBest`, the best is not a lucky draw). `observed` (its final
   * value as a loss) when the curve has fewer than `minPoints` reports,
   * stops short of the horizon (its last report is not where it ended) or
   * cannot be fitted. Memoised: COMPLETE trials do not change.
   */
  private levelOf(trial: Trial, observed: number, horizon: number, sign: number): number {
    const mode = this.tuning.denoise;
    if (mode === "off" || trial.intermediate.length < this.tuning.minPoints || (lastStep(trial) ?? -1) < horizon) return observed;
    let v = this.levelMemo.get(trial.id);
    if (v === undefined) {
      if (mode === "fit") v = this.wholeCurve(trial, Math.max(horizon, lastStep(trial) ?? 0), sign).final;
      else {
        const { steps, values } = series(trial);
        const ys = values.map((x) => sign * x);
        v = ys.every(Number.isFinite) ? (localState(steps, ys, 0, this.tuning.stateWindow)?.level ?? Number.NaN) : Number.NaN;
      }
      this.levelMemo.set(trial.id, v);
    }
    return Number.isFinite(v) ? v : observed;
  }

  /**
   * The study's typical noise variance of one report: the median, over the
   * reference trials, of the residual variance of the best fit to their
   * whole curve (0 when off or not known yet).
   */
  private noiseFloor(horizon: number, sign: number): number {
    if (!(this.tuning.pooledNoise > 0)) return 0;
    const vs: number[] = [];
    for (const { trial } of this.references) {
      const v = this.wholeCurve(trial, horizon, sign).noise;
      if (Number.isFinite(v)) vs.push(v);
    }
    if (vs.length === 0) return 0;
    vs.sort((a, b) => a - b);
    const m = vs.length >> 1;
    const median = vs.length % 2 ? (vs[m] as number) : ((vs[m - 1] as number) + (vs[m] as number)) / 2;
    return this.tuning.pooledNoise * median;
  }

  /**
   * The best fit to a COMPLETE trial's whole curve (memoised): the residual
   * variance of one report (NaN when unknown) and the fitted value at its
   * last report (its final value with the noise removed; NaN when unknown).
   */
  private wholeCurve(trial: Trial, horizon: number, sign: number): { noise: number; final: number } {
    let w = this.wholeMemo.get(trial.id);
    if (w === undefined) {
      const { steps, values } = series(trial);
      const { xs, ys, size } = binned(steps, values, sign, this.tuning.maxPoints);
      const f = ys.every(Number.isFinite) ? this.forecastOf(xs, ys, horizon, 0, 0.5) : undefined;
      const fam = f?.best;
      w = {
        noise: fam && fam.n - 4 > 0 ? (fam.rss / (fam.n - 4)) * size : Number.NaN,
        final: fam ? fam.fittedLast : Number.NaN,
      };
      this.wholeMemo.set(trial.id, w);
    }
    return w;
  }

  /**
   * The comparable-state guard. Among the COMPLETE trials whose curve at
   * this step was improving no faster than this one's (slope at least this
   * one's minus `stateZ` standard errors), the largest improvement from this
   * step to their final value; the bound is this trial's level minus that
   * improvement. Undefined when no completed trial is comparable. It keeps a
   * trial running while the completed trials show that curves in its state
   * (a plateau, the flat start of a sigmoid) went on to improve by enough.
   */
  private empiricalBound(
    steps: readonly number[],
    values: readonly number[],
    sign: number,
  ): { level: number; improvement: number } | undefined {
    const step = steps[steps.length - 1] as number;
    const floor = this.lastNoiseFloor;
    const win = this.tuning.stateWindow;
    const own = localState(
      steps,
      values.map((v) => sign * v),
      floor,
      win,
    );
    if (!own) return undefined;
    // Only for a curve that is not clearly improving: a falling curve's own
    // shape says more about its future than other trials do.
    if (own.slope < -this.tuning.stateZ * own.slopeSe) return undefined;
    let most: number | undefined;
    for (const c of this.completed.trials) {
      const fin = c.final?.values[0];
      if (fin === undefined || !Number.isFinite(fin)) continue;
      const key = `${c.id}:${step}`;
      let st = this.stateMemo.get(key);
      if (st === undefined) {
        const s = series(c);
        let k = 0;
        while (k < s.steps.length && (s.steps[k] as number) <= step) k++;
        const ys = s.values.slice(0, k).map((v) => sign * v);
        st = ys.every(Number.isFinite) ? (localState(s.steps.slice(0, k), ys, floor, win) ?? null) : null;
        if (this.stateMemo.size > 200_000) this.stateMemo.clear();
        this.stateMemo.set(key, st);
      }
      if (!st) continue;
      const tol = this.tuning.stateZ * Math.sqrt(st.slopeSe ** 2 + own.slopeSe ** 2);
      if (st.slope < own.slope - tol) continue;
      const improvement = st.level - sign * fin;
      if (most === undefined || improvement > most) most = improvement;
    }
    if (most === undefined) return undefined;
    return { level: own.level, improvement: Math.max(0, most) };
  }

  /**
   * Calibration on the study's own curves: for each of the best COMPLETE
   * trials, the forecast its first reports up to `step` would have given,
   * and by how much its lower bound exceeded the level it really ended at
   * (`levelOf`: the forecast bounds the mean curve, so it is held against
   * the curve with its noise removed, not against one noisy final report,
   * whose noise would make some reference "missed" at nearly every step).
   * The largest such miss (0 when the forecasts held) is subtracted from the
   * bound before comparing: where the curves of this study do things the
   * families cannot foresee (a plateau before a drop), the forecasts of the
   * completed trials missed, and pruning waits until they no longer do.
   */
  private calibration(step: number, horizon: number, sign: number): number {
    let margin = 0;
    for (const { trial, loss } of this.references) {
      const level = this.levelOf(trial, loss, horizon, sign);
      const key = `${trial.id}:${step}:${horizon}`;
      let lb = this.calibrationMemo.get(key);
      if (lb === undefined) {
        const { steps, values } = series(trial);
        let k = 0;
        while (k < steps.length && (steps[k] as number) <= step) k++;
        const { xs, ys, size } = binned(steps.slice(0, k), values.slice(0, k), sign, this.tuning.maxPoints);
        const ok = ys.every(Number.isFinite);
        lb = (ok ? this.forecastOf(xs, ys, horizon, this.noiseFloor(horizon, sign) / size)?.lower : undefined) ?? -Infinity;
        if (this.calibrationMemo.size > 100_000) this.calibrationMemo.clear();
        this.calibrationMemo.set(key, lb);
      }
      if (lb - level > margin) margin = lb - level;
    }
    return margin;
  }
}

interface LocalState {
  /** Fitted level at the step (loss). */
  level: number;
  /** Fitted slope per step (loss; negative: improving). */
  slope: number;
  /** Standard error of the slope. */
  slopeSe: number;
}

/**
 * Level and slope at the last point from a straight line through the last
 * quarter of the points (at least 4, at most 16).
 */
export function localState(
  xs: readonly number[],
  ys: readonly number[],
  noiseFloor: number,
  window = { min: 4, fraction: 0.25, max: 16 },
): LocalState | undefined {
  const n = xs.length;
  const k = Math.min(n, Math.max(window.min, Math.min(window.max, Math.ceil(n * window.fraction))));
  if (k < 3) return undefined;
  let mx = 0;
  let my = 0;
  for (let i = n - k; i < n; i++) {
    mx += xs[i] as number;
    my += ys[i] as number;
  }
  mx /= k;
  my /= k;
  let sxx = 0;
  let sxy = 0;
  for (let i = n - k; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    sxx += dx * dx;
    sxy += dx * ((ys[i] as number) - my);
  }
  if (!(sxx > 0)) return undefined;
  const slope = sxy / sxx;
  let rss = 0;
  for (let i = n - k; i < n; i++) rss += ((ys[i] as number) - my - slope * ((xs[i] as number) - mx)) ** 2;
  const s2 = Math.max(rss / Math.max(1, k - 2), noiseFloor);
  return { level: my + slope * ((xs[n - 1] as number) - mx), slope, slopeSe: Math.sqrt(s2 / sxx) };
}

/**
 * Whether the curve is speeding up: the slope of a line through the last w
 * points (w = max(4, n/5)) is steeper, by more than `z` standard errors, than
 * that through the w points before them. True on the rising flank of a
 * sigmoid and right after a drop from a plateau; never on a decelerating
 * decay (exponential, power law).
 */
export function accelerating(xs: readonly number[], ys: readonly number[], z: number): boolean {
  const n = xs.length;
  const w = Math.max(4, Math.ceil(n / 5));
  if (n < 2 * w) return false;
  const fit = (end: number): { slope: number; se: number } => {
    let mx = 0;
    let my = 0;
    for (let i = end - w; i < end; i++) {
      mx += xs[i] as number;
      my += ys[i] as number;
    }
    mx /= w;
    my /= w;
    let sxx = 0;
    let sxy = 0;
    for (let i = end - w; i < end; i++) {
      const dx = (xs[i] as number) - mx;
      sxx += dx * dx;
      sxy += dx * ((ys[i] as number) - my);
    }
    const slope = sxy / sxx;
    let rss = 0;
    for (let i = end - w; i < end; i++) rss += ((ys[i] as number) - my - slope * ((xs[i] as number) - mx)) ** 2;
    return { slope, se: Math.sqrt(rss / Math.max(1, w - 2) / sxx) };
  };
  const last = fit(n);
  const before = fit(n - w);
  return last.slope < before.slope - z * Math.sqrt(last.se ** 2 + before.se ** 2);
}

/** Mean of the last three points. */
function recentLevel(ys: readonly number[]): number {
  const k = Math.min(3, ys.length);
  let s = 0;
  for (let i = ys.length - k; i < ys.length; i++) s += ys[i] as number;
  return s / k;
}

/** Least-squares slope of the last (up to) six points. */
function recentSlope(xs: readonly number[], ys: readonly number[]): number {
  const k = Math.min(6, xs.length);
  if (k < 2) return 0;
  let mx = 0;
  let my = 0;
  for (let i = xs.length - k; i < xs.length; i++) {
    mx += xs[i] as number;
    my += ys[i] as number;
  }
  mx /= k;
  my /= k;
  let sxy = 0;
  let sxx = 0;
  for (let i = xs.length - k; i < xs.length; i++) {
    const dx = (xs[i] as number) - mx;
    sxy += dx * ((ys[i] as number) - my);
    sxx += dx * dx;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

/** Signed losses, averaged in bins of consecutive reports when there are more than `max`. */
export function binned(
  steps: readonly number[],
  values: readonly number[],
  sign: number,
  max: number,
): { xs: number[]; ys: number[]; size: number } {
  const n = steps.length;
  if (n <= max) return { xs: [...steps], ys: values.map((v) => sign * v), size: 1 };
  const size = Math.ceil(n / max);
  const xs: number[] = [];
  const ys: number[] = [];
  // Bins end at the latest report, so the newest values are never diluted by a partial bin.
  for (let end = n; end > 0; end -= size) {
    const start = Math.max(0, end - size);
    let sx = 0;
    let sy = 0;
    for (let i = start; i < end; i++) {
      sx += steps[i] as number;
      sy += sign * (values[i] as number);
    }
    xs.push(sx / (end - start));
    ys.push(sy / (end - start));
  }
  xs.reverse();
  ys.reverse();
  return { xs, ys, size };
}

function reasonOf(f: CurveForecast, sign: number, best: number, step: number, margin: number): string {
  const lo = sign > 0 ? f.lower : -f.upper;
  const hi = sign > 0 ? f.upper : -f.lower;
  const trend = f.best.slopeLast > 0 ? ", worsening" : "";
  return (
    `curve: predicted final ${fmt(sign * f.prediction)} [${fmt(lo)}, ${fmt(hi)}] at step ${fmt(f.horizon)} ` +
    `is worse than best ${fmt(sign * best)} (${f.best.name} fit to ${f.n} points up to step ${step}${trend}` +
    `${margin > 0 ? `; calibration margin ${fmt(margin)}` : ""})`
  );
}
