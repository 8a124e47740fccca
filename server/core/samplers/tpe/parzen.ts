/**
 * The Parzen estimator of TPE: a mixture of one kernel per observation plus
 * a prior kernel, over one group of dimensions (one dimension for the
 * independent variant). Each kernel is a product over the group's
 * dimensions: a normal truncated to the unit interval for numeric
 * dimensions (its mass over a value's cell for stepped ones), and for
 * categorical ones a distribution putting extra weight on the observed
 * choice and spreading the rest uniformly. Bandwidths follow Optuna 3.1:
 * Scott's rule (0.2 n^(-1/(d+4)) of the range) for joint kernels, the
 * distance to the farther neighbour for independent ones; both clipped
 * ("magic clip") to [range / min(100, 1 + kernels), range]. The prior kernel
 * sits mid-range with the whole range as bandwidth. Kernels are drawn by their
 * weights; with bandwidthWeighted, densities are evaluated with weights
 * proportional to weight x bandwidths (see TpeSettings.bandwidthWeighted).
 *
 * Everything runs in unit coordinates (see space-model.ts), on Float64Array
 * columns, so evaluating c candidates against k kernels is a handful of
 * tight c x k loops.
 */
import type { Rng } from "../../rng.js";
import { LOG_SQRT_2PI, logGaussMass, logGaussMassFromTails, logSmallTail } from "./gauss.js";
import type { ModelDim } from "./space-model.js";

const EPS = 1e-12;
const SIGMA0_MAGNITUDE = 0.2;

export interface ParzenParams {
  multivariate: boolean;
  priorWeight: number;
  considerMagicClip: boolean;
  considerEndpoints: boolean;
  weights: (n: number) => Float64Array;
  /** See TpeSettings.bandwidthWeighted. */
  bandwidthWeighted: boolean;
}

/** Observations of one group: per dimension a column of unit coordinates (numeric) or choice indices (categorical), n each. */
export interface Observations {
  n: number;
  cols: Float64Array[];
}

/** Candidate points to evaluate, one column per dimension of the group. */
export type CandidateCol =
  | { kind: "continuous"; u: Float64Array }
  /** A stepped value's cell [lo, hi] in unit coordinates. */
  | { kind: "discrete"; lo: Float64Array; hi: Float64Array }
  | { kind: "categorical"; index: Int32Array };

interface NumericKernels {
  kind: "numeric";
  discrete: boolean;
  mu: Float64Array;
  sigma: Float64Array;
  invSigma: Float64Array;
}

interface CategoricalKernels {
  kind: "categorical";
  nChoices: number;
  /** Observed choice per kernel; -1 for the prior kernel. */
  obs: Int32Array;
  logPObserved: number;
  logPOther: number;
  logUniform: number;
  pObserved: number;
}

type Kernels = NumericKernels | CategoricalKernels;

export class ParzenEstimator {
  /** Number of kernels (observations + prior). */
  readonly k: number;
  /** Normalised kernel weights, and their running sum for sampling. */
  readonly weights: Float64Array;
  private readonly cumulative: Float64Array;
  private readonly kernels: Kernels[];
  /** Per kernel: log weight plus the constant parts of every dimension's log density. */
  private readonly base: Float64Array;

