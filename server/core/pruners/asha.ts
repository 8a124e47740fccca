/**
 * Asynchronous successive halving (ASHA), with the semantics of Optuna 3.1's
 * SuccessiveHalvingPruner (bootstrap_count 0):
 *
 * - rung k is reached at step `minResource * reductionFactor^(minEarlyStoppingRate + k)`;
 * - when a report reaches the trial's next rung, its value (the value of that
 *   report) is recorded for the rung; NaN prunes;
 * - the trial goes on only if its value is among the best
 *   `floor(n / reductionFactor)` of the n values recorded for the rung (its own
 *   included) - or, while n < reductionFactor, if it is the best of them;
 *   a report that passes several rungs at once is checked against each;
 * - `minResource` "auto": max(1, floor(longest step of a COMPLETE trial / 100)),
 *   fixed at the first report that finds a COMPLETE trial; no pruning before.
 *
 * Rung values are recorded as decisions are made (like Optuna's trial system
 * attributes). A runtime rebuilt from storage (daemon restart) rebuilds them
 * from the trials' reported values: for each trial, the value of its first
 * report at or past each rung step.
 */
import type { Direction, Trial } from "../model.js";
import type { PruneDecider, StudyRuntime } from "../study-runtime.js";
import { CONTINUE, directionOf, fmt, lastStep, previousStep, prune, valueAt, type PruneResult } from "./common.js";

export interface HalvingOptions {
  /** "auto" or >= 1. */
  minResource: number | "auto";
  /** > 1. */
  reductionFactor: number;
  minEarlyStoppingRate: number;
}

export class SuccessiveHalving {
  private minResource: number | undefined;
  /** Recorded rung values per trial id (index = rung). */
  private readonly records = new Map<number, number[]>();
  /** Per rung: every recorded value, ascending. */
  private readonly rungs: number[][] = [];

  constructor(private readonly options: HalvingOptions) {
    if (options.minResource !== "auto") this.minResource = options.minResource;
  }

  /** The resolved min resource (estimating "auto" from COMPLETE trials); undefined until known. */
  resolveMinResource(runtime: StudyRuntime): number | undefined {
    if (this.minResource !== undefined) return this.minResource;
    let longest = -1;
    for (const t of runtime.trials) {
      if (t?.state !== "COMPLETE") continue;
      const s = lastStep(t);
      if (s !== undefined && s > longest) longest = s;
    }
    if (longest < 0) return undefined;
    this.minResource = Math.max(Math.floor(longest / 100), 1);
    return this.minResource;
  }

  rungStep(rung: number): number {
    const o = this.options;
    return (this.minResource as number) * Math.pow(o.reductionFactor, o.minEarlyStoppingRate + rung);
  }

  /**
   * Rebuilds rung records from reported values (a fresh runtime over stored
   * trials). `current` is the trial being decided: only its earlier reports count.
   */
  prime(runtime: StudyRuntime, current: Trial, member: (t: Trial) => boolean = () => true): void {
    if (this.resolveMinResource(runtime) === undefined) return;
    for (const t of runtime.trials) {
      if (!t || !member(t) || t.intermediate.length === 0) continue;
      const last = lastStep(t) as number;
      const limit = t === current ? previousStep(t, last) : last;
      let i = 0;
      for (let rung = 0; ; rung++) {
        const s = this.rungStep(rung);
        while (i < t.intermediate.length && (t.intermediate[i]?.step ?? -1) < s) i++;
        const m = t.intermediate[i];
        if (!m || m.step === undefined || m.step > limit) break;
        const v = m.values[0] ?? Number.NaN;
        if (Number.isNaN(v)) break;
        this.record(t.id, v);
      }
    }
  }

  private record(trialId: number, value: number): number {
    let rec = this.records.get(trialId);
    if (!rec) this.records.set(trialId, (rec = []));
    const rung = rec.length;
    rec.push(value);
    let list = this.rungs[rung];
    if (!list) this.rungs[rung] = list = [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as number) <= value) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, value);
    return rung;
  }

  /** `label` prefixes the reason ("asha", "hyperband: bracket 2 of 5"). */
  decide(trial: Trial, runtime: StudyRuntime, label: string): PruneResult {
    const step = lastStep(trial);
    if (step === undefined) return CONTINUE;
    if (this.resolveMinResource(runtime) === undefined) return CONTINUE;
    const value = valueAt(trial, step) ?? Number.NaN;
    const dir: Direction = directionOf(runtime);
    const rf = this.options.reductionFactor;
    for (;;) {
      const rung = this.records.get(trial.id)?.length ?? 0;
      const at = this.rungStep(rung);
      if (step < at) return CONTINUE;
      if (Number.isNaN(value)) return prune(`${label}: value NaN at step ${step}`);
      this.record(trial.id, value);
      const list = this.rungs[rung] as number[];
      const n = list.length;
      let idx = Math.floor(n / rf) - 1;
      if (idx < 0) idx = 0;
      const cut = dir === "maximize" ? (list[n - 1 - idx] as number) : (list[idx] as number);
      const promotable = dir === "maximize" ? value >= cut : value <= cut;
      if (!promotable) {
        const keep = n < rf ? "the best" : `in the best ${idx + 1}`;
        return prune(
          `${label}: value ${fmt(value)} at step ${step} is not ${keep} of the ${n} value(s) at rung ${rung} (step ${fmt(at)}; ` +
            `needs ${dir === "maximize" ? ">=" : "<="} ${fmt(cut)})`,
        );
      }
    }
  }
}

export class AshaPruner implements PruneDecider {
  private readonly halving: SuccessiveHalving;
  private primed = false;

  constructor(options: HalvingOptions) {
    this.halving = new SuccessiveHalving(options);
  }

  decide(trial: Trial, runtime: StudyRuntime): PruneResult {
    if (!this.primed) {
      // The first decision of this runtime: rebuild what an earlier runtime of
      // the same study recorded (nothing in a new study).
      this.primed = true;
      this.halving.prime(runtime, trial);
    }
    return this.halving.decide(trial, runtime, "asha");
  }
}
