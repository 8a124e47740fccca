/**
 * Threshold pruner (Optuna's ThresholdPruner, plus infinities): at each check
 * (warm-up and interval as for the median pruner) the LAST intermediate value
 * prunes when it is NaN or infinite, below `lower` or above `upper`. The
 * bounds are absolute, whatever the direction.
 */
import type { Trial } from "../model.js";
import type { PruneDecider } from "../study-runtime.js";
import { CONTINUE, fmt, isFirstInIntervalStep, lastStep, prune, valueAt, type PruneResult } from "./common.js";

export interface ThresholdOptions {
  lower: number;
  upper: number;
  warmupSteps: number;
  intervalSteps: number;
}

export class ThresholdPruner implements PruneDecider {
  constructor(readonly options: ThresholdOptions) {}

  decide(trial: Trial): PruneResult {
    const o = this.options;
    const step = lastStep(trial);
    if (step === undefined || step < o.warmupSteps) return CONTINUE;
    if (!isFirstInIntervalStep(step, trial, o.warmupSteps, o.intervalSteps)) return CONTINUE;
    const v = valueAt(trial, step) ?? Number.NaN;
    if (!Number.isFinite(v)) return prune(`threshold: value ${v} at step ${step}`);
    if (v < o.lower) return prune(`threshold: value ${fmt(v)} at step ${step} is below the lower bound ${fmt(o.lower)}`);
    if (v > o.upper) return prune(`threshold: value ${fmt(v)} at step ${step} is above the upper bound ${fmt(o.upper)}`);
    return CONTINUE;
  }
}
