import { describe, expect, it } from "vitest";
import { createRng } from "../../../../server/core/rng.js";
import { fitKernel } from "../../../../server/core/samplers/gp/fit.js";
import type { FeatureShape } from "../../../../server/core/samplers/gp/kernel.js";
import { GpPosterior } from "../../../../server/core/samplers/gp/posterior.js";

const shape: FeatureShape = { dims: 1, isCat: Uint8Array.from([0]) };

describe("GP posterior", () => {
  it("interpolates a 1-D toy with small noise and is uncertain between points", () => {
    const xs = [0, 0.2, 0.4, 0.6, 0.8, 1];
    const f = (x: number): number => Math.sin(2 * Math.PI * x);
    const x = Float64Array.from(xs);
    const y = Float64Array.from(xs, f);
    const gp = new GpPosterior(x, y, shape, { signalVar: 1, lengthscales: Float64Array.from([0.3]), noiseVar: 1e-6 });
    for (const xi of xs) {
      const p = gp.predict([xi]);
      expect(p.mean).toBeCloseTo(f(xi), 3);
      expect(p.variance).toBeLessThan(1e-5);
    }
    const mid = gp.predict([0.1]);
    expect(Math.abs(mid.mean - f(0.1))).toBeLessThan(0.1);
    expect(mid.variance).toBeGreaterThan(1e-4);
    // Far from the data the prior comes back.
    const gpShort = new GpPosterior(x, y, shape, { signalVar: 1, lengthscales: Float64Array.from([0.02]), noiseVar: 1e-6 });
    expect(gpShort.predict([0.1]).variance).toBeGreaterThan(0.9);
    expect(Math.abs(gpShort.predict([0.1]).mean)).toBeLessThan(0.05);
  });

  it("fits the toy with MAP hyperparameters and still interpolates", () => {
    const xs = Array.from({ length: 9 }, (_, i) => i / 8);
    const y = Float64Array.from(xs, (v) => Math.sin(2 * Math.PI * v));
    const fit = fitKernel(Float64Array.from(xs), y, shape, createRng(5));
    expect(fit.params.noiseVar).toBeLessThan(1e-2);
    const gp = new GpPosterior(Float64Array.from(xs), y, shape, fit.params);
    expect(gp.predict([0.3125]).mean).toBeCloseTo(Math.sin(2 * Math.PI * 0.3125), 1);
  });

  it("gives mean / variance gradients that match finite differences", () => {
    const shape2: FeatureShape = { dims: 3, isCat: Uint8Array.from([0, 1, 0]) };
    const rng = createRng(9);
    const n = 20;
    const x = new Float64Array(n * 3);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 3] = rng.next();
      x[i * 3 + 1] = rng.int(2);
      x[i * 3 + 2] = rng.next();
      y[i] = rng.normal();
    }
    const gp = new GpPosterior(x, y, shape2, { signalVar: 1.2, lengthscales: Float64Array.from([0.4, 1, 0.7]), noiseVar: 1e-3 });
    const p = [0.33, 1, 0.61];
    const gm = new Float64Array(3);
    const gv = new Float64Array(3);
    gp.predictWithGradient(p, gm, gv);
    expect(gm[1]).toBe(0);
    for (const j of [0, 2]) {
      const h = 1e-6;
      const a = [...p];
      const b = [...p];
      a[j] += h;
      b[j] -= h;
      const pa = gp.predict(a);
      const pb = gp.predict(b);
      expect(gm[j]).toBeCloseTo((pa.mean - pb.mean) / (2 * h), 5);
      expect(gv[j]).toBeCloseTo((pa.variance - pb.variance) / (2 * h), 5);
    }
  });
});
