/**
 * The CMA-ES strategy as pure functions over immutable states: Hansen's
 * (mu/mu_w, lambda)-CMA-ES ("The CMA Evolution Strategy: A Tutorial", 2016)
 * with cumulative step-size adaptation, rank-one and rank-mu covariance
 * updates and the tutorial's default weights (positive for the mu best, which
 * move the mean; negative "active" weights for the others, which shrink the
 * covariance toward worse, e.g. failed, solutions), on the [0, 1]^n encoding of the
 * numeric parameters (evolution/encoding.ts: log scale for log parameters).
 *
 * Additions for hyperparameter spaces, each a deterministic function of the
 * evaluated generation:
 * - Bounds: a candidate outside [0, 1]^n is redrawn (up to 10 draws), then
 *   clipped; the update uses the point actually evaluated.
 * - Integers and stepped floats (a simplified CMA-ES with margin, Hamano et
 *   al. 2022): a candidate is x = m + sigma * A * y with y ~ N(0, C) and A a
 *   diagonal scaling that is 1 for continuous coordinates and, for discrete
 *   ones, just large enough that the marginal standard deviation is at least
 *   w / (2 * z(1 - alpha / 2)), w the width of the cell holding the mean and
 *   alpha = 1 / (n * lambda): a candidate leaves the mean's cell with
 *   probability >= alpha, so a discrete coordinate never freezes. The update
 *   works on y = A^-1 (x - m) / sigma, with the continuous x that was drawn
 *   (not the rounded value).
 * - Categorical parameters: not in the Gaussian; each has its own probability
 *   vector, uniform at the start of a run and updated from the elite:
 *   p <- (1 - eta) p + eta * (weighted choice frequencies among the mu best
 *   members where it is active), eta = 0.25 * (their share of the weights),
 *   with a floor of 1 / (K * lambda) per choice (the mass raised to
 *   the floor is taken from the choices above it).
 * - Solutions not drawn from this generation's distribution (drawn from an
 *   earlier one while this generation ran, or enqueued/added by users) are
 *   "injected" (Hansen 2011): their y is shortened to a Mahalanobis norm of
 *   at most sqrt(n) + 2n / (n + 2).
 * - Restarts (IPOP, Auger & Hansen 2005): after an update, a run stops on
 *   flat fitness (the whole generation has one fitness, all failed
 *   included: the ranking carries no information; a generation that is
 *   flat but for its failures still ranks them worst and moves on), tolfun (best
 *   values of the last 10 + ceil(30 n / lambda) generations and this one all
 *   within 1e-12, relative), tolx (sigma * sqrt(C_ii) and sigma * pc_i all
 *   below 1e-11), condition number of C above 1e14, no effect of an axis or a
 *   coordinate on the mean, sigma * max(D) above 1e3, or a non-finite value.
 *   The next run starts at a uniformly random mean (from the seed and the run
 *   index) with sigma0 and lambda doubled, up to 2^5 times lambda0.
 */
import type { Rng } from "../../rng.js";
import type { FlatParams } from "../../space.js";
import { cellWidth, fromUnitNumeric, type Genome } from "../evolution/encoding.js";
import { sameFitness, type Fitness } from "../evolution/fitness.js";
import { invSqrtTimes, norm, normalQuantile, scaledRotate, symmetricEigen } from "./linalg.js";

export const MAX_DOUBLINGS = 5;
const BOUND_REDRAWS = 10;
const TOL_X = 1e-11;
const TOL_FUN = 1e-12;
const TOL_CONDITION = 1e14;
const TOL_UP_SIGMA = 1e3;
const CAT_RATE = 0.25;

export interface StrategyParams {
  /** Numeric coordinates. */
  n: number;
  lambda: number;
  mu: number;
  /**
   * Recombination weights of the lambda ranks: the mu best positive (summing
   * to 1, they move the mean), the others negative (active CMA: they only
   * shrink the covariance toward worse solutions).
   */
  weights: Float64Array;
  mueff: number;
  cs: number;
  ds: number;
  cc: number;
  c1: number;
  cmu: number;
  /** E||N(0, I)||. */
  chiN: number;
  /** Mahalanobis norm cap of injected solutions. */
  injectCap: number;
  /** Generations between eigendecompositions (Hansen's lazy update). */
  eigenEvery: number;
  /** Minimal marginal standard deviation of a discrete coordinate, per unit of cell width. */
  marginSd: number;
}

