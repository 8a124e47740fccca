/**
 * TPE's incremental view of a study's history, so that the cost of a
 * suggestion is bounded in the number of trials by design:
 *
 * - Each trial's class and ranking keys (split.ts) and its unit coordinate in
 *   every modelled dimension are computed once, when its view first appears
 *   or changes (views are immutable: the runtime and the sampler pool replace
 *   a trial's view object whenever the trial changes). Finding the changed
 *   views is one identity comparison per trial, the only per-trial work left
 *   in a suggestion.
 * - The ranked trials (COMPLETE, PRUNED) are kept sorted by ranking key, so
 *   the good group is the head of that list.
 * - Per group of dimensions, Fenwick trees over the trials where the group
 *   was observed answer "how many observations" and "the p-th observation in
 *   trial order" in O(log n), for the bad group, the succeeded trials and the
 *   failed ones.
 * - Estimators are fitted to at most `maxKernels` observations per group
 *   (the cap, see `gather`), so fitting and scoring are bounded too.
 *
 * Results equal a from-scratch computation (splitTrials + observe) exactly;
 * the cache only saves work.
 */
import type { Direction } from "../../model.js";
import type { CompiledSpace, ScalarValue } from "../../space.js";
import type { TrialView } from "../sampler.js";
import { Fenwick } from "./fenwick.js";
import type { Observations } from "./parzen.js";
import { defaultWeights, type TpeSettings } from "./settings.js";
import { spaceModel, toUnit, type Group, type ModelDim } from "./space-model.js";
import { classifyTrial, Cls, objectiveSigns, splitTrials, type RankKey } from "./split.js";

/** Unit coordinate (numeric) or choice index (categorical) of a value; NaN when absent or illegal. */
export function encode(md: ModelDim, v: ScalarValue | undefined): number {
  if (v === undefined) return Number.NaN;
  if (md.kind === "categorical") {
    const i = md.choices.indexOf(v);
    return i < 0 ? Number.NaN : i;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) return Number.NaN;
  const d = md.domain;
  if (v < d.low || v > d.high || (md.log && v <= 0)) return Number.NaN;
  return toUnit(md, v);
}

/** An ordered set of trial indices (ascending): its size, its p-th member and all members. */
export interface IndexSource {
  readonly n: number;
  at(p: number): number;
  all(): number[];
}

/** The members of a Fenwick tree minus a few excluded ones (sorted, all members). */
class Excluding implements IndexSource {
  readonly n: number;
  constructor(
    private readonly tree: Fenwick,
    private readonly excluded: readonly number[],
    /** Membership of index i (in the tree and not excluded), O(1). */
    private readonly has: (i: number) => boolean,
  ) {
    this.n = tree.count - excluded.length;
  }

  all(): number[] {
    const n = this.n;
    const out = new Array<number>(n);
    if (n === 0) return out;
    const first = this.at(0);
    const last = this.at(n - 1);
    if (last - first + 1 <= 8 * n) {
      // Dense: one pass over the span, O(1) per index.
      let k = 0;
      for (let i = first; i <= last && k < n; i++) if (this.has(i)) out[k++] = i;
      return out;
    }
    for (let p = 0; p < n; p++) out[p] = this.at(p);
    return out;
  }

  at(p: number): number {
    // The p-th kept member is the (p + j)-th member, j the excluded ones before it.
    let j = 0;
    for (;;) {
      const idx = this.tree.kth(p + j);
      const c = upperBound(this.excluded, idx);
      if (c === j) return idx;
      j = c;
    }
  }
}

class ListSource implements IndexSource {
  readonly n: number;
  constructor(private readonly list: readonly number[]) {
    this.n = list.length;
  }
  at(p: number): number {
    return this.list[p];
  }
  all(): number[] {
    return [...this.list];
  }
}

