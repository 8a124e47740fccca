/**
 * A small box-constrained L-BFGS ("projected L-BFGS", a simplified
 * L-BFGS-B): the two-loop recursion on the free variables (a variable at a
 * bound whose gradient pushes it outwards is held fixed), a backtracking
 * Armijo search along the projected path P(x + t d), and the curvature pair
 * skipped when s^T y is not positive. Enough for the smooth, low-dimensional
 * problems of the GP (hyperparameters, acquisition refinement); written here
 * because no maintained JavaScript L-BFGS-B package exists (the npm ones are
 * unconstrained ports or unmaintained), and tested on Rosenbrock.
 *
 * Deterministic: no randomness, same inputs give the same iterates.
 */

/** Objective value and gradient at x; the gradient is written into `grad`. */
export type ValueAndGradient = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  /** Lower bounds (-Infinity allowed); default unbounded. */
  lower?: ArrayLike<number>;
  /** Upper bounds (Infinity allowed); default unbounded. */
  upper?: ArrayLike<number>;
  /** Iterations (each one line search). Default 100. */
  maxIterations?: number;
  /** Most function evaluations in all. Default 20 * maxIterations. */
  maxEvaluations?: number;
  /** Curvature pairs kept. Default 10. */
  memory?: number;
  /** Stop when the largest projected-gradient component is below this. Default 1e-6. */
  gradientTolerance?: number;
  /** Stop when the relative decrease of f over an iteration is below this. Default 1e-10. */
  valueTolerance?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

const clampTo = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

export function minimizeLbfgs(f: ValueAndGradient, x0: ArrayLike<number>, options: LbfgsOptions = {}): LbfgsResult {
  const n = x0.length;
  const lower = options.lower ?? new Float64Array(n).fill(-Infinity);
  const upper = options.upper ?? new Float64Array(n).fill(Infinity);
  const maxIter = options.maxIterations ?? 100;
  const maxEval = options.maxEvaluations ?? 20 * maxIter;
  const m = options.memory ?? 10;
  const gtol = options.gradientTolerance ?? 1e-6;
  const ftol = options.valueTolerance ?? 1e-10;

  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = clampTo(x0[i], lower[i], upper[i]);
  const g = new Float64Array(n);
  let fx = f(x, g);
  let evaluations = 1;
  if (!Number.isFinite(fx)) return { x, value: fx, iterations: 0, evaluations, converged: false };

  const sHist: Float64Array[] = [];
  const yHist: Float64Array[] = [];
  const rhoHist: number[] = [];
  const d = new Float64Array(n);
  const free = new Uint8Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  const alpha = new Float64Array(m);
  let iterations = 0;
  let converged = false;

  while (iterations < maxIter && evaluations < maxEval) {
    // Projected gradient and the free set.
    let pgMax = 0;
    for (let i = 0; i < n; i++) {
      const atLow = x[i] <= lower[i] && g[i] > 0;
      const atHigh = x[i] >= upper[i] && g[i] < 0;
      free[i] = atLow || atHigh ? 0 : 1;
      if (free[i] === 1) pgMax = Math.max(pgMax, Math.abs(g[i]));
    }
    if (pgMax <= gtol) {
      converged = true;
      break;
    }
    iterations++;

    // Two-loop recursion on the free variables.
    for (let i = 0; i < n; i++) d[i] = free[i] === 1 ? -g[i] : 0;
    const k = sHist.length;
    for (let j = k - 1; j >= 0; j--) {
      const s = sHist[j];
      let a = 0;
      for (let i = 0; i < n; i++) if (free[i] === 1) a += s[i] * d[i];
      a *= rhoHist[j];
      alpha[j] = a;
      const y = yHist[j];
      for (let i = 0; i < n; i++) if (free[i] === 1) d[i] -= a * y[i];
    }
    if (k > 0) {
      const s = sHist[k - 1];
      const y = yHist[k - 1];
      let sy = 0;
      let yy = 0;
      for (let i = 0; i < n; i++) {
        sy += s[i] * y[i];
        yy += y[i] * y[i];
      }
      const gamma = yy > 0 ? sy / yy : 1;
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let j = 0; j < k; j++) {
      const y = yHist[j];
      let b = 0;
      for (let i = 0; i < n; i++) if (free[i] === 1) b += y[i] * d[i];
      b *= rhoHist[j];
      const s = sHist[j];
      for (let i = 0; i < n; i++) if (free[i] === 1) d[i] += s[i] * (alpha[j] - b);
    }
    let dg = 0;
    for (let i = 0; i < n; i++) dg += d[i] * g[i];
    if (!(dg < 0)) {
      // Not a descent direction (stale curvature): restart from steepest descent.
      sHist.length = 0;
      yHist.length = 0;
      rhoHist.length = 0;
      for (let i = 0; i < n; i++) d[i] = free[i] === 1 ? -g[i] : 0;
    }

    // Backtracking Armijo search along the projected path.
    let t = 1;
    if (sHist.length === 0) {
      let dn = 0;
      for (let i = 0; i < n; i++) dn = Math.max(dn, Math.abs(d[i]));
      t = dn > 1 ? 1 / dn : 1;
    }
    let fNew = NaN;
    let accepted = false;
    for (let ls = 0; ls < 40 && evaluations < maxEval; ls++) {
      let decrease = 0;
      let moved = false;
      for (let i = 0; i < n; i++) {
        const v = clampTo(x[i] + t * d[i], lower[i], upper[i]);
        xNew[i] = v;
        decrease += g[i] * (v - x[i]);
        if (v !== x[i]) moved = true;
      }
      if (!moved) break;
      fNew = f(xNew, gNew);
      evaluations++;
      if (Number.isFinite(fNew) && fNew <= fx + 1e-4 * decrease) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      if (sHist.length > 0) {
        // Retry once from steepest descent with a fresh memory.
        sHist.length = 0;
        yHist.length = 0;
        rhoHist.length = 0;
        continue;
      }
      break;
    }

    const s = new Float64Array(n);
    const y = new Float64Array(n);
    let sy = 0;
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i] - x[i];
      y[i] = gNew[i] - g[i];
      sy += s[i] * y[i];
    }
    let yy = 0;
    for (let i = 0; i < n; i++) yy += y[i] * y[i];
    if (sy > 1e-12 * yy && sy > 0) {
      sHist.push(s);
      yHist.push(y);
      rhoHist.push(1 / sy);
      if (sHist.length > m) {
        sHist.shift();
        yHist.shift();
        rhoHist.shift();
      }
    }
    const fOld = fx;
    x.set(xNew);
    g.set(gNew);
    fx = fNew;
    if (Math.abs(fOld - fx) <= ftol * Math.max(Math.abs(fOld), Math.abs(fx), 1)) {
      converged = true;
      break;
    }
  }
  return { x, value: fx, iterations, evaluations, converged };
}
