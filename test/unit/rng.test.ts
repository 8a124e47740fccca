/**
 * Seeded, keyed pseudo-random generators.
 */
import { describe, expect, it } from "vitest";

import { createRng, mixKeys } from "../../server/core/rng.js";

const draws = (n: number, ...keys: number[]): number[] => {
  const r = createRng(...keys);
  return Array.from({ length: n }, () => r.next());
};

describe("createRng", () => {
  it("is deterministic for the same keys", () => {
    expect(draws(100, 42, 7, 3)).toEqual(draws(100, 42, 7, 3));
    const a = createRng(1, 2);
    const b = createRng(1, 2);
    expect([a.int(10), a.normal(), a.next(), a.normal(), a.normal()]).toEqual([b.int(10), b.normal(), b.next(), b.normal(), b.normal()]);
  });

  it("different keys give different streams", () => {
    const base = draws(20, 42, 7, 3);
    for (const keys of [[42, 7, 4], [42, 8, 3], [43, 7, 3], [42, 7], [42, 7, 3, 0], [7, 42, 3]]) {
      const other = draws(20, ...keys);
      expect(other, JSON.stringify(keys)).not.toEqual(base);
      // not merely shifted: no shared values at all
      expect(other.filter((x) => base.includes(x)), JSON.stringify(keys)).toEqual([]);
    }
  });

  it("next() is in [0, 1) with 53-bit resolution", () => {
    const xs = draws(50_000, 9);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // values are not restricted to a 32-bit grid
    expect(xs.some((x) => !Number.isInteger(x * 2 ** 32))).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
  });

  it("int(n) stays in [0, n) and is roughly uniform (chi-square)", () => {
    const r = createRng(2024, 1);
    const n = 10;
    const N = 100_000;
    const counts = new Array<number>(n).fill(0);
    let outside = 0;
    for (let i = 0; i < N; i++) {
      const k = r.int(n);
      if (!(Number.isInteger(k) && k >= 0 && k < n)) outside++;
      else counts[k]!++;
    }
    expect(outside).toBe(0);
    const expected = N / n;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // df = 9: p = 1e-6 is about 45; a broken generator lands far above
    expect(chi2).toBeLessThan(45);
    expect(counts.every((c) => c > 0)).toBe(true);
  });

  it("int(1) is always 0; int(2^32) reaches above 2^31", () => {
    const r = createRng(5);
    for (let i = 0; i < 100; i++) expect(r.int(1)).toBe(0);
    const big = Array.from({ length: 200 }, () => r.int(2 ** 32));
    expect(big.some((x) => x >= 2 ** 31)).toBe(true);
    expect(big.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
  });

  it("normal() has mean ~0 and variance ~1 over 20k draws", () => {
    const r = createRng(77, 3);
    const N = 20_000;
    const xs = Array.from({ length: N }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / N;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (N - 1);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.06);
    expect(xs.every(Number.isFinite)).toBe(true);
    // about 68% within one standard deviation
    const within = xs.filter((x) => Math.abs(x) < 1).length / N;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.02);
  });
});

describe("mixKeys", () => {
  it("is a deterministic 32-bit unsigned value", () => {
    const h = mixKeys(1, 2, 3);
    expect(h).toBe(mixKeys(1, 2, 3));
    expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
  });

  it("is order sensitive", () => {
    expect(mixKeys(1, 2)).not.toBe(mixKeys(2, 1));
    expect(mixKeys(0, 1)).not.toBe(mixKeys(1, 0));
  });

  it("uses the high bits of 53-bit keys", () => {
    const big = 2 ** 52 + 12345;
    expect(mixKeys(big)).not.toBe(mixKeys(12345));
    expect(mixKeys(1)).not.toBe(mixKeys(1 + 2 ** 32));
    expect(mixKeys(2 ** 40)).not.toBe(mixKeys(2 ** 40 + 2 ** 32));
    expect(mixKeys(Number.MAX_SAFE_INTEGER)).not.toBe(mixKeys(Number.MAX_SAFE_INTEGER - 2 ** 32));
    expect(draws(5, 2 ** 40, 1)).not.toEqual(draws(5, 2 ** 41, 1));
  });

  it("counts the number of keys", () => {
    expect(mixKeys(5)).not.toBe(mixKeys(5, 0));
    expect(mixKeys()).not.toBe(mixKeys(0));
  });

  it("has no collisions over a small grid of keys", () => {
    const seen = new Set<number>();
    for (let a = 0; a < 50; a++) for (let b = 0; b < 50; b++) seen.add(mixKeys(a, b));
    expect(seen.size).toBe(2500);
  });
});
