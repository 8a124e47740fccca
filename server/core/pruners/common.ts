/**
 * Shared pieces of the pruners: how a trial's intermediate values are read
 * (first objective only), Optuna's interval rule, numpy's linear percentile,
 * an index of completed trials' values per step, and number formatting for
 * decision reasons.
 */
import type { Decision, Direction, Trial } from "../model.js";
import type { StudyRuntime } from "../study-runtime.js";

export interface PruneResult {
  decision: Decision;
  reason: string;
  /**
   * With PRUNE: the predicted final value of the first objective, in its own
   * units, when the pruner forecast one (the curve pruner). The runtime
   * stores it on the trial (Trial.decisionForecast) for the samplers.
   */
  forecast?: number;
}

export const CONTINUE: PruneResult = Object.freeze({ decision: "CONTINUE", reason: "" }) as PruneResult;
export const prune = (reason: string, forecast?: number): PruneResult =>
  forecast === undefined ? { decision: "PRUNE", reason } : { decision: "PRUNE", reason, forecast };

/** Pruning works on the first objective and its direction. */
export function directionOf(runtime: StudyRuntime): Direction {
  return runtime.study.spec.objectives[0]?.direction ?? "minimize";
}

/** The first objective's value of each intermediate report, in step order. */
export function series(trial: Trial): { steps: number[]; values: number[] } {
  const steps: number[] = [];
  const values: number[] = [];
  for (const m of trial.intermediate) {
    if (m.step === undefined) continue;
    steps.push(m.step);
    values.push(m.values[0] ?? Number.NaN);
  }
  return { steps, values };
}

/** The largest reported step (intermediate values are kept in step order). */
export function lastStep(trial: Trial): number | undefined {
  return trial.intermediate[trial.intermediate.length - 1]?.step;
}

/** The largest reported step other than `step` (-1 when none): Optuna's "second last step". */
export function previousStep(trial: Trial, step: number): number {
  let out = -1;
  for (const m of trial.intermediate) if (m.step !== undefined && m.step !== step && m.step > out) out = m.step;
  return out;
}

/** The first objective's intermediate value at exactly `step`. */
export function valueAt(trial: Trial, step: number): number | undefined {
  const list = trial.intermediate;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = list[mid]?.step ?? -1;
    if (s === step) return list[mid]?.values[0] ?? Number.NaN;
    if (s < step) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * Optuna's `_is_first_in_interval_step`: a check happens at the first report
 * at or after each step `warmup + k * interval`, so a skipped step postpones
 * the check instead of dropping it.
 */
export function isFirstInIntervalStep(step: number, trial: Trial, warmup: number, interval: number): boolean {
  const nearestLower = Math.floor((step - warmup) / interval) * interval + warmup;
  return previousStep(trial, step) < nearestLower;
}

/** `np.nanpercentile(values, q)` with numpy's default linear interpolation; NaN when no value is a number. */
export function nanPercentile(values: readonly number[], q: number): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return sortedPercentile(xs, q);
}

/** Linear-interpolated percentile of an ascending array without NaN. */
export function sortedPercentile(xs: readonly number[], q: number): number {
  const n = xs.length;
  if (n === 0) return Number.NaN;
  const idx = (q / 100) * (n - 1);
  const lo = Math.floor(idx);
  const hi = Math.min(n - 1, lo + 1);
  const t = idx - lo;
  const a = xs[lo] as number;
  const b = xs[hi] as number;
  if (t === 0 || a === b) return a;
  // numpy's _lerp: a + (b - a) t, computed from the nearer end.
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** nanmin / nanmax by direction: the best of the values (NaN when all are NaN). */
export function bestOf(values: readonly number[], dir: Direction): number {
  let best = Number.NaN;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    if (Number.isNaN(best) || (dir === "minimize" ? v < best : v > best)) best = v;
  }
  return best;
}

/** `a` is strictly worse than `b` in direction `dir`. */
export const worse = (a: number, b: number, dir: Direction): boolean => (dir === "minimize" ? a > b : a < b);

/** Compact number for reasons: 4 significant digits, no trailing zeros. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-4) return x.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(x.toPrecision(4)));
}

/**
 * The COMPLETE trials' intermediate values, per step, kept up to date
 * incrementally: COMPLETE trials never change, so a trial is indexed once
 * when the study's COMPLETE count moves.
 */
export class CompletedIndex {
  private readonly seen = new Set<number>();
  private seenCount = -1;
  private readonly byStep = new Map<number, number[]>();
  private readonly sorted = new Set<number>();
  /** COMPLETE trials in the order they were indexed. */
  readonly trials: Trial[] = [];

  refresh(runtime: StudyRuntime): void {
    if (runtime.counts.COMPLETE === this.seenCount) return;
    this.seenCount = runtime.counts.COMPLETE;
    for (const t of runtime.trials) {
      if (!t || t.state !== "COMPLETE" || this.seen.has(t.id)) continue;
      this.seen.add(t.id);
      this.trials.push(t);
      for (const m of t.intermediate) {
        if (m.step === undefined) continue;
        let list = this.byStep.get(m.step);
        if (!list) this.byStep.set(m.step, (list = []));
        list.push(m.values[0] ?? Number.NaN);
        this.sorted.delete(m.step);
      }
    }
  }

  get count(): number {
    return this.trials.length;
  }

  /** Values at `step` (NaN included), sorted ascending with NaN last. */
  valuesAt(step: number): readonly number[] {
    const list = this.byStep.get(step);
    if (!list) return [];
    if (!this.sorted.has(step)) {
      list.sort((a, b) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b));
      this.sorted.add(step);
    }
    return list;
  }
}
