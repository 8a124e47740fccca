/**
 * Splitting the study's trials into TPE's "good" group (l(x) is fitted to
 * it) and "bad" group (g(x)).
 *
 * Ranking, best first (ties keep trial order):
 *   1. COMPLETE and feasible: by value (single objective) or, with several
 *      objectives, by non-domination rank; the front that straddles the
 *      good/bad boundary is cut by NSGA-II crowding distance (most isolated
 *      first), a cheap stand-in for Optuna MOTPE's hypervolume subset
 *      selection. With one objective, a PRUNED trial with a forecast final
 *      value (TrialView.forecast) ranks here at that value.
 *   2. PRUNED with a last intermediate value: by step descending, then value
 *      (Optuna's (-step, value) order). With several objectives PRUNED trials
 *      have no comparable value and go to 3.
 *   3. PRUNED without a usable intermediate value.
 *   4. COMPLETE but infeasible (a constraint > 0): by total violation.
 * The good group is the first gamma(n) of these n ranked trials. The bad
 * group is the rest, plus (never in the good group):
 *   - RUNNING and QUEUED trials with the constant liar (the worst value);
 *   - FAILED trials, and COMPLETE trials whose values are NaN, infinite or
 *     missing, unless failedTrials is "ignore": g(x) then grows where trials
 *     fail, which steers proposals away from those regions.
 */
import type { Direction } from "../../model.js";
import { paretoFront } from "../../pareto.js";
import type { TrialView } from "../sampler.js";
import type { TpeSettings } from "./settings.js";

export interface TrialSplit {
  /** Indices into the trials array, ascending (trial order). */
  below: number[];
  above: number[];
  /** Trials that count towards the start-up phase. */
  informative: number;
  /** Trials that ran to an end without failing (COMPLETE with values, PRUNED), ascending. */
  succeeded: number[];
  /** FAILED trials and COMPLETE ones without finite values, ascending; empty when failedTrials is "ignore". */
  failed: number[];
}

/** Trial classes, in ranking order (the first four are ranked). */
export const Cls = {
  Feasible: 0,
  Pruned: 1,
  PrunedNoValue: 2,
  Infeasible: 3,
  /** Not ranked: */
  Liar: 4,
  Failed: 5,
  Skip: 6,
} as const;

/** A trial's class and ranking keys (ranked best first by (cls, k1, k2, index)). */
export interface RankKey {
  cls: number;
  k1: number;
  k2: number;
}

function finiteValues(values: readonly number[] | undefined, n: number): boolean {
  if (values === undefined || values.length < n) return false;
  for (let j = 0; j < n; j++) if (!Number.isFinite(values[j])) return false;
  return true;
}

/** Total constraint violation: sum of positive parts; NaN counts as infinitely violated. */
function violation(constraints: readonly number[] | undefined): number {
  if (constraints === undefined) return 0;
  let s = 0;
  for (const c of constraints) {
    if (Number.isNaN(c)) return Number.POSITIVE_INFINITY;
    if (c > 0) s += c;
  }
  return s;
}

const SKIP_KEY: Readonly<RankKey> = Object.freeze({ cls: Cls.Skip, k1: 0, k2: 0 });

/**
 * The class and ranking keys of one trial, written into `out` (returned).
 * signs: +1 per minimised objective, -1 per maximised one.
 */
export function classifyTrial(t: TrialView, signs: readonly number[], constantLiar: boolean, out: RankKey): RankKey {
  const nObj = signs.length;
  const multi = nObj > 1;
  let c: number = Cls.Skip;
  out.k1 = 0;
  out.k2 = 0;
  switch (t.state) {
    case "COMPLETE": {
      if (!finiteValues(t.values, nObj)) {
        c = Cls.Failed;
        break;
      }
      const viol = violation(t.constraints);
      if (viol > 0) {
        c = Cls.Infeasible;
        out.k1 = viol;
      } else {
        c = Cls.Feasible;
        out.k1 = signs[0] * (t.values as number[])[0];
      }
      break;
    }
    case "PRUNED": {
      const li = t.lastIntermediate;
      if (!multi && t.forecast !== undefined && Number.isFinite(t.forecast)) {
        // The pruner's forecast of its final value: ranked as if it had completed there.
        c = Cls.Feasible;
        out.k1 = signs[0] * t.forecast;
      } else if (!multi && li !== undefined && Number.isFinite(li.value) && Number.isFinite(li.step)) {
        c = Cls.Pruned;
        out.k1 = -li.step;
        out.k2 = signs[0] * li.value;
      } else c = Cls.PrunedNoValue;
      break;
    }
    case "RUNNING":
    case "QUEUED":
      c = constantLiar ? Cls.Liar : Cls.Skip;
      break;
    case "FAILED":
      c = Cls.Failed;
      break;
  }
  out.cls = c;
  return out;
}

/** Objective signs: +1 to minimise, -1 to maximise (at least one objective). */
export function objectiveSigns(directions: readonly Direction[]): number[] {
  const nObj = Math.max(1, directions.length);
  return Array.from({ length: nObj }, (_, j) => (directions[j] === "maximize" ? -1 : 1));
}

/**
 * O(n) per call plus O(n * gamma) for the selection (gamma <= 25 by
 * default): no full sort of the trials.
 */
