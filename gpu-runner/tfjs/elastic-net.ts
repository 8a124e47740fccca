/**
 * The exact optimum of a linear regression trial's training objective:
 *
 *   mean((y - Xw - b)^2) + l1 * sum|w| + l2 * sum(w^2)
 *
 * (the loss tfjs minimises for a 0-layer network with a meanSquaredError
 * loss and an l1l2 kernel regulariser; the bias is not penalised), found by
 * cyclic coordinate descent with soft-thresholding on the Gram matrix
 * (Friedman, Hastie & Tibshirani 2010, "Regularization paths for GLMs via
 * coordinate descent", the glmnet "covariance updates").
 *
 * Why not gradient descent: on collinear features (diabetes' serum
 * measurements, breast cancer's radius/perimeter/area) the problem is
 * ill-conditioned and Adam / SGD stop, after the epochs a trial has, short
 * of the optimum along the low-variance directions; measured on the diabetes
 * splits of bench/tune.ts, a 0-layer network trained for 200 epochs scored
 * below scikit-learn's Ridge on the test rows on every seed. Why written
 * here: ml-matrix solves least squares but has no L1 term, and no maintained
 * JS library implements elastic net; the algorithm is ~30 lines and is
 * tested against scikit-learn's Ridge / ElasticNet coefficients.
 */
export interface LinearSolution {
  weights: number[];
  bias: number;
  /** Coordinate-descent sweeps used. */
  sweeps: number;
}

export interface ElasticNetOptions {
  l1: number;
  l2: number;
  /** Stop when no weight moves by more than this (absolute); default 1e-10. */
  tolerance?: number;
  /** Default 10,000 sweeps. */
  maxSweeps?: number;
}

function softThreshold(v: number, t: number): number {
  return v > t ? v - t : v < -t ? v + t : 0;
}

/** Solves min over (w, b) of mean((y - Xw - b)^2) + l1 |w|_1 + l2 |w|_2^2; x is n rows of d features. */
export function solveElasticNet(x: readonly (readonly number[])[], y: readonly number[], o: ElasticNetOptions): LinearSolution {
  const n = x.length;
  if (n === 0 || n !== y.length) throw new Error(`solveElasticNet: ${n} rows and ${y.length} targets`);
  if (!(o.l1 >= 0) || !(o.l2 >= 0)) throw new Error("solveElasticNet: l1 and l2 must be >= 0");
  const d = x[0].length;
  const xMean = new Array<number>(d).fill(0);
  for (const row of x) for (let j = 0; j < d; j++) xMean[j] += row[j] / n;
  const yMean = y.reduce((s, v) => s + v, 0) / n;
  // Centred Gram matrix G = Xc'Xc / n and c = Xc'yc / n: the objective in w
  // is w'Gw - 2c'w + const + penalties (the optimal bias is ȳ - x̄'w).
  const gram = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const c = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) {
    const row = x[i];
    const yc = y[i] - yMean;
    for (let j = 0; j < d; j++) {
      const xj = row[j] - xMean[j];
      c[j] += (xj * yc) / n;
      const gj = gram[j];
      for (let k = j; k < d; k++) gj[k] += (xj * (row[k] - xMean[k])) / n;
    }
  }
  for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) gram[j][k] = gram[k][j];
  const w = new Array<number>(d).fill(0);
  // gw = G w, kept up to date as coordinates move.
  const gw = new Array<number>(d).fill(0);
  const tolerance = o.tolerance ?? 1e-10;
  const maxSweeps = o.maxSweeps ?? 10_000;
  let sweeps = 0;
  while (sweeps < maxSweeps) {
    sweeps++;
    let moved = 0;
    for (let j = 0; j < d; j++) {
      const gjj = gram[j][j];
      const z = gjj + o.l2;
      if (z <= 0) continue; // a constant column with no L2: its weight stays 0
      // d/dw_j: 2(G w)_j - 2 c_j + 2 l2 w_j (+ l1 sign): with the other
      // coordinates fixed the minimiser is S(c_j - (Gw)_j + G_jj w_j, l1/2) / (G_jj + l2).
      const rho = c[j] - gw[j] + gjj * w[j];
      const next = softThreshold(rho, o.l1 / 2) / z;
      const delta = next - w[j];
      if (delta !== 0) {
        w[j] = next;
        const gj = gram[j];
        for (let k = 0; k < d; k++) gw[k] += gj[k] * delta;
        moved = Math.max(moved, Math.abs(delta));
      }
    }
    if (moved <= tolerance) break;
  }
  const bias = yMean - xMean.reduce((s, m, j) => s + m * w[j], 0);
  return { weights: w, bias, sweeps };
}
