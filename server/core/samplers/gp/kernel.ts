/**
 * Matern-5/2 ARD kernel over mixed features: numeric features (unit
 * coordinates in [0, 1]) contribute (x - x')^2 / l^2 to the squared distance,
 * categorical features (a choice index) contribute [x != x'] / l^2, a
 * Hamming-distance factor with its own lengthscale (as in Optuna's
 * GPSampler), so no one-hot encoding is needed:
 *
 *   r^2 = sum_j d_j(x, x')^2 / l_j^2
 *   k(x, x') = s2 (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)
 *
 * Hyperparameters travel as theta = [log s2, log l_1..l_D, log noise].
 */

export const SQRT5 = Math.sqrt(5);

export interface KernelParams {
  /** Signal variance s2. */
  signalVar: number;
  /** One lengthscale per feature. */
  lengthscales: Float64Array;
  /** Observation noise variance (added to the diagonal of the training covariance). */
  noiseVar: number;
}

/** The fixed structure of the features: how many, and which are categorical. */
export interface FeatureShape {
  dims: number;
  /** 1 where feature j is categorical (a choice index compared by equality). */
  isCat: Uint8Array;
}

export function thetaSize(shape: FeatureShape): number {
  return shape.dims + 2;
}

export function paramsFromTheta(theta: ArrayLike<number>, shape: FeatureShape): KernelParams {
  const lengthscales = new Float64Array(shape.dims);
  for (let j = 0; j < shape.dims; j++) lengthscales[j] = Math.exp(theta[1 + j]);
  return { signalVar: Math.exp(theta[0]), lengthscales, noiseVar: Math.exp(theta[shape.dims + 1]) };
}

export function thetaFromParams(p: KernelParams): Float64Array {
  const d = p.lengthscales.length;
  const theta = new Float64Array(d + 2);
  theta[0] = Math.log(p.signalVar);
  for (let j = 0; j < d; j++) theta[1 + j] = Math.log(p.lengthscales[j]);
  theta[d + 1] = Math.log(p.noiseVar);
  return theta;
}

/** k as a function of r (s2 included). */
export function matern52(r: number, s2: number): number {
  const sr = SQRT5 * r;
  return s2 * (1 + sr + (sr * sr) / 3) * Math.exp(-sr);
}

/**
 * g(r) = -(dk/dr) / r = (5/3) s2 (1 + sqrt5 r) exp(-sqrt5 r): every
 * derivative of k through r^2 is g times a factor (finite at r = 0):
 *   dk / dlog l_j = g d_j^2 / l_j^2,   dk / dx_j = -g d_j / l_j^2.
 */
export function matern52G(r: number, s2: number): number {
  const sr = SQRT5 * r;
  return (5 / 3) * s2 * (1 + sr) * Math.exp(-sr);
}

/** Squared scaled distance between row a of X (offset ao) and row b of Y (offset bo). */
export function scaledSqDist(
  x: ArrayLike<number>,
  ao: number,
  y: ArrayLike<number>,
  bo: number,
  shape: FeatureShape,
  invL2: Float64Array,
): number {
  let r2 = 0;
  const { dims, isCat } = shape;
  for (let j = 0; j < dims; j++) {
    if (isCat[j] === 1) {
      if (x[ao + j] !== y[bo + j]) r2 += invL2[j];
    } else {
      const d = x[ao + j] - y[bo + j];
      r2 += d * d * invL2[j];
    }
  }
  return r2;
}

export function inverseSquaredLengthscales(p: KernelParams): Float64Array {
  const out = new Float64Array(p.lengthscales.length);
  for (let j = 0; j < out.length; j++) out[j] = 1 / (p.lengthscales[j] * p.lengthscales[j]);
  return out;
}

/**
 * The n x n signal covariance of the rows of X (n x D, row-major), noise not
 * included. Also returns the distances r (n x n), which gradients reuse.
 */
export function kernelMatrix(
  x: Float64Array,
  n: number,
  shape: FeatureShape,
  p: KernelParams,
): { k: Float64Array; r: Float64Array } {
  const k = new Float64Array(n * n);
  const r = new Float64Array(n * n);
  const invL2 = inverseSquaredLengthscales(p);
  const d = shape.dims;
  for (let a = 0; a < n; a++) {
    k[a * n + a] = p.signalVar;
    for (let b = 0; b < a; b++) {
      const rr = Math.sqrt(scaledSqDist(x, a * d, x, b * d, shape, invL2));
      const v = matern52(rr, p.signalVar);
      k[a * n + b] = v;
      k[b * n + a] = v;
      r[a * n + b] = rr;
      r[b * n + a] = rr;
    }
  }
  return { k, r };
}

/** k(x, X_i) for every row i of X into `out` (length n). */
export function crossCovariance(
  xs: Float64Array,
  n: number,
  shape: FeatureShape,
  p: KernelParams,
  invL2: Float64Array,
  point: ArrayLike<number>,
  out: Float64Array,
): Float64Array {
  const d = shape.dims;
  for (let i = 0; i < n; i++) out[i] = matern52(Math.sqrt(scaledSqDist(point, 0, xs, i * d, shape, invL2)), p.signalVar);
  return out;
}