/** Number of xs (sorted ascending) <= x. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface GroupIndex {
  /** Coordinate columns of the group's dimensions. */
  cols: Float64Array[];
  /** Observed trials in the bad-group pool (ranked, liars, failed when used). */
  pool: Fenwick;
  /** Observed ranked trials (the succeeded ones). */
  ranked: Fenwick;
  /** Observed failed trials (when failures are used). */
  failed: Fenwick;
}

/** One call's split, as index sources per group (see TpeHistory.split). */
export interface HistorySplit {
  /** Trials that count towards the start-up phase. */
  informative: number;
  /** Good group, ascending trial order. */
  below: number[];
  /** Index of the trial being sampled when it is in the history, else -1. */
  skip: number;
  /** Whether any failed trial is used. */
  anyFailed: boolean;
}

/** Changes past this share of the history rebuild the indexes instead of updating them. */
const BULK_FRACTION = 1 / 8;

type Settings = Pick<TpeSettings, "gamma" | "constantLiar" | "failedTrials">;

export class TpeHistory {
  readonly space: CompiledSpace;
  readonly directionsKey: string;
  private readonly directions: readonly Direction[];
  private readonly settings: Settings;
  private readonly signs: number[];
  private readonly useFailed: boolean;
  /** Modelled dimensions, by dim index. */
  private readonly dims: Map<number, ModelDim>;

  private views: (TrialView | undefined)[] = [];
  private size = 0;
  private capacity = 0;
  private cls = new Uint8Array(0);
  private k1 = new Float64Array(0);
  private k2 = new Float64Array(0);
  private coords = new Map<number, Float64Array>();
  /** Ranked trial indices, best first. */
  private ranked: number[] = [];
  private nFailed = 0;
  /** Views whose id differs from their index (not the daemon's dense ids). */
  private mismatched = 0;
  private groups = new Map<Group, GroupIndex>();
  private readonly scratch: RankKey = { cls: 0, k1: 0, k2: 0 };

  constructor(space: CompiledSpace, directions: readonly Direction[], settings: Settings) {
    this.space = space;
    this.directions = [...directions];
    this.directionsKey = directions.join(",");
    this.settings = settings;
    this.signs = objectiveSigns(directions);
    this.useFailed = settings.failedTrials !== "ignore";
    const model = spaceModel(space);
    this.dims = new Map();
    for (const g of [...model.independent.values(), ...model.joint.values()]) for (const md of g.dims) this.dims.set(md.dim.index, md);
  }

  /** Brings the indexes up to date with `trials`: O(changed views · log n) after one identity pass. */
  update(trials: readonly TrialView[]): void {
    const n = trials.length;
    const old = this.size;
    const changed: number[] = [];
    const common = Math.min(n, old);
    const views = this.views;
    for (let i = 0; i < common; i++) if (trials[i] !== views[i]) changed.push(i);
    for (let i = common; i < Math.max(n, old); i++) changed.push(i);
    if (changed.length === 0) return;
    if (n > this.capacity) this.grow(n);
    const bulk = changed.length > 64 && changed.length > BULK_FRACTION * Math.max(n, old);
    if (bulk) this.groups.clear();
    else if (this.groups.size > 0 && n > 0 && ![...this.groups.values()].every((gi) => gi.pool.fits(n - 1))) this.groups.clear();
    for (const i of changed) {
      if (!bulk && i < old) this.leave(i);
      this.write(i, i < n ? trials[i] : undefined);
      if (!bulk && i < n) this.enter(i);
    }
    this.size = n;
    if (n < views.length) views.length = n;
    if (bulk) {
      const ranked: number[] = [];
      for (let i = 0; i < n; i++) if (this.cls[i] <= Cls.Infeasible) ranked.push(i);
      ranked.sort((a, b) => this.compare(a, b));
      this.ranked = ranked;
    }
  }

