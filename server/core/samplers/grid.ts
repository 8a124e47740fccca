/**
 * Exhaustive grid search over a finite space, in a seeded random order so an
 * interrupted study still covers the grid evenly.
 *
 * The grid is the set of complete assignments of the ACTIVE dimensions: a
 * conditional dimension only multiplies the branches where its condition
 * holds. Conditions form a forest (each dimension has at most one parent,
 * declared before it), so the assignments are counted per subtree and point r
 * of the enumeration is decoded from r in mixed radix ("unranking"): the grid
 * is never materialised, only a permutation of its ranks.
 */
import { invalid } from "../errors.js";
import { isFinished, type GridAxisDef } from "../model.js";
import { createRng } from "../rng.js";
import { CompiledSpace, scalarInDomain, type Dim, type FlatParams, type ScalarValue } from "../space.js";
import { discreteSize, discreteValues, spacedValues } from "./domain-map.js";
import type { SampleContext, SampleResult, Sampler, TrialView } from "./sampler.js";
import { STREAM_GRID_ORDER } from "./streams.js";

/** Largest grid accepted: bounds the permutation (4 bytes a point) and the used-point set. */
export const MAX_GRID_POINTS = 1_000_000;

export interface GridFields {
  /** Path of the algorithm spec, for axis errors (e.g. "study.spec.algorithm"). */
  algorithm: string;
  /** Path of the search space, for parameters the grid cannot cover. */
  space: string;
}

interface GridNode {
  dim: Dim;
  values: ScalarValue[];
  /** Dimensions conditioned on this one, in declaration order. */
  children: GridNode[];
  /** cum[k]: assignments of this subtree whose value index is below k; cum[values.length] = size. */
  cum: Float64Array;
  size: number;
}

export class GridSampler implements Sampler {
  readonly name = "grid";
  /** Number of grid points (distinct flat assignments of the active dimensions). */
  readonly size: number;
  private readonly roots: GridNode[];
  /** The key a point has once stored as a trial (see canonicalKey). */
  private readonly keyOf: (flat: FlatParams) => string;

  /** Ranks in visiting order, for `orderSeed`. */
  private order: Uint32Array | undefined;
  private orderSeed: number | undefined;
  /** Keys of every point some trial already has (trials only grow, so this only grows). */
  private readonly used = new Set<string>();
  /** How many of ctx.trials are in `used`. */
  private indexed = 0;
  /** Every position of `order` before the cursor is used. */
  private cursor = 0;
  /** Trials before this position are finished (finished is final). */
  private firstUnfinished = 0;

  constructor(space: CompiledSpace, axes: readonly GridAxisDef[], fields: GridFields) {
    this.keyOf = canonicalKey(space);
    const explicit = axisValues(space, axes, `${fields.algorithm}.grid.axes`);
    const nodes = space.dims.map((dim) => ({
      dim,
      values: explicit.get(dim.name) ?? defaultValues(space, dim, fields.space),
      children: [] as GridNode[],
      cum: new Float64Array(0),
      size: 0,
    }));
    const byName = new Map(nodes.map((n) => [n.dim.name, n]));
    this.roots = [];
    for (const node of nodes) {
      const parent = node.dim.condition ? byName.get(node.dim.condition.parent) : undefined;
      (parent ? parent.children : this.roots).push(node);
    }
    // Parents come first, so in reverse every child is sized before its parent.
    for (const node of [...nodes].reverse()) sizeNode(node);
    this.size = this.roots.reduce((p, n) => p * n.size, 1);
    if (this.size > MAX_GRID_POINTS) {
      const count = Number.isFinite(this.size) ? String(this.size) : "too many";
      throw invalid(`${fields.algorithm}.grid`, `the grid has ${count} points, more than ${MAX_GRID_POINTS}; give fewer axis values`);
    }
  }

  sample(ctx: SampleContext): SampleResult {
    const order = this.orderFor(ctx.seed);
    this.indexTrials(ctx.trials);
    for (; this.cursor < order.length; this.cursor++) {
      const flat = this.point(order[this.cursor]);
      // The cursor stays on the point it returns: if the caller drops it, the
      // next call offers it again; once a trial holds it, it is skipped.
      if (!this.used.has(this.keyOf(flat))) return { kind: "params", flat };
    }
    return this.anyUnfinished(ctx.trials) ? { kind: "wait" } : { kind: "exhausted" };
  }

  /** Every grid point, in enumeration (unshuffled) order. */
  *enumerate(): Generator<FlatParams> {
    for (let r = 0; r < this.size; r++) yield this.point(r);
  }

  /** The grid point of rank r in [0, size). */
  point(rank: number): FlatParams {
    const flat: FlatParams = {};
    let r = rank;
    for (const root of this.roots) {
      assign(root, r % root.size, flat);
      r = Math.floor(r / root.size);
    }
    return flat;
  }

  private orderFor(seed: number): Uint32Array {
    if (this.order === undefined || this.orderSeed !== seed) {
      this.order = shuffledRanks(this.size, seed);
      this.orderSeed = seed;
      this.cursor = 0;
    }
    return this.order;
  }

  private indexTrials(trials: readonly TrialView[]): void {
    if (trials.length < this.indexed) {
      // Not the trial list this instance has seen grow: start over.
      this.used.clear();
      this.indexed = 0;
      this.cursor = 0;
      this.firstUnfinished = 0;
    }
    for (; this.indexed < trials.length; this.indexed++) {
      this.used.add(this.keyOf(trials[this.indexed].flat));
    }
  }

