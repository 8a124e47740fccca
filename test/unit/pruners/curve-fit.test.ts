/**
 * The curve pruner's numerics: quantiles against tabulated values, the exact
 * least squares per shape, recovery of noiseless curves of each family, and
 * the coverage of the lower bound on noisy curves.
 */
import { describe, expect, it } from "vitest";

import { DEFAULT_FAMILIES, EXP, fitShape, forecast, LOGPOW, POW, WEIBULL, type FitOptions } from "../../../server/core/pruners/curve-fit.js";
import { accelerating, binned, localState } from "../../../server/core/pruners/curve.js";
import { betaInc, fCdf, fQuantile, logGamma, tQuantile } from "../../../server/core/pruners/stats.js";
import { createRng } from "../../../server/core/rng.js";

describe("stats", () => {
  it("logGamma", () => {
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 10);
    expect(logGamma(0.1)).toBeCloseTo(2.252712651734206, 10);
  });

  it("regularised incomplete beta", () => {
    expect(betaInc(0.5, 2, 2)).toBeCloseTo(0.5, 12);
    expect(betaInc(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    // I_x(a, 1) = x^a
    expect(betaInc(0.7, 3.5, 1)).toBeCloseTo(Math.pow(0.7, 3.5), 12);
    expect(betaInc(0.2, 2, 5)).toBeCloseTo(0.34464, 5);
    expect(betaInc(0, 2, 3)).toBe(0);
    expect(betaInc(1, 2, 3)).toBe(1);
  });

  it("Student t and F quantiles match tables", () => {
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228138852, 6);
    expect(tQuantile(0.95, 2)).toBeCloseTo(2.91998558, 6);
    expect(tQuantile(0.99, 5)).toBeCloseTo(3.364929997, 6);
    expect(tQuantile(0.995, 30)).toBeCloseTo(2.749995652, 6);
    expect(tQuantile(0.05, 10)).toBeCloseTo(-1.812461123, 6);
    expect(tQuantile(0.5, 7)).toBe(0);
    expect(fQuantile(0.95, 1, 12)).toBeCloseTo(4.747225347, 6);
    expect(fQuantile(0.95, 2, 10)).toBeCloseTo(4.102821015, 6);
    expect(fQuantile(0.99, 3, 20)).toBeCloseTo(4.938193382, 5);
    expect(fCdf(fQuantile(0.9, 4, 9), 4, 9)).toBeCloseTo(0.9, 10);
  });
});

const opts = (o: Partial<FitOptions> = {}): FitOptions => ({ confidence: 0.99, predictive: false, maxDelta: 6, ...o });
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("fitShape", () => {
  it("is the exact least squares of y = c + a g", () => {
    const ts = [1, 2, 4, 7, 11];
    const ys = [3.1, 2.2, 1.9, 1.4, 1.35];
    const shape = { label: () => "x", g: (t: number) => 1 / t };
    const f = fitShape(shape, ts, ys, 20);
    // Normal equations by hand.
    const n = ts.length;
    const g = ts.map((t) => 1 / t);
    const sg = g.reduce((s, x) => s + x, 0);
    const sgg = g.reduce((s, x) => s + x * x, 0);
    const sy = ys.reduce((s, x) => s + x, 0);
    const sgy = g.reduce((s, x, i) => s + x * (ys[i] as number), 0);
    const det = n * sgg - sg * sg;
    const c = (sgg * sy - sg * sgy) / det;
    const a = (n * sgy - sg * sy) / det;
    expect(f.c).toBeCloseTo(c, 12);
    expect(f.a).toBeCloseTo(a, 12);
    expect(f.prediction).toBeCloseTo(c + a / 20, 12);
    const rss = ys.reduce((s, y, i) => s + (y - c - a * (g[i] as number)) ** 2, 0);
    expect(f.rss).toBeCloseTo(rss, 12);
    // Leverage at the horizon: x_H' (X'X)^-1 x_H.
    const lev = (sgg - 2 * sg * (1 / 20) + n * (1 / 20) ** 2) / det;
    expect(f.leverage).toBeCloseTo(lev, 12);
  });

  it("a shape constant over the data is usable only if it stays constant", () => {
    const flat = fitShape({ label: () => "", g: (t) => Math.exp(-t / 0.01) }, [5, 6, 7], [1, 1.1, 0.9], 50);
    expect(flat.ok).toBe(true);
    expect(flat.prediction).toBeCloseTo(1, 12);
    const late = fitShape({ label: () => "", g: (t) => (t < 10 ? 1 : 0) }, [5, 6, 7], [1, 1.1, 0.9], 50);
    expect(late.ok).toBe(false);
  });
});

