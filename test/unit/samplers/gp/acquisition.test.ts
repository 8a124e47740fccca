/**
 * Reference values: log EI = log sd + log h((best - mean) / sd), with log h
 * from mpmath (see special.test.ts); EI for z = 0.5 by hand:
 * h(0.5) = phi(0.5) + 0.5 Phi(0.5) = 0.3520653268 + 0.5 * 0.6914624613 = 0.6977965575.
 */
import { describe, expect, it } from "vitest";
import { createRng } from "../../../../server/core/rng.js";
import {
  acquisitionValue,
  acquisitionValueAndGradient,
  logExpectedImprovement,
  type Acquisition,
} from "../../../../server/core/samplers/gp/acquisition.js";
import type { FeatureShape } from "../../../../server/core/samplers/gp/kernel.js";
import { GpPosterior } from "../../../../server/core/samplers/gp/posterior.js";

describe("log expected improvement", () => {
  it("matches known values, including far below the incumbent", () => {
    // best - mean = 1, sd = 2: z = 0.5
    expect(logExpectedImprovement(0, 2, 1)).toBeCloseTo(Math.log(2 * 0.6977965575), 9);
    expect(logExpectedImprovement(0, 1, 0)).toBeCloseTo(-0.91893853320467274, 14);
    // z = -30 and z = -1000: EI underflows (exp(-457.7) and worse), log EI does not.
    expect(logExpectedImprovement(30, 1, 0)).toBeCloseTo(-457.724653760598, 9);
    expect(logExpectedImprovement(1000, 0.5, 500)).toBeCloseTo(Math.log(0.5) - 500014.73445209116, 6);
    // Monotone: a lower mean or (below the incumbent) a larger sd is better.
    expect(logExpectedImprovement(1, 1, 0)).toBeGreaterThan(logExpectedImprovement(2, 1, 0));
    expect(logExpectedImprovement(5, 2, 0)).toBeGreaterThan(logExpectedImprovement(5, 1, 0));
  });
});

describe("acquisition gradients", () => {
  const shape: FeatureShape = { dims: 3, isCat: Uint8Array.from([0, 0, 1]) };
  function gp(seed: number): GpPosterior {
    const rng = createRng(seed);
    const n = 25;
    const x = new Float64Array(n * 3);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 3] = rng.next();
      x[i * 3 + 1] = rng.next();
      x[i * 3 + 2] = rng.int(3);
      y[i] = Math.cos(3 * x[i * 3]) + x[i * 3 + 1] + 0.1 * rng.normal();
    }
    return new GpPosterior(x, y, shape, { signalVar: 1, lengthscales: Float64Array.from([0.3, 0.5, 1]), noiseVar: 1e-3 });
  }

  const cases: [string, Acquisition][] = [
    ["logei", { kind: "logei", objective: gp(1), best: -0.2, beta: 4, constraints: [] }],
    ["logei far from incumbent", { kind: "logei", objective: gp(1), best: -8, beta: 4, constraints: [] }],
    ["ucb", { kind: "ucb", objective: gp(1), best: -0.2, beta: 4, constraints: [] }],
    ["logei + constraint", { kind: "logei", objective: gp(1), best: 0, beta: 4, constraints: [{ gp: gp(2), threshold: 0.3 }] }],
    ["feasibility only", { kind: "logei", objective: gp(1), best: undefined, beta: 4, constraints: [{ gp: gp(3), threshold: -1 }] }],
  ];
  for (const [name, acq] of cases) {
    it(`${name}: value matches the value-only path and the gradient matches finite differences`, () => {
      const grad = new Float64Array(3);
      const gm = new Float64Array(3);
      const gv = new Float64Array(3);
      for (const p of [
        [0.21, 0.77, 1],
        [0.9, 0.05, 0],
      ]) {
        const v = acquisitionValueAndGradient(acq, p, grad, gm, gv);
        expect(v).toBeCloseTo(acquisitionValue(acq, p), 12);
        expect(grad[2]).toBe(0);
        for (const j of [0, 1]) {
          const h = 1e-6;
          const a = [...p];
          const b = [...p];
          a[j] += h;
          b[j] -= h;
          const fd = (acquisitionValue(acq, a) - acquisitionValue(acq, b)) / (2 * h);
          expect(Math.abs(grad[j] - fd), `${name} d/dx${j}: ${grad[j]} vs ${fd}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
        }
      }
    });
  }
});
