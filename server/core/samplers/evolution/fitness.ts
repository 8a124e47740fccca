/**
 * How the evolutionary samplers rank finished trials. Every finished trial
 * gets a class, best first:
 *
 *   0  COMPLETE, finite values, feasible (every constraint <= 0)
 *   1  COMPLETE, finite values, infeasible: ranked by total violation
 *      (sum of positive constraint values; a NaN constraint counts as +inf)
 *   2  PRUNED with a finite last intermediate value: ranked by the pruner's
 *      forecast of its final value (TrialView.forecast, one objective only)
 *      when there is one, else by that last value (first objective's
 *      direction), as GP and TPE see it; a pruned trial was stopped for
 *      looking bad, so it still ranks below every complete one
 *   3  FAILED, or COMPLETE without finite values, or PRUNED without an
 *      intermediate value: worse than everything ("dominated by everything,
 *      infinite violation"), so the search moves away from where trials fail
 *
 * Within class 0 a single objective orders by value; several objectives use
 * NSGA-II's order: Pareto front (fast non-dominated sorting), then crowding
 * distance (larger first). Ties keep the lower trial position first, so the
 * order is a deterministic function of the trials.
 */
import type { Direction } from "../../model.js";
import type { TrialView } from "../sampler.js";

export interface Fitness {
  cls: 0 | 1 | 2 | 3;
  /** Total constraint violation (class 1), else 0. */
  violation: number;
  /** Objective values signed for minimisation (class 0 and 1: all; class 2: the first). */
  obj: readonly number[];
}

export const FINISHED: ReadonlySet<string> = new Set(["COMPLETE", "PRUNED", "FAILED"]);

const WORST: Fitness = { cls: 3, violation: Number.POSITIVE_INFINITY, obj: [] };

export function fitnessOf(v: TrialView, dirs: readonly Direction[]): Fitness {
  const sign = (i: number, x: number): number => (dirs[i] === "maximize" ? -x : x);
  if (v.state === "COMPLETE") {
    const values = v.values;
    if (!values || values.length < dirs.length || dirs.some((_, i) => !Number.isFinite(values[i]))) return WORST;
    const obj = dirs.map((_, i) => sign(i, values[i] as number));
    let violation = 0;
    for (const c of v.constraints ?? []) violation += Number.isNaN(c) ? Number.POSITIVE_INFINITY : Math.max(0, c);
    return violation > 0 ? { cls: 1, violation, obj } : { cls: 0, violation: 0, obj };
  }
  if (v.state === "PRUNED" && v.lastIntermediate && Number.isFinite(v.lastIntermediate.value)) {
    // A curve's early value misleads (a slow starter looks bad); the forecast is the pruner's estimate of where it ends.
    const value = dirs.length === 1 && v.forecast !== undefined && Number.isFinite(v.forecast) ? v.forecast : v.lastIntermediate.value;
    return { cls: 2, violation: 0, obj: [sign(0, value)] };
  }
  return WORST;
}

/** Single-objective comparison (negative: a is better). Ties return 0. */
export function compareFitness(a: Fitness, b: Fitness): number {
  if (a.cls !== b.cls) return a.cls - b.cls;
  if (a.cls === 1 && a.violation !== b.violation) return a.violation < b.violation ? -1 : 1;
  if (a.cls === 0 || a.cls === 2) {
    const x = a.obj[0] as number;
    const y = b.obj[0] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function sameFitness(a: Fitness, b: Fitness): boolean {
  return a.cls === b.cls && a.violation === b.violation && a.obj.length === b.obj.length && a.obj.every((x, i) => x === b.obj[i]);
}

/** Pareto dominance on minimisation vectors. */
function dominates(a: readonly number[], b: readonly number[]): boolean {
  let strictly = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x > y) return false;
    if (x < y) strictly = true;
  }
  return strictly;
}

export interface Ranking {
  /** Front index per item (0 = best), under Deb's constrained domination. */
  rank: number[];
  /** Crowding distance per item within its front (Infinity at the extremes). */
  crowding: number[];
  /** Item indices best first: (rank, larger crowding, index). */
  order: number[];
}

/**
 * NSGA-II ranking with constrained domination: feasible items are sorted into
 * Pareto fronts; infeasible ones follow, one front per distinct violation
 * (smaller first); then pruned ones by their value; failed ones last.
 */