export function splitTrials(
  trials: readonly TrialView[],
  directions: readonly Direction[],
  settings: Pick<TpeSettings, "gamma" | "constantLiar" | "failedTrials">,
  skipId?: number,
): TrialSplit {
  const nObj = Math.max(1, directions.length);
  const multi = nObj > 1;
  const signs = Array.from({ length: nObj }, (_, j) => (directions[j] === "maximize" ? -1 : 1));
  const nt = trials.length;
  const scratch: RankKey = { cls: 0, k1: 0, k2: 0 };
  const cls = new Uint8Array(nt);
  const k1 = new Float64Array(nt);
  const k2 = new Float64Array(nt);
  let nRanked = 0;
  let nFeasible = 0;
  let nFailed = 0;
  for (let i = 0; i < nt; i++) {
    const t = trials[i];
    const key = t.id === skipId ? SKIP_KEY : classifyTrial(t, signs, settings.constantLiar, scratch);
    const c = key.cls;
    k1[i] = key.k1;
    k2[i] = key.k2;
    cls[i] = c;
    if (c <= Cls.Infeasible) nRanked++;
    if (c === Cls.Feasible) nFeasible++;
    if (c === Cls.Failed) nFailed++;
  }
  const useFailed = settings.failedTrials !== "ignore";
  const nBelow = Math.max(0, Math.min(nRanked, Math.floor(settings.gamma(nRanked))));
  const inBelow = new Uint8Array(nt);
  let filled = 0;
  if (multi && nBelow > 0 && nBelow < nFeasible) {
    const feasible: Ranked[] = [];
    for (let i = 0; i < nt; i++) {
      if (cls[i] !== Cls.Feasible) continue;
      const values = trials[i].values as number[];
      feasible.push({ i, v: signs.map((sg, j) => sg * values[j]) });
    }
    for (const r of selectMultiObjective(feasible, nBelow).slice(0, nBelow)) inBelow[r.i] = 1;
    filled = nBelow;
  }
  if (filled < nBelow) {
    // The best nBelow by (class, k1, k2, index), kept sorted by insertion.
    const before = (a: number, b: number): boolean =>
      cls[a] !== cls[b] ? cls[a] < cls[b] : k1[a] !== k1[b] ? k1[a] < k1[b] : k2[a] !== k2[b] ? k2[a] < k2[b] : a < b;
    const top: number[] = [];
    for (let i = 0; i < nt; i++) {
      if (cls[i] > Cls.Infeasible) continue;
      if (top.length === nBelow && !before(i, top[nBelow - 1])) continue;
      let p = top.length === nBelow ? nBelow - 1 : top.length;
      if (top.length < nBelow) top.push(i);
      while (p > 0 && before(i, top[p - 1])) {
        top[p] = top[p - 1];
        p--;
      }
      top[p] = i;
    }
    for (const i of top) inBelow[i] = 1;
  }
  const below: number[] = [];
  const above: number[] = [];
  const succeeded: number[] = [];
  const failed: number[] = [];
  for (let i = 0; i < nt; i++) {
    const c = cls[i];
    if (c <= Cls.Infeasible) succeeded.push(i);
    if (inBelow[i]) below.push(i);
    else if (c <= Cls.Liar) above.push(i);
    else if (c === Cls.Failed && useFailed) {
      above.push(i);
      failed.push(i);
    }
  }
  return { below, above, informative: nRanked + (useFailed ? nFailed : 0), succeeded, failed };
}

interface Ranked {
  i: number;
  /** Sign-adjusted objective values (minimised). */
  v: number[];
}

/**
 * The nBelow best feasible trials with several objectives, best first:
 * whole non-domination fronts while they fit, then the straddling front by
 * crowding distance. Only as many fronts as needed are peeled (at most
 * nBelow + 1), each in O(n * front size).
 */
function selectMultiObjective(items: Ranked[], nBelow: number): Ranked[] {
  const m = items[0].v.length;
  const minimise = Array.from({ length: m }, () => "minimize" as const);
  const out: Ranked[] = [];
  let remaining = items;
  while (out.length < nBelow && remaining.length > 0) {
    const front = paretoFront(remaining, (r) => r.v, minimise);
    const inFront = new Set(front);
    remaining = remaining.filter((r) => !inFront.has(r));
    front.sort((a, b) => a.i - b.i);
    if (out.length + front.length <= nBelow) out.push(...front);
    else {
      const crowd = crowding(front);
      const order = front.map((r, k) => ({ r, c: crowd[k] })).sort((a, b) => b.c - a.c || a.r.i - b.r.i);
      for (const { r } of order) out.push(r);
    }
  }
  return out.concat(remaining);
}

/** NSGA-II crowding distance within one front (boundary points: infinity). */
function crowding(front: Ranked[]): Float64Array {
  const n = front.length;
  const d = new Float64Array(n);
  if (n <= 2) return d.fill(Number.POSITIVE_INFINITY);
  const m = front[0].v.length;
  const idx = Array.from({ length: n }, (_, k) => k);
  for (let j = 0; j < m; j++) {
    idx.sort((a, b) => front[a].v[j] - front[b].v[j] || a - b);
    const lo = front[idx[0]].v[j];
    const hi = front[idx[n - 1]].v[j];
    d[idx[0]] = Number.POSITIVE_INFINITY;
    d[idx[n - 1]] = Number.POSITIVE_INFINITY;
    if (!(hi > lo)) continue;
    for (let k = 1; k < n - 1; k++) d[idx[k]] += (front[idx[k + 1]].v[j] - front[idx[k - 1]].v[j]) / (hi - lo);
  }
  return d;
}