export function strategyParams(n: number, lambda: number): StrategyParams {
  const nn = Math.max(1, n);
  const mu = Math.floor(lambda / 2);
  const raw = Array.from({ length: lambda }, (_, i) => Math.log((lambda + 1) / 2) - Math.log(i + 1));
  const pos = raw.slice(0, mu);
  const neg = raw.slice(mu).filter((w) => w < 0);
  const posSum = pos.reduce((s, w) => s + w, 0);
  const mueff = posSum ** 2 / pos.reduce((s, w) => s + w * w, 0);
  const cs = (mueff + 2) / (nn + mueff + 5);
  const ds = 1 + 2 * Math.max(0, Math.sqrt((mueff - 1) / (nn + 1)) - 1) + cs;
  const cc = (4 + mueff / nn) / (nn + 4 + (2 * mueff) / nn);
  const c1 = 2 / ((nn + 1.3) ** 2 + mueff);
  const cmu = Math.min(1 - c1, (2 * (mueff - 2 + 1 / mueff)) / ((nn + 2) ** 2 + mueff));
  // Negative (active) weights, tutorial eq. 53: scaled so that C stays positive definite.
  const negSum = neg.reduce((s, w) => s - w, 0);
  const mueffNeg = negSum > 0 ? negSum ** 2 / neg.reduce((s, w) => s + w * w, 0) : 0;
  const negScale = negSum > 0 ? Math.min(1 + c1 / cmu, 1 + (2 * mueffNeg) / (mueff + 2), (1 - c1 - cmu) / (nn * cmu)) / negSum : 0;
  const weights = Float64Array.from(raw, (w, i) => (i < mu ? w / posSum : w < 0 ? w * negScale : 0));
  const chiN = Math.sqrt(nn) * (1 - 1 / (4 * nn) + 1 / (21 * nn * nn));
  const alpha = Math.min(0.5, 1 / (nn * lambda));
  return {
    n,
    lambda,
    mu,
    weights,
    mueff,
    cs,
    ds,
    cc,
    c1,
    cmu,
    chiN,
    injectCap: Math.sqrt(nn) + (2 * nn) / (nn + 2),
    eigenEvery: Math.max(1, Math.floor(1 / ((c1 + cmu) * nn * 10))),
    marginSd: 1 / (2 * normalQuantile(1 - alpha / 2)),
  };
}

/** Default population size 4 + floor(3 ln d), d the number of non-fixed genes. */
export function defaultLambda(genome: Genome): number {
  return 4 + Math.floor(3 * Math.log(Math.max(1, genome.variable)));
}

export interface CmaState {
  /** Restart index (0 for the first run). */
  run: number;
  /** Generation within the run. */
  gen: number;
  p: StrategyParams;
  sigma0: number;
  mean: Float64Array;
  sigma: number;
  /** Covariance, row-major n x n. */
  C: Float64Array;
  /** Eigenvectors of C (columns, row-major) as of `eigenGen`. */
  B: Float64Array;
  /** Square roots of C's eigenvalues as of `eigenGen`. */
  D: Float64Array;
  eigenGen: number;
  pc: Float64Array;
  ps: Float64Array;
  /** Margin scaling per coordinate (1 for continuous ones). */
  A: Float64Array;
  /** Probability vector per categorical gene. */
  cat: readonly Float64Array[];
  /** Best feasible value of each generation of this run (most recent last, bounded). */
  bestHistory: readonly number[];
  /** Why the previous run stopped ("" for the first run). */
  stopReason: string;
}

const identity = (n: number): Float64Array => {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
};

