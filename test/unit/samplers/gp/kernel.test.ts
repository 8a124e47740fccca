import { describe, expect, it } from "vitest";
import {
  crossCovariance,
  inverseSquaredLengthscales,
  kernelMatrix,
  matern52,
  matern52G,
  paramsFromTheta,
  scaledSqDist,
  thetaFromParams,
  type FeatureShape,
  type KernelParams,
} from "../../../../server/core/samplers/gp/kernel.js";

const shape: FeatureShape = { dims: 3, isCat: Uint8Array.from([0, 0, 1]) };
const params: KernelParams = { signalVar: 1.5, lengthscales: Float64Array.from([0.5, 2, 0.8]), noiseVar: 1e-4 };

describe("Matern-5/2 kernel", () => {
  it("matches hand-computed values", () => {
    // s2 (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r); mpmath, 17 digits.
    expect(matern52(0, 1)).toBe(1);
    expect(matern52(1, 1)).toBeCloseTo(0.52399410883182031, 15);
    expect(matern52(0.5, 2)).toBeCloseTo(1.6572982848362506, 15);
    // By hand: r = 0.5: sqrt5 r = 1.118033988749895, 5/3 r^2 = 0.416666..., exp(-1.118034) = 0.3269...
    const sr = Math.sqrt(5) * 0.5;
    expect(matern52(0.5, 2)).toBeCloseTo(2 * (1 + sr + 5 / 12) * Math.exp(-sr), 15);
  });

  it("uses a Hamming term for categorical features", () => {
    // x = (0.1, 0.7, choice 2), x' = (0.4, 0.3, choice 1):
    // r^2 = (0.3 / 0.5)^2 + (0.4 / 2)^2 + 1 / 0.8^2 = 0.36 + 0.04 + 1.5625 = 1.9625
    const a = [0.1, 0.7, 2];
    const b = [0.4, 0.3, 1];
    const inv = inverseSquaredLengthscales(params);
    expect(scaledSqDist(a, 0, b, 0, shape, inv)).toBeCloseTo(1.9625, 14);
    expect(matern52(Math.sqrt(1.9625), 1.5)).toBeCloseTo(0.48427769976897699, 14);
    // Same choice: no categorical term; the index difference itself never matters.
    expect(scaledSqDist([0.1, 0.7, 2], 0, [0.4, 0.3, 2], 0, shape, inv)).toBeCloseTo(0.4, 14);
    expect(scaledSqDist([0, 0, 0], 0, [0, 0, 5], 0, shape, inv)).toBeCloseTo(scaledSqDist([0, 0, 0], 0, [0, 0, 1], 0, shape, inv), 15);
  });

  it("builds a symmetric covariance with s2 on the diagonal, and matching cross-covariances", () => {
    const x = Float64Array.from([0.1, 0.7, 2, 0.4, 0.3, 1, 0.9, 0.9, 2]);
    const { k, r } = kernelMatrix(x, 3, shape, params);
    for (let i = 0; i < 3; i++) {
      expect(k[i * 3 + i]).toBe(1.5);
      for (let j = 0; j < 3; j++) expect(k[i * 3 + j]).toBe(k[j * 3 + i]);
    }
    expect(k[1]).toBeCloseTo(0.48427769976897699, 14);
    expect(r[1]).toBeCloseTo(Math.sqrt(1.9625), 14);
    const cross = crossCovariance(x, 3, shape, params, inverseSquaredLengthscales(params), [0.1, 0.7, 2], new Float64Array(3));
    expect([...cross]).toEqual([k[0], k[1], k[2]]);
  });

  it("g(r) = -k'(r) / r", () => {
    for (const r of [0.1, 0.7, 2.5]) {
      const h = 1e-6;
      const dk = (matern52(r + h, 1.3) - matern52(r - h, 1.3)) / (2 * h);
      expect(matern52G(r, 1.3)).toBeCloseTo(-dk / r, 7);
    }
    expect(matern52G(0, 1)).toBeCloseTo(5 / 3, 15);
  });

  it("round-trips hyperparameters through theta", () => {
    const back = paramsFromTheta(thetaFromParams(params), shape);
    expect(back.signalVar).toBeCloseTo(1.5, 14);
    expect(back.noiseVar).toBeCloseTo(1e-4, 18);
    [0.5, 2, 0.8].forEach((l, j) => expect(back.lengthscales[j]).toBeCloseTo(l, 14));
  });
});
