/**
 * Median and percentile pruners, with Optuna's PercentilePruner semantics
 * (Optuna 3.1, n_min_trials = 1):
 *
 * - no pruning until `startupTrials` trials are COMPLETE (and at least one is);
 * - no pruning while the trial's last step < `warmupSteps`; then a check at the
 *   first report at or after each step `warmupSteps + k * intervalSteps`;
 * - the trial's BEST intermediate value so far (nanmin / nanmax over all its
 *   steps; all NaN prunes) is compared with the `percentile`-th percentile
 *   (100 - percentile when maximising) of the COMPLETE trials' values at the
 *   trial's last step (numpy's nanpercentile, linear interpolation); no
 *   completed trial reported that step, or all its values are NaN: no prune;
 * - prune when the best so far is strictly worse than that percentile.
 */
import type { Trial } from "../model.js";
import type { PruneDecider, StudyRuntime } from "../study-runtime.js";
import {
  bestOf,
  CompletedIndex,
  CONTINUE,
  directionOf,
  fmt,
  isFirstInIntervalStep,
  lastStep,
  prune,
  series,
  sortedPercentile,
  worse,
  type PruneResult,
} from "./common.js";

export interface PercentileOptions {
  /** 0..100: 25 keeps the best quarter; 50 is the median rule. */
  percentile: number;
  startupTrials: number;
  warmupSteps: number;
  intervalSteps: number;
  /** "median" or "percentile", for reasons. */
  label: string;
}

export class PercentilePruner implements PruneDecider {
  private readonly completed = new CompletedIndex();

  constructor(readonly options: PercentileOptions) {}

  decide(trial: Trial, runtime: StudyRuntime): PruneResult {
    const o = this.options;
    this.completed.refresh(runtime);
    const n = this.completed.count;
    if (n === 0 || n < o.startupTrials) return CONTINUE;
    const step = lastStep(trial);
    if (step === undefined || step < o.warmupSteps) return CONTINUE;
    if (!isFirstInIntervalStep(step, trial, o.warmupSteps, o.intervalSteps)) return CONTINUE;
    const dir = directionOf(runtime);
    const best = bestOf(series(trial).values, dir);
    if (Number.isNaN(best)) return prune(`${o.label}: every intermediate value up to step ${step} is NaN`);
    const at = this.completed.valuesAt(step);
    if (at.length === 0) return CONTINUE;
    const finite = at.filter((v) => !Number.isNaN(v));
    const q = dir === "maximize" ? 100 - o.percentile : o.percentile;
    const p = sortedPercentile(finite, q);
    if (Number.isNaN(p) || !worse(best, p, dir)) return CONTINUE;
    const what = o.label === "median" ? "the median" : `the ${fmt(o.percentile)}th percentile`;
    return prune(
      `${o.label}: best intermediate value ${fmt(best)} is worse than ${what} ${fmt(p)} of ${at.length} completed trial(s) at step ${step}`,
    );
  }
}