/** A fresh run: mean `mean`, sigma0, C = I, uniform categorical probabilities. */
export function newRun(genome: Genome, run: number, lambda: number, sigma0: number, mean: Float64Array, stopReason: string): CmaState {
  const n = genome.numeric.length;
  const p = strategyParams(n, lambda);
  const st: CmaState = {
    run,
    gen: 0,
    p,
    sigma0,
    mean,
    sigma: sigma0,
    C: identity(n),
    B: identity(n),
    D: new Float64Array(n).fill(1),
    eigenGen: 0,
    pc: new Float64Array(n),
    ps: new Float64Array(n),
    A: new Float64Array(n).fill(1),
    cat: genome.categorical.map((g) => new Float64Array(g.choices.length).fill(1 / g.choices.length)),
    bestHistory: [],
    stopReason,
  };
  return { ...st, A: marginScaling(genome, st) };
}

/** The diagonal margin scaling A for the state's mean, sigma and C. */
function marginScaling(genome: Genome, st: Pick<CmaState, "mean" | "sigma" | "C" | "p">): Float64Array {
  const n = st.p.n;
  const a = new Float64Array(n).fill(1);
  for (const g of genome.numeric) {
    if (!g.discrete) continue;
    const i = g.coord;
    const sd = st.sigma * Math.sqrt(st.C[i * n + i] as number);
    const minSd = st.p.marginSd * cellWidth(st.mean[i] as number, g.domain);
    if (Number.isFinite(sd) && sd > 0 && sd < minSd) a[i] = minSd / sd;
  }
  return a;
}

export interface Candidate {
  /** The numeric coordinates in [0, 1]^n as evaluated (continuous, before decoding). */
  x: Float64Array;
  flat: FlatParams;
}

/**
 * One candidate from the state's distribution, consuming `rng` in a fixed
 * order (n normals per bound redraw, then one uniform per categorical gene,
 * active or not) so that it can be regenerated from (state, rng seed).
 */
export function drawCandidate(genome: Genome, st: CmaState, rng: Rng): Candidate {
  const n = st.p.n;
  const x = new Float64Array(n);
  if (n > 0) {
    const z = new Float64Array(n);
    for (let attempt = 0; attempt < BOUND_REDRAWS; attempt++) {
      for (let i = 0; i < n; i++) z[i] = rng.normal();
      const y = scaledRotate(st.B, st.D, z, n);
      let inside = true;
      for (let i = 0; i < n; i++) {
        const v = (st.mean[i] as number) + st.sigma * (st.A[i] as number) * (y[i] as number);
        x[i] = v;
        if (!(v >= 0 && v <= 1)) inside = false;
      }
      if (inside) break;
    }
    for (let i = 0; i < n; i++) {
      const v = x[i] as number;
      x[i] = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : (st.mean[i] as number);
    }
  }
  const picks = genome.categorical.map((g) => pick(st.cat[g.slot] as Float64Array, rng.next()));
  const flat: FlatParams = {};
  for (const g of genome.genes) {
    if (!genome.space.isActive(g.dim, flat)) continue;
    if (g.kind === "fixed") flat[g.dim.name] = g.value;
    else if (g.kind === "numeric") flat[g.dim.name] = fromUnitNumeric(x[g.coord] as number, g.domain);
    else flat[g.dim.name] = g.choices[picks[g.slot] as number] as (typeof g.choices)[number];
  }
  return { x, flat };
}

function pick(p: Float64Array, u: number): number {
  let acc = 0;
  for (let k = 0; k < p.length; k++) {
    acc += p[k] as number;
    if (u < acc) return k;
  }
  return p.length - 1;
}

export interface Evaluated {
  /** Numeric coordinates as evaluated. */
  x: Float64Array;
  flat: FlatParams;
  fit: Fitness;
  /** Drawn from this generation's own distribution (else injected). */
  own: boolean;
}

/**
 * The state after a generation: `members` evaluated, `order` their indices
 * best first. Returns the updated state, or the first state of a new run when
 * a stopping criterion holds (`restart` supplies the next run).
 */
