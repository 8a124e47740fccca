/**
 * How TPE sees a compiled space: each dimension either fixed (one legal
 * value, nothing to model), numeric (modelled in a unit interval over its
 * transformed range) or categorical; and the dimensions grouped by when they
 * are active, for the multivariate estimators.
 *
 * Numeric dimensions live in "unit space": u = (T(v) - lo) / (hi - lo) with T
 * the log for log domains, and [lo, hi] the transformed range widened by half
 * a step on each side for stepped domains (ints included), as Optuna's
 * Parzen estimator does, so every legal value owns a cell of its own.
 */
import type { CompiledSpace, Dim, FloatDomain, IntDomain, ScalarValue } from "../../space.js";
import { discreteSize, discreteValues, fromUnit, snapToDomain } from "../domain-map.js";

export interface NumericDim {
  kind: "numeric";
  dim: Dim;
  domain: FloatDomain | IntDomain;
  log: boolean;
  /** Transformed range (log applied, widened by half a step when stepped). */
  lo: number;
  hi: number;
  /** Half the width of a value's cell in original units; 0 for a continuous float. */
  halfStep: number;
}

export interface CategoricalDim {
  kind: "categorical";
  dim: Dim;
  choices: readonly ScalarValue[];
}

export type ModelDim = NumericDim | CategoricalDim;

export interface Group {
  dims: ModelDim[];
}

export interface SpaceModel {
  /** Value of each dimension that has a single legal one (by dim index). */
  fixed: Map<number, ScalarValue>;
  /** Group of each modelled dimension (by dim index), one group per dimension. */
  independent: Map<number, Group>;
  /** Group of each modelled dimension (by dim index), dimensions active together share one. */
  joint: Map<number, Group>;
}

const cache = new WeakMap<CompiledSpace, SpaceModel>();

/** The model of a space (memoised per CompiledSpace object; a pure function of it). */
export function spaceModel(space: CompiledSpace): SpaceModel {
  let m = cache.get(space);
  if (m === undefined) {
    m = buildModel(space);
    cache.set(space, m);
  }
  return m;
}

function modelDim(dim: Dim): ModelDim | undefined {
  const d = dim.domain;
  if (d.type === "categorical") return d.choices.length > 1 ? { kind: "categorical", dim, choices: d.choices } : undefined;
  if ((discreteSize(d) ?? 2) <= 1 || d.low === d.high) return undefined;
  if (d.type === "int") {
    if (d.log) return { kind: "numeric", dim, domain: d, log: true, lo: Math.log(d.low - 0.5), hi: Math.log(d.high + 0.5), halfStep: 0.5 };
    const h = d.step / 2;
    return { kind: "numeric", dim, domain: d, log: false, lo: d.low - h, hi: d.high + h, halfStep: h };
  }
  if (d.log) return { kind: "numeric", dim, domain: d, log: true, lo: Math.log(d.low), hi: Math.log(d.high), halfStep: 0 };
  const h = d.step === undefined ? 0 : d.step / 2;
  return { kind: "numeric", dim, domain: d, log: false, lo: d.low - h, hi: d.high + h, halfStep: h };
}

/**
 * A key equal for dimensions that are always active together: the chain of
 * conditions up to the root, where a condition that admits every value of
 * its parent adds nothing (it holds whenever the parent is active).
 */
function activityKey(space: CompiledSpace, dim: Dim, memo: Map<number, string>): string {
  const known = memo.get(dim.index);
  if (known !== undefined) return known;
  let key = "";
  const c = dim.condition;
  const parent = c ? space.dim(c.parent) : undefined;
  if (c && parent) {
    const parentKey = activityKey(space, parent, memo);
    const n = discreteSize(parent.domain) ?? Number.POSITIVE_INFINITY;
    const all = n <= 10_000 && (discreteValues(parent.domain) ?? []).every((v) => c.values.includes(v));
    key = all ? parentKey : `${parentKey}|${JSON.stringify(c.parent)}=${JSON.stringify([...c.values].map(String).sort())}`;
  }
  memo.set(dim.index, key);
  return key;
}

function buildModel(space: CompiledSpace): SpaceModel {
  const fixed = new Map<number, ScalarValue>();
  const independent = new Map<number, Group>();
  const joint = new Map<number, Group>();
  const byKey = new Map<string, Group>();
  const memo = new Map<number, string>();
  for (const dim of space.dims) {
    const md = modelDim(dim);
    if (md === undefined) {
      fixed.set(dim.index, fromUnit(0, dim.domain));
      continue;
    }
    independent.set(dim.index, { dims: [md] });
    const key = activityKey(space, dim, memo);
    let g = byKey.get(key);
    if (g === undefined) {
      g = { dims: [] };
      byKey.set(key, g);
    }
    g.dims.push(md);
    joint.set(dim.index, g);
  }
  return { fixed, independent, joint };
}

/** Unit coordinate of a legal numeric value. */
export function toUnit(md: NumericDim, v: number): number {
  const t = md.log ? Math.log(v) : v;
  return (t - md.lo) / (md.hi - md.lo);
}

/** The legal value nearest to unit coordinate u. */
export function fromUnitCoord(md: NumericDim, u: number): number {
  const t = md.lo + u * (md.hi - md.lo);
  const x = md.log ? Math.exp(t) : t;
  const d = md.domain;
  if (md.halfStep > 0) return snapToDomain(x, d);
  return Math.min(d.high, Math.max(d.low, x));
}

/** The cell of a legal stepped value in unit coordinates, [lo, hi]. */
export function unitCell(md: NumericDim, v: number): [number, number] {
  const a = v - md.halfStep;
  const b = v + md.halfStep;
  const ta = md.log ? Math.log(a) : a;
  const tb = md.log ? Math.log(b) : b;
  const w = md.hi - md.lo;
  return [Math.max(0, (ta - md.lo) / w), Math.min(1, (tb - md.lo) / w)];
}