describe("forecast", () => {
  const cases: Array<[string, (t: number) => number, string]> = [
    ["exp", (t) => 0.3 + 1.2 * Math.exp(-t / 7), EXP.name],
    ["pow", (t) => 0.2 + 2 * Math.pow(t, -0.8), POW.name],
    ["logpow", (t) => 0.1 + 1.5 / (1 + Math.pow((t + 1) / 6, 2)), LOGPOW.name],
    ["weibull", (t) => 0.25 + 1 * Math.exp(-Math.pow(t / 9, 1.5)), WEIBULL.name],
  ];
  for (const [name, f, family] of cases) {
    it(`recovers a noiseless ${name} curve from 30 of 100 steps`, () => {
      const ts = range(1, 30);
      const out = forecast(
        ts,
        ts.map((t) => f(t)),
        100,
        opts(),
      );
      expect(out).toBeDefined();
      const fam = out?.families.find((x) => x.name === family);
      expect(fam?.plausible).toBe(true);
      // Its own family nails it (grid + golden-section refinement).
      expect(Math.abs((fam?.prediction ?? 0) - f(100))).toBeLessThan(2e-3);
      // Without noise the interval is as narrow as the grid's misfit.
      expect(out?.lower).toBeLessThanOrEqual(f(100) + 1e-4);
      expect(out?.upper).toBeGreaterThanOrEqual(f(100) - 1e-4);
    });
  }

  it("needs 4 points and 2 residual degrees of freedom per family", () => {
    expect(forecast([1, 2, 3], [3, 2, 1.5], 10, opts())).toBeUndefined();
    expect(forecast([1, 2, 3, 4], [3, 2, 1.5, 1.3], 10, opts())).toBeUndefined();
    const five = forecast([1, 2, 3, 4, 5], [3, 2, 1.5, 1.3, 1.2], 10, opts());
    expect(five?.families.map((f) => f.name)).toEqual(["exp"]);
  });

  it("the lower bound holds on noisy exponential curves far more often than the level says", () => {
    const rng = createRng(7);
    let misses = 0;
    const runs = 150;
    for (let r = 0; r < runs; r++) {
      const c = 0.05 + 0.3 * rng.next();
      const a = 0.8 + rng.next();
      const tau = 5 + 40 * rng.next();
      const upto = 8 + Math.floor(30 * rng.next());
      const ts = range(1, upto);
      const ys = ts.map((t) => c + a * Math.exp(-t / tau) + 0.01 * rng.normal());
      const f = forecast(ts, ys, 100, opts({ confidence: 0.95, noiseFloor: 1e-4 }));
      const truth = c + a * Math.exp(-100 / tau);
      if (f && f.lower > truth) misses++;
    }
    expect(misses / runs).toBeLessThanOrEqual(0.05);
  });

  it("model disagreement widens the interval: few points of a power law, noise sd 0.03", () => {
    const ts = range(1, 8);
    const ys = ts.map((t) => 0.2 + 2 * Math.pow(t, -0.5));
    const f = forecast(ts, ys, 100, opts({ noiseFloor: 1e-3 }));
    expect(f?.families.filter((x) => x.plausible).length).toBeGreaterThan(1);
    expect(f?.lower).toBeLessThan(0.2 + 2 * Math.pow(100, -0.5));
  });

  it("the default families are exp, pow, logpow and weibull", () => {
    expect(DEFAULT_FAMILIES.map((f) => [f.name, f.k])).toEqual([
      ["exp", 1],
      ["pow", 2],
      ["logpow", 2],
      ["weibull", 2],
    ]);
  });
});

describe("curve helpers", () => {
  it("bins long series from the end, averaging steps and signed values", () => {
    const steps = range(1, 10);
    const vals = steps.map((s) => s * 10);
    expect(binned(steps, vals, 1, 20)).toEqual({ xs: steps, ys: vals, size: 1 });
    const b = binned(steps, vals, -1, 4);
    expect(b.size).toBe(3);
    expect(b.xs).toEqual([1, 3, 6, 9]);
    expect(b.ys).toEqual([-10, -30, -60, -90]);
  });

  it("localState: level and slope of the last points", () => {
    const xs = range(1, 40);
    const st = localState(
      xs,
      xs.map((x) => 5 - 0.1 * x),
      0,
    );
    expect(st?.level).toBeCloseTo(1, 10);
    expect(st?.slope).toBeCloseTo(-0.1, 10);
  });

  it("accelerating: the start of a sigmoid, not an exponential decay", () => {
    const xs = range(1, 20);
    const sig = xs.map((t) => 1 - 0.8 / (1 + Math.exp(-(t - 25) / 3)));
    const dec = xs.map((t) => 0.2 + Math.exp(-t / 6));
    expect(accelerating(xs, sig, 2)).toBe(true);
    expect(accelerating(xs, dec, 2)).toBe(false);
  });
});