export function update(
  genome: Genome,
  st: CmaState,
  members: readonly Evaluated[],
  order: readonly number[],
  restart: (reason: string) => CmaState,
): CmaState {
  const { n, mu, weights, mueff, cs, ds, cc, c1, cmu, chiN } = st.p;
  const mu2 = Math.min(mu, order.length);
  const ys = members.map((m) => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = ((m.x[i] as number) - (st.mean[i] as number)) / (st.sigma * (st.A[i] as number));
    if (!m.own && n > 0) {
      const len = norm(invSqrtTimes(st.B, st.D, y, n));
      if (len > st.p.injectCap) for (let i = 0; i < n; i++) y[i] = ((y[i] as number) * st.p.injectCap) / len;
    }
    return y;
  });
  // Weights of the mu best (renormalised if the generation is short).
  let wsum = 0;
  for (let k = 0; k < mu2; k++) wsum += weights[k] as number;
  const w = (k: number): number => (weights[k] as number) / wsum;
  // Rank-mu weights of all ranks; a negative weight is rescaled by
  // n / ||C^-1/2 y||^2 so a far-away bad solution cannot dominate.
  const wc = order.map((idx, k) => {
    if (k < mu2) return w(k);
    const wk = weights[k] ?? 0;
    if (wk >= 0 || n === 0) return 0;
    const len2 = norm(invSqrtTimes(st.B, st.D, ys[idx] as Float64Array, n)) ** 2;
    return len2 > 0 ? (wk * n) / len2 : 0;
  });
  const wcSum = (k: number): number => (k < mu2 ? w(k) : (weights[k] ?? 0));
  let wAll = 0;
  for (let k = 0; k < order.length; k++) wAll += wcSum(k);

  const yw = new Float64Array(n);
  for (let k = 0; k < mu2; k++) {
    const y = ys[order[k] as number] as Float64Array;
    for (let i = 0; i < n; i++) yw[i] = (yw[i] as number) + w(k) * (y[i] as number);
  }
  const mean = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    mean[i] = Math.min(1, Math.max(0, (st.mean[i] as number) + st.sigma * (st.A[i] as number) * (yw[i] as number)));
  }
  // Step size: cumulative step-size adaptation.
  const ps = new Float64Array(n);
  const cw = n > 0 ? invSqrtTimes(st.B, st.D, yw, n) : new Float64Array(0);
  const fps = Math.sqrt(cs * (2 - cs) * mueff);
  for (let i = 0; i < n; i++) ps[i] = (1 - cs) * (st.ps[i] as number) + fps * (cw[i] as number);
  const psNorm = norm(ps);
  const sigma = n > 0 ? st.sigma * Math.exp((cs / ds) * (psNorm / chiN - 1)) : st.sigma;
  const hs = psNorm / Math.sqrt(1 - (1 - cs) ** (2 * (st.gen + 1))) < (1.4 + 2 / (n + 1)) * chiN ? 1 : 0;
  // Covariance: rank-one (evolution path) and rank-mu updates.
  const pc = new Float64Array(n);
  const fpc = hs * Math.sqrt(cc * (2 - cc) * mueff);
  for (let i = 0; i < n; i++) pc[i] = (1 - cc) * (st.pc[i] as number) + fpc * (yw[i] as number);
  const decay = 1 - c1 - cmu * wAll + c1 * (1 - hs) * cc * (2 - cc);
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let rankMu = 0;
      for (let k = 0; k < order.length; k++) {
        const wk = wc[k] as number;
        if (wk === 0) continue;
        const y = ys[order[k] as number] as Float64Array;
        rankMu += wk * (y[i] as number) * (y[j] as number);
      }
      const v = decay * (st.C[i * n + j] as number) + c1 * (pc[i] as number) * (pc[j] as number) + cmu * rankMu;
      C[i * n + j] = v;
      C[j * n + i] = v;
    }
  }
  let B = st.B;
  let D = st.D;
  let eigenGen = st.eigenGen;
  const gen = st.gen + 1;
  if (n > 0 && gen - st.eigenGen >= st.p.eigenEvery) {
    const e = symmetricEigen(C, n);
    B = e.vectors;
    D = e.values.map(Math.sqrt);
    eigenGen = gen;
  }
  const cat = genome.categorical.map((g) => updateCategorical(st.cat[g.slot] as Float64Array, g.dim.name, g.choices, members, order, mu2, w, st.p.lambda));
  const best = members[order[0] as number];
  const bestHistory = [...st.bestHistory];
  if (best && best.fit.cls === 0 && best.fit.obj.length === 1) bestHistory.push(best.fit.obj[0] as number);
  const historyLength = 10 + Math.ceil((30 * n) / st.p.lambda);
  while (bestHistory.length > historyLength + 1) bestHistory.shift();

  const next: CmaState = { ...st, gen, mean, sigma, C, B, D, eigenGen, pc, ps, cat, bestHistory, A: st.A };
  const reason = stopReason(next, members, order, historyLength);
  if (reason) return restart(reason);
  return { ...next, A: marginScaling(genome, next) };
}

