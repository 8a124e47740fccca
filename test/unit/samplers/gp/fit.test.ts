import { describe, expect, it } from "vitest";
import { createRng } from "../../../../server/core/rng.js";
import {
  defaultTheta,
  fitKernel,
  logMarginalLikelihood,
  logPrior,
  NOISE_VAR_MIN,
  thetaBounds,
} from "../../../../server/core/samplers/gp/fit.js";
import { matern52, thetaFromParams, type FeatureShape } from "../../../../server/core/samplers/gp/kernel.js";

const LOG_2PI = Math.log(2 * Math.PI);

/** Mixed data: two numeric features and one categorical with 3 levels. */
function mixedData(n: number): { x: Float64Array; y: Float64Array; shape: FeatureShape } {
  const rng = createRng(42, n);
  const shape: FeatureShape = { dims: 3, isCat: Uint8Array.from([0, 0, 1]) };
  const x = new Float64Array(n * 3);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i * 3] = rng.next();
    x[i * 3 + 1] = rng.next();
    x[i * 3 + 2] = rng.int(3);
    y[i] = Math.sin(4 * x[i * 3]) + x[i * 3 + 1] ** 2 + (x[i * 3 + 2] === 1 ? 0.5 : 0) + 0.05 * rng.normal();
  }
  return { x, y, shape };
}

describe("log marginal likelihood", () => {
  it("equals the closed form for one and two points", () => {
    const shape: FeatureShape = { dims: 1, isCat: Uint8Array.from([0]) };
    const theta = thetaFromParams({ signalVar: 1.7, lengthscales: Float64Array.from([0.3]), noiseVar: 0.01 });
    // n = 1: y ~ N(0, s2 + noise)
    const v = 1.7 + 0.01;
    expect(logMarginalLikelihood(theta, Float64Array.from([0.4]), Float64Array.from([0.8]), shape)).toBeCloseTo(
      -0.5 * (0.64 / v) - 0.5 * Math.log(v) - 0.5 * LOG_2PI,
      13,
    );
    // n = 2: K = [[a, b], [b, a]], a = s2 + noise, b = k(|0.1 - 0.5| / 0.3)
    const a = v;
    const b = matern52(0.4 / 0.3, 1.7);
    const det = a * a - b * b;
    const y1 = 0.8;
    const y2 = -0.3;
    const quad = (a * y1 * y1 - 2 * b * y1 * y2 + a * y2 * y2) / det;
    expect(logMarginalLikelihood(theta, Float64Array.from([0.1, 0.5]), Float64Array.from([y1, y2]), shape)).toBeCloseTo(
      -0.5 * quad - 0.5 * Math.log(det) - LOG_2PI,
      12,
    );
  });

  it("has an analytic gradient that matches central finite differences", () => {
    const { x, y, shape } = mixedData(15);
    for (const theta of [
      Float64Array.from([0.2, Math.log(0.3), Math.log(1.5), Math.log(0.7), Math.log(1e-2)]),
      Float64Array.from([-0.5, Math.log(0.1), Math.log(0.05), Math.log(3), Math.log(1e-4)]),
    ]) {
      const grad = new Float64Array(theta.length);
      logMarginalLikelihood(theta, x, y, shape, grad);
      for (let i = 0; i < theta.length; i++) {
        const h = 1e-5;
        const tp = theta.slice();
        const tm = theta.slice();
        tp[i] += h;
        tm[i] -= h;
        const fd = (logMarginalLikelihood(tp, x, y, shape) - logMarginalLikelihood(tm, x, y, shape)) / (2 * h);
        expect(Math.abs(grad[i] - fd), `d/dtheta[${i}]: ${grad[i]} vs ${fd}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it("has a prior whose gradient matches finite differences", () => {
    const shape: FeatureShape = { dims: 2, isCat: Uint8Array.from([0, 1]) };
    const theta = Float64Array.from([0.3, -1, 0.5, -6]);
    const grad = new Float64Array(4);
    logPrior(theta, shape, grad);
    for (let i = 0; i < 4; i++) {
      const h = 1e-6;
      const tp = theta.slice();
      const tm = theta.slice();
      tp[i] += h;
      tm[i] -= h;
      expect(grad[i]).toBeCloseTo((logPrior(tp, shape) - logPrior(tm, shape)) / (2 * h), 6);
    }
  });
});

describe("fitKernel", () => {
  it("finds a better posterior than the default start, within bounds, deterministically", () => {
    const { x, y, shape } = mixedData(30);
    const a = fitKernel(x, y, shape, createRng(1, 2));
    const b = fitKernel(x, y, shape, createRng(1, 2));
    expect([...a.theta]).toEqual([...b.theta]);
    const { lower, upper } = thetaBounds(shape);
    a.theta.forEach((t, i) => {
      expect(t).toBeGreaterThanOrEqual(lower[i]);
      expect(t).toBeLessThanOrEqual(upper[i]);
    });
    const def = defaultTheta(shape);
    expect(a.logPosterior).toBeGreaterThan(logMarginalLikelihood(def, x, y, shape) + logPrior(def, shape));
    expect(a.params.noiseVar).toBeGreaterThanOrEqual(NOISE_VAR_MIN * (1 - 1e-12));
    // y depends on feature 0 through sin(4x): a short-ish lengthscale there.
    expect(a.params.lengthscales[0]).toBeLessThan(2);
  });

  it("handles constant outputs and duplicated inputs without NaN", () => {
    const shape: FeatureShape = { dims: 2, isCat: Uint8Array.from([0, 0]) };
    const x = Float64Array.from([0.5, 0.5, 0.5, 0.5, 0.2, 0.9, 0.2, 0.9]);
    const r = fitKernel(x, new Float64Array(4), shape, createRng(3));
    for (const t of r.theta) expect(Number.isFinite(t)).toBe(true);
  });
});