  private grow(n: number): void {
    let cap = Math.max(16, this.capacity);
    while (cap < n) cap *= 2;
    const cls = new Uint8Array(cap).fill(Cls.Skip);
    cls.set(this.cls.subarray(0, this.size));
    this.cls = cls;
    const k1 = new Float64Array(cap);
    k1.set(this.k1.subarray(0, this.size));
    this.k1 = k1;
    const k2 = new Float64Array(cap);
    k2.set(this.k2.subarray(0, this.size));
    this.k2 = k2;
    for (const [d, col] of this.coords) {
      const c = new Float64Array(cap).fill(Number.NaN);
      c.set(col.subarray(0, this.size));
      this.coords.set(d, c);
    }
    for (const d of this.dims.keys()) if (!this.coords.has(d)) this.coords.set(d, new Float64Array(cap).fill(Number.NaN));
    this.capacity = cap;
  }

  /** Ranking order: (class, k1, k2, index). */
  private compare(a: number, b: number): number {
    const cls = this.cls;
    if (cls[a] !== cls[b]) return cls[a] - cls[b];
    const k1 = this.k1;
    if (k1[a] !== k1[b]) return k1[a] < k1[b] ? -1 : 1;
    const k2 = this.k2;
    if (k2[a] !== k2[b]) return k2[a] < k2[b] ? -1 : 1;
    return a - b;
  }