  /** Whether some trial is still QUEUED or RUNNING; amortised O(1) since states only move to finished. */
  private anyUnfinished(trials: readonly TrialView[]): boolean {
    while (this.firstUnfinished < trials.length && isFinished(trials[this.firstUnfinished].state)) {
      this.firstUnfinished++;
    }
    return this.firstUnfinished < trials.length;
  }
}

/**
 * Key of a point as the study will hold it. The engine stores assembled
 * parameters and shows trials as their flattening, and for schedules that
 * round trip is not the identity (milestones come back sorted), so comparing
 * raw flat values would never see some points as used and hand them out
 * forever. Spaces without schedules round-trip exactly and skip the detour.
 */
function canonicalKey(space: CompiledSpace): (flat: FlatParams) => string {
  if (!space.def.parameters.some((p) => p.domain.type === "lr_schedule")) return (flat) => CompiledSpace.key(flat);
  return (flat) => CompiledSpace.key(space.flatten(space.assemble(flat)));
}

/** Children of `node` that are active when it takes `value`. */
const activeChildren = (node: GridNode, value: ScalarValue): GridNode[] =>
  node.children.filter((c) => c.dim.condition?.values.includes(value) === true);

/** Fill cum and size: a value contributes the product of its active children's sizes. */
function sizeNode(node: GridNode): void {
  node.cum = new Float64Array(node.values.length + 1);
  node.values.forEach((v, k) => {
    const branches = activeChildren(node, v).reduce((p, c) => p * c.size, 1);
    node.cum[k + 1] = node.cum[k] + branches;
  });
  node.size = node.cum[node.values.length];
}

/** Decode rank r in [0, node.size) into values of the node and its active subtree. */
function assign(node: GridNode, r: number, flat: FlatParams): void {
  // Largest k with cum[k] <= r.
  let lo = 0;
  let hi = node.values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (node.cum[mid] <= r) lo = mid;
    else hi = mid - 1;
  }
  const value = node.values[lo];
  flat[node.dim.name] = value;
  let rest = r - node.cum[lo];
  for (const child of activeChildren(node, value)) {
    assign(child, rest % child.size, flat);
    rest = Math.floor(rest / child.size);
  }
}

/** A seeded Fisher-Yates shuffle of 0..n-1; depends on the seed only. */
function shuffledRanks(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = createRng(seed, STREAM_GRID_ORDER);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** The values of a dimension without an axis: all of them, when finite and not too many. */
function defaultValues(space: CompiledSpace, dim: Dim, spaceField: string): ScalarValue[] {
  const field = `${spaceField}.parameters[${space.def.parameters.findIndex((p) => p.name === dim.owner)}]`;
  const n = discreteSize(dim.domain);
  if (n === undefined) throw invalid(field, `grid needs a step or a grid axis for float parameter "${dim.name}"`);
  if (n > MAX_GRID_POINTS) {
    throw invalid(field, `grid would need ${n} values for parameter "${dim.name}" (at most ${MAX_GRID_POINTS}); give it a grid axis`);
  }
  return discreteValues(dim.domain) ?? [];
}

/** Validate the axes and give the values of each, by dimension name. */
function axisValues(space: CompiledSpace, axes: readonly GridAxisDef[], field: string): Map<string, ScalarValue[]> {
  const out = new Map<string, ScalarValue[]>();
  axes.forEach((axis, i) => {
    const f = `${field}[${i}]`;
    const dim = space.dim(axis.parameter);
    if (dim === undefined) throw invalid(`${f}.parameter`, unknownDimMessage(space, axis.parameter));
    if (out.has(dim.name)) throw invalid(`${f}.parameter`, `a second axis for "${dim.name}"`);
    out.set(dim.name, oneAxis(dim, axis, f));
  });
  return out;
}

function oneAxis(dim: Dim, axis: GridAxisDef, f: string): ScalarValue[] {
  const d = dim.domain;
  if (axis.values.length > 0 && axis.numPoints !== 0) throw invalid(f, "give values or num_points, not both");
  if (axis.values.length > 0) {
    if (axis.values.length > MAX_GRID_POINTS) throw invalid(`${f}.values`, `more than ${MAX_GRID_POINTS} values`);
    const seen = new Set<ScalarValue>();
    axis.values.forEach((v, j) => {
      if (!scalarInDomain(v, d)) throw invalid(`${f}.values[${j}]`, `${JSON.stringify(v)} is not a value of "${dim.name}"`);
      if (seen.has(v)) throw invalid(`${f}.values[${j}]`, `duplicate value ${JSON.stringify(v)}`);
      seen.add(v);
    });
    return [...axis.values];
  }
  if (axis.numPoints === 0) throw invalid(f, `needs values or num_points >= 1 for "${dim.name}"`);
  if (!Number.isSafeInteger(axis.numPoints) || axis.numPoints < 1 || axis.numPoints > MAX_GRID_POINTS) {
    throw invalid(`${f}.num_points`, `must be an integer in [1, ${MAX_GRID_POINTS}]`);
  }
  if (d.type === "categorical") {
    throw invalid(`${f}.num_points`, `"${dim.name}" is categorical: list the choices to use as values`);
  }
  return spacedValues(d, axis.numPoints);
}

function unknownDimMessage(space: CompiledSpace, name: string): string {
  const p = space.parameter(name);
  if (p?.domain.type === "lr_schedule") {
    return `"${name}" is a schedule: name its parts instead (${name}/kind, ${name}/<kind>/<hyperparameter>)`;
  }
  return `unknown parameter "${name}"`;
}