  constructor(dims: readonly ModelDim[], obs: Observations, p: ParzenParams, presetWeights?: Float64Array) {
    const n = obs.n;
    const k = n + 1;
    this.k = k;
    // Weights: the observations' (oldest first) then the prior's, normalised.
    // Weights, their running sum and the per-kernel constant share one buffer.
    const own = new Float64Array(3 * k);
    const w = own.subarray(0, k);
    const ow = presetWeights ?? p.weights(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const x = ow[i];
      w[i] = Number.isFinite(x) && x > 0 ? x : 0;
      sum += w[i];
    }
    w[n] = p.priorWeight > 0 ? p.priorWeight : sum > 0 ? 0 : 1;
    sum += w[n];
    const cumulative = own.subarray(k, 2 * k);
    let acc = 0;
    for (let i = 0; i < k; i++) {
      w[i] /= sum;
      acc += w[i];
      cumulative[i] = acc;
    }
    this.weights = w;
    this.cumulative = cumulative;

    const base = own.subarray(2 * k, 3 * k);
    for (let i = 0; i < k; i++) base[i] = Math.log(w[i]);
    // With bandwidth weighting, the log of each kernel's evaluation weight
    // relative to its sampling weight: the sum of its continuous log bandwidths.
    let logBandwidths: Float64Array | undefined;
    // Kernels below this bandwidth are clipped (range is 1 in unit coordinates).
    const minSigma = p.considerMagicClip ? 1 / Math.min(100, 1 + k) : EPS;
    const sigma0 = SIGMA0_MAGNITUDE * Math.max(n, 1) ** (-1 / (dims.length + 4));
    this.kernels = dims.map((md, j): Kernels => {
      const col = obs.cols[j];
      if (md.kind === "categorical") {
        const c = md.choices.length;
        const idx = new Int32Array(k);
        for (let i = 0; i < n; i++) idx[i] = col[i];
        idx[n] = -1;
        // Optuna: every kernel row starts at priorWeight / kernels per choice,
        // the observed choice gets +1, and the row is normalised.
        const fill = p.priorWeight / k;
        const rowSum = 1 + c * fill;
        const pObserved = (1 + fill) / rowSum;
        return {
          kind: "categorical",
          nChoices: c,
          obs: idx,
          pObserved,
          logPObserved: Math.log(pObserved),
          logPOther: Math.log(fill / rowSum),
          logUniform: -Math.log(c),
        };
      }
      const buf = new Float64Array(3 * k);
      const mu = buf.subarray(0, k);
      mu.set(col);
      mu[n] = 0.5;
      const sigma = buf.subarray(k, 2 * k);
      if (p.multivariate) sigma.fill(sigma0);
      else neighbourBandwidths(mu, p.considerEndpoints, sigma);
      for (let i = 0; i < k; i++) sigma[i] = Math.min(1, Math.max(minSigma, sigma[i]));
      sigma[n] = 1;
      const invSigma = buf.subarray(2 * k, 3 * k);
      const discrete = md.halfStep > 0;
      for (let i = 0; i < k; i++) {
        invSigma[i] = 1 / sigma[i];
        // Truncation to the unit interval.
        const logZ = logGaussMass(-mu[i] * invSigma[i], (1 - mu[i]) * invSigma[i]);
        base[i] -= discrete ? logZ : logZ + LOG_SQRT_2PI;
      }
      if (!discrete) {
        // The normal's 1 / sigma: cancelled by the evaluation weight when bandwidth-weighted.
        if (p.bandwidthWeighted) logBandwidths ??= new Float64Array(k);
        else for (let i = 0; i < k; i++) base[i] -= Math.log(sigma[i]);
      }
      return { kind: "numeric", discrete, mu, sigma, invSigma };
    });
    if (logBandwidths !== undefined) {
      // Evaluation weights w_k * prod_j sigma_jk, renormalised: the densities
      // stay normalised mixtures. (Their 1 / sigma factors were left out of base.)
      for (const kern of this.kernels) {
        if (kern.kind !== "numeric" || kern.discrete) continue;
        for (let i = 0; i < k; i++) logBandwidths[i] += Math.log(kern.sigma[i]);
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < k; i++) max = Math.max(max, Math.log(w[i]) + logBandwidths[i]);
      let total = 0;
      for (let i = 0; i < k; i++) if (w[i] > 0) total += Math.exp(Math.log(w[i]) + logBandwidths[i] - max);
      const logNorm = max + Math.log(total);
      for (let i = 0; i < k; i++) base[i] -= logNorm;
    }
    this.base = base;
  }

