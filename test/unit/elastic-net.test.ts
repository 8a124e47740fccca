/**
 * The exact linear-regression solver against scikit-learn 1.2.1 (Debian
 * python3-sklearn): the first 100 rows of examples/tune/data/diabetes.csv,
 * features standardised (population std), target `progression`. Reference
 * values printed by Ridge(alpha=1) and ElasticNet(alpha, l1_ratio,
 * tol=1e-14); their objectives map to ours (mean squared error + l1 |w|_1 +
 * l2 |w|^2) as Ridge: l2 = alpha / n; ElasticNet: l1 = 2 alpha l1_ratio,
 * l2 = alpha (1 - l1_ratio).
 */
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { loadDataset } from "../../gpu-runner/tfjs/data.js";
import { solveElasticNet } from "../../gpu-runner/tfjs/elastic-net.js";

const d = loadDataset(join(import.meta.dirname, "..", "..", "examples", "tune", "data", "diabetes.csv"), { target: "progression" });
const raw = d.x.slice(0, 100);
const y = d.y.slice(0, 100);
const n = raw.length;
const mean = raw[0].map((_, j) => raw.reduce((s, r) => s + r[j], 0) / n);
const std = raw[0].map((_, j) => Math.sqrt(raw.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n));
const x = raw.map((r) => r.map((v, j) => (v - mean[j]) / std[j]));

function expectClose(actual: number[], expected: number[], tol: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]), `weight ${i}: ${v} vs ${expected[i]}`).toBeLessThan(tol));
}

describe("solveElasticNet", () => {
  it("equals scikit-learn's Ridge(alpha=1)", () => {
    const s = solveElasticNet(x, y, { l1: 0, l2: 1 / n });
    expectClose(
      s.weights,
      [1.4628599825, -17.7998241776, 19.4588058727, 7.9812723275, 3.7677655991, -19.6232675876, -7.5813572268, 13.2795373432, 26.0785647705, -2.2971681066],
      1e-6,
    );
    expect(s.bias).toBeCloseTo(133.56, 8);
  });

  it("equals scikit-learn's ElasticNet(alpha=0.5, l1_ratio=0.5)", () => {
    const s = solveElasticNet(x, y, { l1: 2 * 0.5 * 0.5, l2: 0.5 * 0.5 });
    expectClose(
      s.weights,
      [0.9331595305, -11.9719501397, 16.5455760029, 6.7948215832, -1.6746464063, -8.6906798148, -6.7082192059, 7.0520161843, 22.9985574705, -0.0627151364],
      1e-6,
    );
  });

  it("sets weights exactly to zero where the L1 term dominates (ElasticNet(alpha=4, l1_ratio=0.9))", () => {
    const s = solveElasticNet(x, y, { l1: 2 * 4 * 0.9, l2: 4 * 0.1 });
    expectClose(s.weights, [0, -5.3587097823, 14.0189413158, 3.7877784383, 0, -3.5918757741, -5.312343971, 2.2303475136, 19.4257053193, 0], 1e-6);
    expect(s.weights[0]).toBe(0);
    expect(s.weights[9]).toBe(0);
  });

  it("handles a constant column (weight 0) and an unpenalised bias on raw features", () => {
    const xs = x.map((r) => [...r, 5]);
    const s = solveElasticNet(xs, y, { l1: 0, l2: 1 / n });
    expect(Math.abs(s.weights[10])).toBeLessThan(1e-9);
    expect(s.weights[2]).toBeCloseTo(19.4588058727, 6);
    // The same fit on unstandardised rows predicts the same values (the bias absorbs the centring).
    const shifted = x.map((r) => r.map((v) => v + 100));
    const t = solveElasticNet(shifted, y, { l1: 0, l2: 1 / n });
    expect(t.weights[2]).toBeCloseTo(19.4588058727, 6);
    expect(t.bias + t.weights.reduce((s2, w, j) => s2 + w * shifted[0][j], 0)).toBeCloseTo(s.bias + s.weights.reduce((s2, w, j) => s2 + w * xs[0][j], 0), 6);
  });

  it("an L1 term only lowers the objective from the ridge start, even when cut short", () => {
    const objective = (w: number[], b: number, l1: number, l2: number): number =>
      x.reduce((t, row, i) => t + (y[i] - b - row.reduce((a, v, j) => a + v * w[j], 0)) ** 2, 0) / n + w.reduce((t, v) => t + l1 * Math.abs(v) + l2 * v * v, 0);
    const l1 = 2;
    const l2 = 0.01;
    const ridge = solveElasticNet(x, y, { l1: 0, l2 });
    expect(ridge.sweeps).toBe(0);
    const short = solveElasticNet(x, y, { l1, l2, maxSweeps: 2 });
    const full = solveElasticNet(x, y, { l1, l2 });
    expect(short.sweeps).toBe(2);
    const start = objective(ridge.weights, ridge.bias, l1, l2);
    expect(objective(short.weights, short.bias, l1, l2)).toBeLessThan(start);
    expect(objective(full.weights, full.bias, l1, l2)).toBeLessThanOrEqual(objective(short.weights, short.bias, l1, l2) + 1e-9);
    // The objective the solver reports is the one it minimised.
    expect(full.objective).toBeCloseTo(objective(full.weights, full.bias, l1, l2), 8);
    expect(ridge.objective).toBeCloseTo(objective(ridge.weights, ridge.bias, 0, l2), 8);
  });

  it("a duplicated column with no penalty gets the minimum-norm split (the singular case)", () => {
    const dup = x.map((r) => [...r, r[2]]);
    const s = solveElasticNet(dup, y, { l1: 0, l2: 0 });
    const ols = solveElasticNet(x, y, { l1: 0, l2: 0 });
    expect(s.weights[2]).toBeCloseTo(ols.weights[2] / 2, 6);
    expect(s.weights[10]).toBeCloseTo(ols.weights[2] / 2, 6);
  });

  it("refuses mismatched rows and negative penalties", () => {
    expect(() => solveElasticNet(x, y.slice(1), { l1: 0, l2: 0 })).toThrow(/rows/);
    expect(() => solveElasticNet(x, y, { l1: -1, l2: 0 })).toThrow(/l1 and l2/);
  });
});
