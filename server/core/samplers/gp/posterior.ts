/**
 * The GP posterior of the latent function given fitted hyperparameters:
 * mean k*^T alpha and variance s2 - k*^T K^-1 k* (observation noise excluded,
 * so the variance at an observed point is about the noise variance, not 0),
 * with gradients in the numeric input features for acquisition refinement.
 */
import {
  inverseSquaredLengthscales,
  kernelMatrix,
  matern52,
  matern52G,
  scaledSqDist,
  type FeatureShape,
  type KernelParams,
} from "./kernel.js";
import { NOISE_VAR_MIN } from "./fit.js";
import { choleskyWithJitter, cholSolve, solveLower, solveUpperT } from "./linalg.js";

export interface Prediction {
  mean: number;
  variance: number;
}

/** Floor on the posterior variance, relative to the signal variance. */
const MIN_VARIANCE_REL = 1e-12;

export class GpPosterior {
  readonly n: number;
  readonly shape: FeatureShape;
  readonly params: KernelParams;
  private readonly x: Float64Array;
  private readonly invL2: Float64Array;
  private readonly factor: Float64Array;
  private readonly alpha: Float64Array;
  private readonly kStar: Float64Array;
  private readonly rStar: Float64Array;
  private readonly v: Float64Array;
  private readonly w: Float64Array;

  /**
   * x: n x D inputs (row-major), y: the n (standardised) outputs. The first
   * `noisyRows` rows (default all) are observations with the fitted noise;
   * the rest are believed values (kriging-believer fantasies), conditioned on
   * with only NOISE_VAR_MIN so the variance at them really collapses.
   */
  constructor(x: Float64Array, y: Float64Array, shape: FeatureShape, params: KernelParams, noisyRows = y.length) {
    const n = y.length;
    this.n = n;
    this.shape = shape;
    this.params = params;
    this.x = x;
    this.invL2 = inverseSquaredLengthscales(params);
    const { k } = kernelMatrix(x, n, shape, params);
    for (let i = 0; i < n; i++) k[i * n + i] += i < noisyRows ? params.noiseVar : Math.min(params.noiseVar, NOISE_VAR_MIN);
    let chol = choleskyWithJitter(k, n);
    if (chol === null) {
      // Only NaN inputs get here; a diagonal matrix keeps the sampler going.
      const diag = new Float64Array(n * n);
      for (let i = 0; i < n; i++) diag[i * n + i] = Math.sqrt(params.signalVar + params.noiseVar);
      chol = { factor: diag, jitter: 0 };
    }
    this.factor = chol.factor;
    this.alpha = cholSolve(this.factor, n, y);
    this.kStar = new Float64Array(n);
    this.rStar = new Float64Array(n);
    this.v = new Float64Array(n);
    this.w = new Float64Array(n);
  }

  private cross(point: ArrayLike<number>): void {
    const d = this.shape.dims;
    const s2 = this.params.signalVar;
    for (let i = 0; i < this.n; i++) {
      const r = Math.sqrt(scaledSqDist(point, 0, this.x, i * d, this.shape, this.invL2));
      this.rStar[i] = r;
      this.kStar[i] = matern52(r, s2);
    }
  }

  /** Posterior mean only (cheap: O(n D)). */
  mean(point: ArrayLike<number>): number {
    this.cross(point);
    let m = 0;
    for (let i = 0; i < this.n; i++) m += this.kStar[i] * this.alpha[i];
    return m;
  }

  /** Posterior mean and latent variance at a point: O(n^2). */
  predict(point: ArrayLike<number>): Prediction {
    this.cross(point);
    const n = this.n;
    let m = 0;
    for (let i = 0; i < n; i++) m += this.kStar[i] * this.alpha[i];
    solveLower(this.factor, n, this.kStar, this.v);
    let vv = 0;
    for (let i = 0; i < n; i++) vv += this.v[i] * this.v[i];
    const s2 = this.params.signalVar;
    return { mean: m, variance: Math.max(s2 - vv, MIN_VARIANCE_REL * s2) };
  }

  /**
   * Mean and variance with their gradients in the input features (written
   * into gradMean / gradVar, length D; categorical features get 0).
   */
  predictWithGradient(point: ArrayLike<number>, gradMean: Float64Array, gradVar: Float64Array): Prediction {
    const pred = this.predict(point);
    const n = this.n;
    const d = this.shape.dims;
    const { isCat } = this.shape;
    solveUpperT(this.factor, n, this.v, this.w);
    gradMean.fill(0);
    gradVar.fill(0);
    const s2 = this.params.signalVar;
    const floored = pred.variance <= MIN_VARIANCE_REL * s2;
    for (let i = 0; i < n; i++) {
      // dk_i/dx_j = -g(r_i) (x_j - X_ij) / l_j^2
      const g = matern52G(this.rStar[i], s2);
      const a = this.alpha[i];
      const b = this.w[i];
      const io = i * d;
      for (let j = 0; j < d; j++) {
        if (isCat[j] === 1) continue;
        const dk = -g * (point[j] - this.x[io + j]) * this.invL2[j];
        gradMean[j] += dk * a;
        gradVar[j] -= 2 * dk * b;
      }
    }
    if (floored) gradVar.fill(0);
    return pred;
  }
}

/** Convenience: a posterior's predictions at many points (tests, fantasies). */
export function predictMany(gp: GpPosterior, points: readonly ArrayLike<number>[]): Prediction[] {
  return points.map((p) => gp.predict(p));
}