  /** A kernel index drawn by weight. */
  sampleKernel(rng: Rng): number {
    const u = rng.next() * this.cumulative[this.k - 1];
    let lo = 0;
    let hi = this.k - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** A unit coordinate for numeric dimension j from kernel i (a normal truncated to [0, 1]). */
  sampleNumeric(j: number, i: number, rng: Rng): number {
    const kern = this.kernels[j] as NumericKernels;
    const mu = kern.mu[i];
    const s = kern.sigma[i];
    // Rejection: kernels are centred inside [0, 1] with sigma <= 1, so at
    // least a third of the draws land inside.
    for (let t = 0; t < 64; t++) {
      const x = mu + s * rng.normal();
      if (x >= 0 && x <= 1) return x;
    }
    return Math.min(1, Math.max(0, mu));
  }

  /** A choice index for categorical dimension j from kernel i. */
  sampleCategorical(j: number, i: number, rng: Rng): number {
    const kern = this.kernels[j] as CategoricalKernels;
    const c = kern.nChoices;
    const u = rng.next();
    const o = kern.obs[i];
    if (o < 0) return Math.min(c - 1, Math.floor(u * c));
    if (u < kern.pObserved) return o;
    // Uniform over the other c - 1 choices.
    const r = Math.min(c - 2, Math.floor(((u - kern.pObserved) / (1 - kern.pObserved)) * (c - 1)));
    return r >= o ? r + 1 : r;
  }

  /** log density (mass, for stepped and categorical dimensions) of each candidate under the mixture. */
  logPdf(cols: readonly CandidateCol[], nc: number): Float64Array {
    const k = this.k;
    // Stepped dimensions: each kernel's log mass over each distinct cell,
    // computed once (candidates often share values), from the normal's log
    // tails at the distinct cell ends (neighbouring cells share ends).
    const cellMass: (Map<number, Float64Array> | undefined)[] = cols.map((col, j) => {
      if (col.kind !== "discrete") return undefined;
      const { mu, invSigma } = this.kernels[j] as NumericKernels;
      const cells = new Map<number, number>();
      for (let c = 0; c < nc; c++) if (!cells.has(col.lo[c])) cells.set(col.lo[c], col.hi[c]);
      const endIndex = new Map<number, number>();
      for (const [lo, hi] of cells) {
        if (!endIndex.has(lo)) endIndex.set(lo, endIndex.size);
        if (!endIndex.has(hi)) endIndex.set(hi, endIndex.size);
      }
      const tails = new Float64Array(endIndex.size * k);
      for (const [x, e] of endIndex) {
        const off = e * k;
        for (let i = 0; i < k; i++) tails[off + i] = logSmallTail((x - mu[i]) * invSigma[i]);
      }
      const masses = new Float64Array(cells.size * k);
      const out = new Map<number, Float64Array>();
      let cell = 0;
      for (const [lo, hi] of cells) {
        const a = (endIndex.get(lo) as number) * k;
        const b = (endIndex.get(hi) as number) * k;
        const lm = masses.subarray(cell * k, ++cell * k);
        for (let i = 0; i < k; i++) lm[i] = logGaussMassFromTails((lo - mu[i]) * invSigma[i], (hi - mu[i]) * invSigma[i], tails[a + i], tails[b + i]);
        out.set(lo, lm);
      }
      return out;
    });
    const row = new Float64Array(k);
    const out = new Float64Array(nc);
    // A lone stepped or categorical dimension: candidates with equal values
    // have equal densities, so each distinct value is evaluated once.
    const only = cols.length === 1 ? cols[0] : undefined;
    const memo = only !== undefined && only.kind !== "continuous" ? new Map<number, number>() : undefined;
    for (let c = 0; c < nc; c++) {
      const key = memo === undefined ? 0 : only?.kind === "discrete" ? only.lo[c] : only?.kind === "categorical" ? only.index[c] : 0;
      const known = memo?.get(key);
      if (known !== undefined) {
        out[c] = known;
        continue;
      }
      row.set(this.base);
      for (let j = 0; j < cols.length; j++) {
        const col = cols[j];
        if (col.kind === "continuous") {
          const { mu, invSigma } = this.kernels[j] as NumericKernels;
          const x = col.u[c];
          for (let i = 0; i < k; i++) {
            const z = (x - mu[i]) * invSigma[i];
            row[i] -= 0.5 * z * z;
          }
        } else if (col.kind === "discrete") {
          const lm = cellMass[j]?.get(col.lo[c]) as Float64Array;
          for (let i = 0; i < k; i++) row[i] += lm[i];
        } else {
          const { obs, logPObserved, logPOther, logUniform } = this.kernels[j] as CategoricalKernels;
          const v = col.index[c];
          for (let i = 0; i < k; i++) {
            const o = obs[i];
            row[i] += o === v ? logPObserved : o < 0 ? logUniform : logPOther;
          }
        }
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < k; i++) if (row[i] > max) max = row[i];
      if (max === Number.NEGATIVE_INFINITY) {
        out[c] = max;
        continue;
      }
      // Kernels more than e^-40 below the largest change nothing at double precision.
      const cut = max - 40;
      let sum = 0;
      for (let i = 0; i < k; i++) if (row[i] > cut) sum += Math.exp(row[i] - max);
      out[c] = max + Math.log(sum);
      memo?.set(key, out[c]);
    }
    return out;
  }
}

/**
 * Independent-variant bandwidths (Optuna 3.1): sort the centres with the
 * domain ends added, and give each the larger of its two gaps; without
 * consider_endpoints the outermost centres use their inner gap only.
 */
function neighbourBandwidths(mu: Float64Array, considerEndpoints: boolean, sigma: Float64Array): void {
  const k = mu.length;
  const order = sortedOrder(mu);
  const s = new Float64Array(k + 2);
  for (let r = 0; r < k; r++) s[r + 1] = mu[order[r]];
  s[0] = 0;
  s[k + 1] = 1;
  for (let r = 0; r < k; r++) sigma[order[r]] = Math.max(s[r + 1] - s[r], s[r + 2] - s[r + 1]);
  if (!considerEndpoints && k + 2 >= 4) {
    sigma[order[0]] = s[2] - s[1];
    sigma[order[k - 1]] = s[k] - s[k - 1];
  }
}

/**
 * Indices of xs (all in [0, 1]) in ascending order of value, ties in index
 * order. Packs (value to 2^-32, index) into one exactly representable double
 * so the native numeric sort does the work; values closer than 2^-32 count
 * as equal, which moves no bandwidth by more than that.
 */
function sortedOrder(xs: Float64Array): Uint32Array {
  const k = xs.length;
  const order = new Uint32Array(k);
  const m = 2 ** Math.max(1, Math.ceil(Math.log2(k + 1)));
  if (m > 2 ** 21) {
    for (let i = 0; i < k; i++) order[i] = i;
    return order.sort((a, b) => xs[a] - xs[b] || a - b);
  }
  const keys = new Float64Array(k);
  for (let i = 0; i < k; i++) keys[i] = Math.floor(Math.min(1, Math.max(0, xs[i])) * 4294967296) * m + i;
  keys.sort();
  for (let r = 0; r < k; r++) order[r] = keys[r] % m;
  return order;
}
