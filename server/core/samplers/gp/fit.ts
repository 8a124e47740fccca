/**
 * Kernel hyperparameters by maximum a posteriori: the log marginal likelihood
 * of the (standardised) observations plus log priors on the hyperparameters,
 * maximised over theta = [log s2, log l_1..l_D, log noise] by box-constrained
 * L-BFGS with analytic gradients and a few deterministic restarts.
 *
 * Priors (as BoTorch's classic SingleTaskGP and Optuna's GPSampler, on raw
 * values, without Jacobian): lengthscales Gamma(3, 6) (mode 1/3 on the unit
 * cube, discourages both interpolation spikes and flat fits), signal variance
 * Gamma(2, 1) (outputs are standardised, so about 1), noise variance
 * Gamma(1.1, 30) (small but not zero). Bounds keep every fit usable: noise
 * variance >= 1e-6 (observation noise is always modelled, which also keeps K
 * well conditioned), lengthscales and signal variance in [1e-2, 1e2].
 */
import type { Rng } from "../../rng.js";
import {
  kernelMatrix,
  matern52G,
  paramsFromTheta,
  thetaSize,
  type FeatureShape,
  type KernelParams,
} from "./kernel.js";
import { minimizeLbfgs } from "./lbfgs.js";
import { cholInverse, cholLogDet, choleskyInPlace, cholSolve } from "./linalg.js";

const LOG_2PI = Math.log(2 * Math.PI);

export const NOISE_VAR_MIN = 1e-6;
export const NOISE_VAR_MAX = 2;
export const LENGTHSCALE_MIN = 1e-2;
export const LENGTHSCALE_MAX = 1e2;
export const SIGNAL_VAR_MIN = 1e-2;
export const SIGNAL_VAR_MAX = 1e2;

/** Gamma(shape a, rate b) log density up to a constant, and its derivative in log x. */
const gammaLogPrior = (x: number, a: number, b: number): number => (a - 1) * Math.log(x) - b * x;
const gammaLogPriorDLog = (x: number, a: number, b: number): number => a - 1 - b * x;

const LENGTHSCALE_PRIOR: [number, number] = [3, 6];
const SIGNAL_PRIOR: [number, number] = [2, 1];
const NOISE_PRIOR: [number, number] = [1.1, 30];

/** Box for theta. */
export function thetaBounds(shape: FeatureShape): { lower: Float64Array; upper: Float64Array } {
  const p = thetaSize(shape);
  const lower = new Float64Array(p);
  const upper = new Float64Array(p);
  lower[0] = Math.log(SIGNAL_VAR_MIN);
  upper[0] = Math.log(SIGNAL_VAR_MAX);
  for (let j = 1; j <= shape.dims; j++) {
    lower[j] = Math.log(LENGTHSCALE_MIN);
    upper[j] = Math.log(LENGTHSCALE_MAX);
  }
  lower[p - 1] = Math.log(NOISE_VAR_MIN);
  upper[p - 1] = Math.log(NOISE_VAR_MAX);
  return { lower, upper };
}

/** The default starting point: unit signal, lengthscales 0.5, small noise. */
export function defaultTheta(shape: FeatureShape): Float64Array {
  const t = new Float64Array(thetaSize(shape));
  t[0] = 0;
  for (let j = 1; j <= shape.dims; j++) t[j] = Math.log(0.5);
  t[shape.dims + 1] = Math.log(1e-3);
  return t;
}

/** log prior density of theta (up to a constant) and, when `grad` is given, its gradient added into it. */
export function logPrior(theta: ArrayLike<number>, shape: FeatureShape, grad?: Float64Array): number {
  const p = paramsFromTheta(theta, shape);
  let v = gammaLogPrior(p.signalVar, ...SIGNAL_PRIOR);
  if (grad) grad[0] += gammaLogPriorDLog(p.signalVar, ...SIGNAL_PRIOR);
  for (let j = 0; j < shape.dims; j++) {
    v += gammaLogPrior(p.lengthscales[j], ...LENGTHSCALE_PRIOR);
    if (grad) grad[1 + j] += gammaLogPriorDLog(p.lengthscales[j], ...LENGTHSCALE_PRIOR);
  }
  v += gammaLogPrior(p.noiseVar, ...NOISE_PRIOR);
  if (grad) grad[shape.dims + 1] += gammaLogPriorDLog(p.noiseVar, ...NOISE_PRIOR);
  return v;
}

/**
 * log p(y | X, theta) = -1/2 y^T K^-1 y - 1/2 log|K| - n/2 log 2pi with
 * K = K_signal + noise I, and (when `grad` is given) its gradient in theta:
 * d/dtheta_j = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta_j), alpha = K^-1 y.
 * NaN when K is not numerically positive definite.
 */
