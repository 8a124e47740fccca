/**
 * The little linear algebra CMA-ES needs, on row-major n x n Float64Arrays.
 * The symmetric eigendecomposition is ml-matrix's EigenvalueDecomposition
 * (Householder tridiagonalisation + QL, from JAMA).
 */
import { EigenvalueDecomposition, Matrix } from "ml-matrix";

export interface SymmetricEigen {
  /** Eigenvalues, clamped to be positive (see `symmetricEigen`). */
  values: Float64Array;
  /** Row-major n x n; column j is the eigenvector of values[j]. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of the symmetric matrix `a` (symmetrised first, so
 * rounding asymmetry cannot leak in). Eigenvalues below max * 1e-20 (or not
 * finite) are raised to that floor so that square roots and inverses stay
 * finite; CMA-ES restarts on such an ill-conditioned matrix anyway.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) row.push(0.5 * ((a[i * n + j] as number) + (a[j * n + i] as number)));
    rows.push(row);
  }
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const raw = evd.realEigenvalues;
  const v = evd.eigenvectorMatrix;
  let max = 0;
  for (const x of raw) if (Number.isFinite(x)) max = Math.max(max, x);
  const floor = Math.max(max * 1e-20, 1e-300);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const x = raw[j] as number;
    values[j] = Number.isFinite(x) && x > floor ? x : floor;
    for (let i = 0; i < n; i++) vectors[i * n + j] = v.get(i, j);
  }
  return { values, vectors };
}

/** out = B * diag(d) * z (B row-major n x n). */
export function scaledRotate(b: Float64Array, d: Float64Array, z: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (b[i * n + j] as number) * (d[j] as number) * (z[j] as number);
    out[i] = s;
  }
  return out;
}

/** C^(-1/2) y = B diag(1/d) B^T y. */
export function invSqrtTimes(b: Float64Array, d: Float64Array, y: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += (b[i * n + j] as number) * (y[i] as number);
    t[j] = s / (d[j] as number);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (b[i * n + j] as number) * (t[j] as number);
    out[i] = s;
  }
  return out;
}

export function norm(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

/**
 * The standard normal quantile (Acklam's rational approximation, relative
 * error below 1.2e-9), for p in (0, 1).
 */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const tail = (q: number): number => (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}