function updateCategorical(
  p: Float64Array,
  name: string,
  choices: readonly unknown[],
  members: readonly Evaluated[],
  order: readonly number[],
  mu: number,
  w: (k: number) => number,
  lambda: number,
): Float64Array {
  const K = choices.length;
  const target = new Float64Array(K);
  let share = 0;
  for (let k = 0; k < mu; k++) {
    const v = (members[order[k] as number] as Evaluated).flat[name];
    if (v === undefined) continue;
    const c = choices.indexOf(v);
    if (c < 0) continue;
    target[c] = (target[c] as number) + w(k);
    share += w(k);
  }
  if (share <= 0) return p;
  const eta = CAT_RATE * share;
  const q = new Float64Array(K);
  let sum = 0;
  for (let c = 0; c < K; c++) {
    q[c] = (1 - eta) * (p[c] as number) + eta * ((target[c] as number) / share);
    sum += q[c] as number;
  }
  // Clamp to the floor, taking the mass it adds from the choices above it.
  const floor = 1 / (K * lambda);
  let above = 0;
  let added = 0;
  for (let c = 0; c < K; c++) {
    const v = (q[c] as number) / sum;
    q[c] = Math.max(v, floor);
    if (v > floor) above += v - floor;
    else added += floor - v;
  }
  if (above > 0) for (let c = 0; c < K; c++) if ((q[c] as number) > floor) q[c] = (q[c] as number) - (added * ((q[c] as number) - floor)) / above;
  return q;
}

function stopReason(st: CmaState, members: readonly Evaluated[], order: readonly number[], historyLength: number): string {
  const n = st.p.n;
  const finite = (a: Float64Array): boolean => a.every(Number.isFinite);
  if (!Number.isFinite(st.sigma) || !(st.sigma > 0) || !finite(st.mean) || !finite(st.C) || !finite(st.D) || !finite(st.B)) return "numerical";
  const fits = order.map((i) => (members[i] as Evaluated).fit);
  const worst = fits[fits.length - 1];
  if (fits.length > 1 && fits[0] && worst && sameFitness(fits[0], worst)) return "flat fitness";
  if (st.bestHistory.length >= historyLength && fits.every((f) => f.cls === 0 && f.obj.length === 1)) {
    const values = [...st.bestHistory, ...fits.map((f) => f.obj[0] as number)];
    const hi = Math.max(...values);
    const lo = Math.min(...values);
    if (hi - lo <= TOL_FUN * Math.max(1, Math.abs(lo), Math.abs(hi))) return "tolfun";
  }
  if (n === 0) return "";
  let maxSd = 0;
  let maxPc = 0;
  for (let i = 0; i < n; i++) {
    maxSd = Math.max(maxSd, Math.sqrt(st.C[i * n + i] as number));
    maxPc = Math.max(maxPc, Math.abs(st.pc[i] as number));
  }
  if (st.sigma * maxSd < TOL_X && st.sigma * maxPc < TOL_X) return "tolx";
  const dmax = Math.max(...st.D);
  const dmin = Math.min(...st.D);
  if ((dmax / dmin) ** 2 > TOL_CONDITION) return "condition";
  if (st.sigma * dmax > TOL_UP_SIGMA) return "tolupsigma";
  const axis = st.gen % n;
  let axisMoves = false;
  for (let i = 0; i < n; i++) {
    const m = st.mean[i] as number;
    if (m + 0.1 * st.sigma * (st.A[i] as number) * (st.D[axis] as number) * (st.B[i * n + axis] as number) !== m) axisMoves = true;
  }
  if (!axisMoves) return "noeffectaxis";
  for (let i = 0; i < n; i++) {
    const m = st.mean[i] as number;
    if (m + 0.2 * st.sigma * (st.A[i] as number) * Math.sqrt(st.C[i * n + i] as number) === m) return "noeffectcoord";
  }
  return "";
}
