/**
 * Patience pruner (Optuna's PatientPruner, min_delta 0): once a trial has
 * more than `patience + 1` reports, it is a candidate for pruning when the
 * best of its last `patience + 1` values is strictly worse than the best of
 * all values before them (NaN ignored; all NaN on either side: no candidate),
 * i.e. no improvement for `patience` reports. Without a wrapped pruner a
 * candidate is pruned; with one, only when the wrapped pruner also says prune
 * (it is consulted only for candidates, as in Optuna).
 */
import type { Trial } from "../model.js";
import type { PruneDecider, StudyRuntime } from "../study-runtime.js";
import { bestOf, CONTINUE, directionOf, fmt, prune, series, worse, type PruneResult } from "./common.js";

export class PatiencePruner implements PruneDecider {
  constructor(
    readonly patience: number,
    readonly wrapped: PruneDecider | undefined,
  ) {}

  decide(trial: Trial, runtime: StudyRuntime): PruneResult {
    const { steps, values } = series(trial);
    const n = values.length;
    if (n <= this.patience + 1) return CONTINUE;
    const cut = n - this.patience - 1;
    const dir = directionOf(runtime);
    const before = bestOf(values.slice(0, cut), dir);
    const after = bestOf(values.slice(cut), dir);
    if (Number.isNaN(before) || Number.isNaN(after) || !worse(after, before, dir)) return CONTINUE;
    const reason =
      `patience: no improvement in the last ${this.patience + 1} reports (steps ${steps[cut]}..${steps[n - 1]}): ` +
      `best ${fmt(after)} vs ${fmt(before)} before`;
    if (!this.wrapped) return prune(reason);
    const inner = this.wrapped.decide(trial, runtime);
    return inner.decision === "PRUNE" ? prune(`${reason}; ${inner.reason}`) : CONTINUE;
  }
}
