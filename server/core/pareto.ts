/**
 * Dominance and Pareto fronts over objective vectors with per-objective
 * directions. Feasibility follows the constraint convention: every constraint
 * value <= 0.
 */
import type { Direction } from "./model.js";

export const isFeasible = (constraints: readonly number[]): boolean => constraints.every((c) => c <= 0);

/** True when `a` is at least as good as `b` everywhere and strictly better somewhere. */
export function dominates(a: readonly number[], b: readonly number[], dirs: readonly Direction[]): boolean {
  let strictly = false;
  for (let i = 0; i < dirs.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    const better = dirs[i] === "maximize" ? x > y : x < y;
    const worse = dirs[i] === "maximize" ? x < y : x > y;
    if (worse) return false;
    if (better) strictly = true;
  }
  return strictly;
}

/** The non-dominated items, in input order. O(n * front size). */
export function paretoFront<T>(items: readonly T[], values: (t: T) => readonly number[], dirs: readonly Direction[]): T[] {
  const front: T[] = [];
  for (const item of items) {
    const v = values(item);
    if (front.some((f) => dominates(values(f), v, dirs))) continue;
    for (let i = front.length - 1; i >= 0; i--) {
      if (dominates(v, values(front[i] as T), dirs)) front.splice(i, 1);
    }
    front.push(item);
  }
  return front;
}