  /** Position of index i in the ranked list (or where it would go). */
  private rankPosition(i: number): number {
    const r = this.ranked;
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(r[mid], i) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private inPool(i: number): boolean {
    const c = this.cls[i];
    return c <= Cls.Liar || (c === Cls.Failed && this.useFailed);
  }

  private isFailed(i: number): boolean {
    return this.useFailed && this.cls[i] === Cls.Failed;
  }

  private observed(cols: readonly Float64Array[], i: number): boolean {
    for (const col of cols) if (Number.isNaN(col[i])) return false;
    return true;
  }

  /** Removes index i (with its current class and coordinates) from the indexes. */
  private leave(i: number): void {
    const c = this.cls[i];
    if (c <= Cls.Infeasible) {
      const p = this.rankPosition(i);
      if (this.ranked[p] === i) this.ranked.splice(p, 1);
    }
    this.touchGroups(i, -1);
  }

  /** Adds index i (with its current class and coordinates) to the indexes. */
  private enter(i: number): void {
    if (this.cls[i] <= Cls.Infeasible) this.ranked.splice(this.rankPosition(i), 0, i);
    this.touchGroups(i, 1);
  }

  private touchGroups(i: number, delta: number): void {
    for (const gi of this.groups.values()) {
      if (!this.observed(gi.cols, i)) continue;
      if (this.inPool(i)) gi.pool.add(i, delta);
      if (this.cls[i] <= Cls.Infeasible) gi.ranked.add(i, delta);
      if (this.isFailed(i)) gi.failed.add(i, delta);
    }
  }

  /** Stores the class, keys and coordinates of index i (view undefined: removed). */
  private write(i: number, v: TrialView | undefined): void {
    const before = this.cls[i];
    if (before === Cls.Failed) this.nFailed--;
    if (this.views[i] !== undefined && (this.views[i] as TrialView).id !== i) this.mismatched--;
    this.views[i] = v;
    if (v === undefined) {
      this.cls[i] = Cls.Skip;
      for (const col of this.coords.values()) col[i] = Number.NaN;
      return;
    }
    if (v.id !== i) this.mismatched++;
    const key = classifyTrial(v, this.signs, this.settings.constantLiar, this.scratch);
    this.cls[i] = key.cls;
    this.k1[i] = key.k1;
    this.k2[i] = key.k2;
    if (key.cls === Cls.Failed) this.nFailed++;
    for (const [d, md] of this.dims) (this.coords.get(d) as Float64Array)[i] = encode(md, v.flat[md.dim.name]);
  }

  private groupIndex(g: Group): GroupIndex {
    let gi = this.groups.get(g);
    if (gi === undefined) {
      const cols = g.dims.map((md) => this.coords.get(md.dim.index) as Float64Array);
      const n = this.size;
      const obs = new Uint8Array(n);
      for (let i = 0; i < n; i++) obs[i] = this.observed(cols, i) ? 1 : 0;
      const size = Math.max(n, this.capacity);
      gi = {
        cols,
        pool: new Fenwick(size, (i) => i < n && obs[i] === 1 && this.inPool(i)),
        ranked: new Fenwick(size, (i) => i < n && obs[i] === 1 && this.cls[i] <= Cls.Infeasible),
        failed: new Fenwick(size, (i) => i < n && obs[i] === 1 && this.isFailed(i)),
      };
      this.groups.set(g, gi);
    }
    return gi;
  }

  /** Index of the trial with this id, or -1. */
  private indexOf(id: number): number {
    if (this.mismatched === 0) return id >= 0 && id < this.size && this.views[id] !== undefined ? id : -1;
    for (let i = 0; i < this.size; i++) if ((this.views[i] as TrialView).id === id) return i;
    return -1;
  }

  /**
   * The good group and start-up count for sampling trial `skipId` (a trial
   * with that id, if present, is left out of everything). Single objective:
   * the head of the ranked list; several objectives: splitTrials (O(n)).
   */
  split(trials: readonly TrialView[], skipId: number): HistorySplit {
    const skip = this.indexOf(skipId);
    const skipRanked = skip >= 0 && this.cls[skip] <= Cls.Infeasible;
    const nRanked = this.ranked.length - (skipRanked ? 1 : 0);
    const informative = nRanked + (this.useFailed ? this.nFailed - (skip >= 0 && this.cls[skip] === Cls.Failed ? 1 : 0) : 0);
    let below: number[];
    if (this.directions.length > 1) below = splitTrials(trials, this.directions, this.settings, skipId).below;
    else {
      const nBelow = Math.max(0, Math.min(nRanked, Math.floor(this.settings.gamma(nRanked))));
      below = [];
      for (let r = 0; below.length < nBelow; r++) if (this.ranked[r] !== skip) below.push(this.ranked[r]);
      below.sort((a, b) => a - b);
    }
    return { informative, below, skip, anyFailed: this.useFailed && this.nFailed - (skip >= 0 && this.cls[skip] === Cls.Failed ? 1 : 0) > 0 };
  }

  /** The group's observations among the good trials, in trial order. */
  belowSource(g: Group, split: HistorySplit): IndexSource {
    const cols = this.groupIndex(g).cols;
    return new ListSource(split.below.filter((i) => this.observed(cols, i)));
  }

  /** The group's observations in the bad group (pool minus the good trials and the skipped one), in trial order. */
  aboveSource(g: Group, split: HistorySplit): IndexSource {
    const gi = this.groupIndex(g);
    const ex = split.below.filter((i) => this.observed(gi.cols, i) && this.inPool(i));
    if (split.skip >= 0 && this.observed(gi.cols, split.skip) && this.inPool(split.skip)) ex.push(split.skip);
    ex.sort((a, b) => a - b);
    const out = new Set(ex);
    return new Excluding(gi.pool, ex, (i) => this.inPool(i) && this.observed(gi.cols, i) && !out.has(i));
  }

  /** The group's observations among trials that succeeded (ranked), in trial order. */
  succeededSource(g: Group, split: HistorySplit): IndexSource {
    const gi = this.groupIndex(g);
    const skipIn = split.skip >= 0 && this.observed(gi.cols, split.skip) && this.cls[split.skip] <= Cls.Infeasible;
    return new Excluding(gi.ranked, skipIn ? [split.skip] : [], (i) => this.cls[i] <= Cls.Infeasible && this.observed(gi.cols, i) && i !== split.skip);
  }

  /** The group's observations among failed trials, in trial order. */
  failedSource(g: Group, split: HistorySplit): IndexSource {
    const gi = this.groupIndex(g);
    const skipIn = split.skip >= 0 && this.observed(gi.cols, split.skip) && this.isFailed(split.skip);
    return new Excluding(gi.failed, skipIn ? [split.skip] : [], (i) => this.isFailed(i) && this.observed(gi.cols, i) && i !== split.skip);
  }

  /**
   * Observations of group g at the source's trials, with kernel weights.
   *
   * The cap: up to `maxKernels` observations, all of them are used and
   * `weights` is undefined (the estimator applies the weight function to
   * them: exactly Optuna's estimator). Past the cap, g(x) is estimated from a
   * fixed-size, weight-preserving subsample of the same weighted mixture:
   *   - the most recent half of the cap, each with its own weight (with
   *     Optuna's default weights these are the heaviest kernels);
   *   - for the older observations, the other half drawn by systematic
   *     sampling in trial order with probability proportional to weight (one
   *     uniform offset from `rng`, so it is seed-stable and covers every age
   *     stratum evenly); each drawn kernel carries (total older weight) /
   *     (draws), so the subsample's total weight, and hence the prior's
   *     share, equals the full set's, and the mixture is an unbiased
   *     estimate of the full one.
   * Bandwidths then come from the subsample's own neighbour distances: a
   * kernel density estimate of the same weighted distribution from fewer
   * points (with the magic clip at range/100 both ways once there are 99
   * kernels). Cost O(maxKernels · log n), whatever the history's size.
   */
  gather(g: Group, src: IndexSource, weightFn: (n: number) => Float64Array, maxKernels: number, rng: () => number): Gathered {
    const gi = this.groupIndex(g);
    const n = src.n;
    const cap = Math.max(2, Math.floor(maxKernels));
    if (n <= cap) return { obs: this.columns(gi, src.all()), total: n };
    const recent = Math.floor(cap / 2);
    const older = n - recent;
    const draws = cap - recent;
    const cum = cumulativeWeights(weightFn, n);
    const wOld = cum(older);
    const idx: number[] = [];
    const w: number[] = [];
    if (wOld > 0) {
      const u = rng();
      const each = wOld / draws;
      let lastPos = -1;
      for (let j = 0; j < draws; j++) {
        const t = (j + u) * each;
        // The position whose weight interval [cum(p), cum(p + 1)) holds t.
        let lo = Math.max(0, lastPos);
        let hi = older - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (cum(mid) <= t) lo = mid;
          else hi = mid - 1;
        }
        if (lo === lastPos) w[w.length - 1] += each;
        else {
          idx.push(src.at(lo));
          w.push(each);
          lastPos = lo;
        }
      }
    }
    for (let p = older; p < n; p++) {
      idx.push(src.at(p));
      w.push(cum(p + 1) - cum(p));
    }
    return { obs: this.columns(gi, idx), total: n, weights: Float64Array.from(w) };
  }