export function logMarginalLikelihood(
  theta: ArrayLike<number>,
  x: Float64Array,
  y: Float64Array,
  shape: FeatureShape,
  grad?: Float64Array,
): number {
  const n = y.length;
  const p = paramsFromTheta(theta, shape);
  const { k, r } = kernelMatrix(x, n, shape, p);
  const l = k.slice();
  for (let i = 0; i < n; i++) l[i * n + i] += p.noiseVar;
  if (!choleskyInPlace(l, n)) return NaN;
  const alpha = cholSolve(l, n, y);
  let yAlpha = 0;
  for (let i = 0; i < n; i++) yAlpha += y[i] * alpha[i];
  const value = -0.5 * yAlpha - 0.5 * cholLogDet(l, n) - 0.5 * n * LOG_2PI;
  if (!grad) return value;

  grad.fill(0);
  const inv = cholInverse(l, n);
  const d = shape.dims;
  const { isCat } = shape;
  const invL2 = new Float64Array(d);
  for (let j = 0; j < d; j++) invL2[j] = 1 / (p.lengthscales[j] * p.lengthscales[j]);
  // W = alpha alpha^T - K^-1; gradient terms are sums of W_ab dK_ab.
  let gSignal = 0;
  let traceW = 0;
  for (let a = 0; a < n; a++) {
    const wDiag = alpha[a] * alpha[a] - inv[a * n + a];
    traceW += wDiag;
    gSignal += wDiag * p.signalVar;
    for (let b = 0; b < a; b++) {
      // Off-diagonal pairs count twice (W and dK are symmetric).
      const w = 2 * (alpha[a] * alpha[b] - inv[a * n + b]);
      gSignal += w * k[a * n + b];
      const gr = w * matern52G(r[a * n + b], p.signalVar);
      if (gr === 0) continue;
      const ao = a * d;
      const bo = b * d;
      for (let j = 0; j < d; j++) {
        if (isCat[j] === 1) {
          if (x[ao + j] !== x[bo + j]) grad[1 + j] += gr * invL2[j];
        } else {
          const dd = x[ao + j] - x[bo + j];
          grad[1 + j] += gr * dd * dd * invL2[j];
        }
      }
    }
  }
  grad[0] = 0.5 * gSignal;
  for (let j = 0; j < d; j++) grad[1 + j] *= 0.5;
  grad[d + 1] = 0.5 * traceW * p.noiseVar;
  return value;
}

export interface FitOptions {
  /** L-BFGS runs (from the default start and the best screened random starts). Default 3. */
  restarts?: number;
  /** Random starting points screened by value before the runs. Default 12. */
  screen?: number;
  /** L-BFGS iterations per run. Default 60. */
  maxIterations?: number;
}

export interface FitResult {
  params: KernelParams;
  theta: Float64Array;
  /** Log marginal likelihood + log prior at the optimum. */
  logPosterior: number;
}

/**
 * MAP hyperparameters for standardised outputs y at inputs X (n x D).
 * Deterministic given (x, y, shape, options, rng state).
 */
export function fitKernel(x: Float64Array, y: Float64Array, shape: FeatureShape, rng: Rng, options: FitOptions = {}): FitResult {
  const n = y.length;
  const restarts = Math.max(1, options.restarts ?? 3);
  const screen = Math.max(0, options.screen ?? 12);
  const maxIterations = options.maxIterations ?? 60;
  const { lower, upper } = thetaBounds(shape);
  const size = thetaSize(shape);
  const scale = 1 / Math.max(1, n);

  const objective = (theta: Float64Array, grad: Float64Array): number => {
    const mll = logMarginalLikelihood(theta, x, y, shape, grad);
    if (!Number.isFinite(mll)) return NaN;
    const lp = logPrior(theta, shape, grad);
    for (let i = 0; i < size; i++) grad[i] = -grad[i] * scale;
    return -(mll + lp) * scale;
  };
  const valueOnly = (theta: Float64Array): number => {
    const mll = logMarginalLikelihood(theta, x, y, shape);
    return Number.isFinite(mll) ? -(mll + logPrior(theta, shape)) * scale : Infinity;
  };

  // Screen random starts (log-uniform within a central part of the box).
  const starts: { theta: Float64Array; value: number }[] = [];
  const def = defaultTheta(shape);
  starts.push({ theta: def, value: valueOnly(def) });
  const screened: { theta: Float64Array; value: number }[] = [];
  for (let s = 0; s < screen; s++) {
    const t = new Float64Array(size);
    t[0] = Math.log(0.1) + rng.next() * Math.log(100);
    for (let j = 1; j <= shape.dims; j++) t[j] = Math.log(0.05) + rng.next() * Math.log(100);
    t[size - 1] = Math.log(1e-5) + rng.next() * Math.log(1e4);
    screened.push({ theta: t, value: valueOnly(t) });
  }
  screened.sort((a, b) => a.value - b.value);
  for (const s of screened) {
    if (starts.length >= restarts) break;
    if (Number.isFinite(s.value)) starts.push(s);
  }

  let best: { theta: Float64Array; value: number } | undefined;
  for (const start of starts) {
    const res = minimizeLbfgs(objective, start.theta, { lower, upper, maxIterations, gradientTolerance: 1e-5, valueTolerance: 1e-9 });
    const v = res.value;
    if (Number.isFinite(v) && (best === undefined || v < best.value)) best = { theta: res.x, value: v };
  }
  if (best === undefined) {
    // Every run failed (pathological data): the prior mode-ish default with ample noise.
    const t = defaultTheta(shape);
    t[size - 1] = Math.log(0.1);
    best = { theta: t, value: NaN };
  }
  return { params: paramsFromTheta(best.theta, shape), theta: best.theta, logPosterior: -best.value / scale };
}