export function rankFitness(fits: readonly Fitness[]): Ranking {
  const n = fits.length;
  const rank = new Array<number>(n).fill(0);
  const crowding = new Array<number>(n).fill(0);
  const fronts: number[][] = [];
  const feasible: number[] = [];
  const byClass: number[][] = [[], [], []];
  fits.forEach((f, i) => {
    if (f.cls === 0) feasible.push(i);
    else (byClass[f.cls - 1] as number[]).push(i);
  });
  // Fast non-dominated sorting (Deb et al. 2002) of the feasible items.
  if (feasible.length > 0) {
    const dominatedBy = new Map<number, number[]>();
    const count = new Map<number, number>();
    let current: number[] = [];
    for (const p of feasible) {
      const list: number[] = [];
      let c = 0;
      const fp = (fits[p] as Fitness).obj;
      for (const q of feasible) {
        if (p === q) continue;
        const fq = (fits[q] as Fitness).obj;
        if (dominates(fp, fq)) list.push(q);
        else if (dominates(fq, fp)) c++;
      }
      dominatedBy.set(p, list);
      count.set(p, c);
      if (c === 0) current.push(p);
    }
    while (current.length > 0) {
      fronts.push(current);
      const next: number[] = [];
      for (const p of current) {
        for (const q of dominatedBy.get(p) ?? []) {
          const c = (count.get(q) as number) - 1;
          count.set(q, c);
          if (c === 0) next.push(q);
        }
      }
      next.sort((a, b) => a - b);
      current = next;
    }
  }
  const key = (cls: number, i: number): number => {
    const f = fits[i] as Fitness;
    return cls === 1 ? f.violation : (f.obj[0] as number);
  };
  for (const cls of [1, 2] as const) {
    const items = [...(byClass[cls - 1] as number[])].sort((a, b) => key(cls, a) - key(cls, b) || a - b);
    let front: number[] = [];
    for (const i of items) {
      if (front.length > 0 && key(cls, front[0] as number) !== key(cls, i)) {
        fronts.push(front);
        front = [];
      }
      front.push(i);
    }
    if (front.length > 0) fronts.push(front);
  }
  if ((byClass[2] as number[]).length > 0) fronts.push(byClass[2] as number[]);
  fronts.forEach((front, r) => {
    for (const i of front) rank[i] = r;
    const first = fits[front[0] as number] as Fitness;
    if (first.cls <= 1) crowdingDistance(front, fits, crowding);
  });
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (rank[a] as number) - (rank[b] as number) || (crowding[b] as number) - (crowding[a] as number) || a - b,
  );
  // (Infinity - Infinity is NaN, which is falsy: the comparator falls to the index.)
  return { rank, crowding, order };
}

function crowdingDistance(front: readonly number[], fits: readonly Fitness[], out: number[]): void {
  if (front.length <= 2) {
    for (const i of front) out[i] = Number.POSITIVE_INFINITY;
    return;
  }
  const m = (fits[front[0] as number] as Fitness).obj.length;
  for (const i of front) out[i] = 0;
  for (let k = 0; k < m; k++) {
    const sorted = [...front].sort((a, b) => ((fits[a] as Fitness).obj[k] as number) - ((fits[b] as Fitness).obj[k] as number) || a - b);
    const lo = (fits[sorted[0] as number] as Fitness).obj[k] as number;
    const hi = (fits[sorted[sorted.length - 1] as number] as Fitness).obj[k] as number;
    out[sorted[0] as number] = Number.POSITIVE_INFINITY;
    out[sorted[sorted.length - 1] as number] = Number.POSITIVE_INFINITY;
    if (!(hi > lo)) continue;
    for (let j = 1; j < sorted.length - 1; j++) {
      const i = sorted[j] as number;
      const gap = (((fits[sorted[j + 1] as number] as Fitness).obj[k] as number) - ((fits[sorted[j - 1] as number] as Fitness).obj[k] as number)) / (hi - lo);
      out[i] = (out[i] as number) + gap;
    }
  }
}

/**
 * Indices of `fits` best first. One objective: by `compareFitness` (then
 * index); several: NSGA-II's (front, crowding) order.
 */
export function orderByFitness(fits: readonly Fitness[], objectives: number): number[] {
  if (objectives <= 1) {
    return Array.from({ length: fits.length }, (_, i) => i).sort(
      (a, b) => compareFitness(fits[a] as Fitness, fits[b] as Fitness) || a - b,
    );
  }
  return rankFitness(fits).order;
}