  private columns(gi: GroupIndex, idx: readonly number[]): Observations {
    const m = idx.length;
    return {
      n: m,
      cols: gi.cols.map((col) => {
        const out = new Float64Array(m);
        for (let p = 0; p < m; p++) out[p] = col[idx[p]];
        return out;
      }),
    };
  }
}

export interface Gathered {
  obs: Observations;
  /** Observations in the full set (before the cap). */
  total: number;
  /** Kernel weights when subsampled; undefined: the weight function's own. */
  weights?: Float64Array;
}

/**
 * cum(p) = the sum of the first p weights of n observations. Optuna's
 * default weights in closed form (a linear ramp from 1/n to 1 over the n - 25
 * oldest, then ones), so the cap costs O(1) per look-up; any other weight
 * function is evaluated once (O(n)).
 */
function cumulativeWeights(weightFn: (n: number) => Float64Array, n: number): (p: number) => number {
  if (weightFn === defaultWeights && n >= 25) {
    const ramp = n - 25;
    const a = 1 / n;
    const b = ramp > 1 ? (1 - 1 / n) / (ramp - 1) : 0;
    const rampSum = (p: number): number => a * p + (b * p * (p - 1)) / 2;
    const full = rampSum(ramp);
    return (p) => (p <= ramp ? rampSum(p) : full + (p - ramp));
  }
  const ws = weightFn(n);
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const x = ws[i];
    prefix[i + 1] = prefix[i] + (Number.isFinite(x) && x > 0 ? x : 0);
  }
  return (p) => prefix[p];
}
