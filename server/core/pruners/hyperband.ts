/**
 * Hyperband as in Optuna 3.1's HyperbandPruner: brackets b = 0..B-1, each an
 * ASHA instance (min early-stopping rate b) over the trials assigned to it.
 *
 * - B = `brackets` if set, else floor(log_rf(maxResource / minResource)) + 1;
 * - `maxResource` "auto": the longest step of a COMPLETE trial + 1, fixed at
 *   the first report that finds one; no pruning before;
 * - bracket b gets a share ceil(B * rf^s / (s + 1)), s = B - 1 - b, of the
 *   trials. The assignment is a function of the trial id alone (Optuna hashes
 *   the study name with the trial number): the golden-ratio sequence
 *   frac((id + 1) * 0.618...) scaled to the total share, so every run of a
 *   study assigns alike and any prefix of ids is split close to the shares.
 */
import type { Trial } from "../model.js";
import type { PruneDecider, StudyRuntime } from "../study-runtime.js";
import { SuccessiveHalving } from "./asha.js";
import { CONTINUE, lastStep, type PruneResult } from "./common.js";

export interface HyperbandOptions {
  minResource: number;
  /** "auto" or > minResource. */
  maxResource: number | "auto";
  reductionFactor: number;
  /** 0: from the resources. */
  brackets: number;
}

const INV_GOLDEN = 0.6180339887498949;

export class HyperbandPruner implements PruneDecider {
  private pruners: SuccessiveHalving[] = [];
  private budgets: number[] = [];
  private total = 0;
  private called = false;

  constructor(readonly options: HyperbandOptions) {}

  /** Number of brackets, once known. */
  get bracketCount(): number {
    return this.pruners.length;
  }

  decide(trial: Trial, runtime: StudyRuntime): PruneResult {
    const first = !this.called;
    this.called = true;
    if (this.pruners.length === 0) {
      if (!this.init(runtime)) return CONTINUE;
      // Set up at the first decision of this runtime: rebuild what an earlier
      // runtime of the same study recorded (nothing in a new study).
      if (first) this.pruners.forEach((p, b) => p.prime(runtime, trial, (t) => this.bracketOf(t.id) === b));
    }
    const b = this.bracketOf(trial.id);
    return (this.pruners[b] as SuccessiveHalving).decide(trial, runtime, `hyperband: bracket ${b} of ${this.pruners.length}`);
  }

  /** The bracket of a trial id (0 until the brackets are known). */
  bracketOf(id: number): number {
    if (this.pruners.length === 0) return 0;
    const x = ((id + 1) * INV_GOLDEN) % 1;
    let n = Math.floor(x * this.total);
    for (let b = 0; b < this.budgets.length; b++) {
      n -= this.budgets[b] as number;
      if (n < 0) return b;
    }
    return this.budgets.length - 1;
  }

  private init(runtime: StudyRuntime): boolean {
    const o = this.options;
    let max = o.maxResource;
    if (max === "auto") {
      let longest = -1;
      for (const t of runtime.trials) {
        if (t?.state !== "COMPLETE") continue;
        const s = lastStep(t);
        if (s !== undefined && s > longest) longest = s;
      }
      if (longest < 0) return false;
      max = longest + 1;
    }
    const rf = o.reductionFactor;
    const n = o.brackets > 0 ? o.brackets : Math.max(1, Math.floor(Math.log(max / o.minResource) / Math.log(rf)) + 1);
    for (let b = 0; b < n; b++) {
      const s = n - 1 - b;
      const budget = Math.ceil((n * Math.pow(rf, s)) / (s + 1));
      this.budgets.push(budget);
      this.total += budget;
      this.pruners.push(new SuccessiveHalving({ minResource: o.minResource, reductionFactor: rf, minEarlyStoppingRate: b }));
    }
    return true;
  }
}
