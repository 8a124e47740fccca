import { describe, expect, it } from "vitest";
import { HpodError } from "../../../server/core/errors.js";
import { HaltonCoordinate, nthPrime } from "../../../server/core/samplers/halton.js";
import { QuasiRandomSampler, quasiRandomOptions, type QuasiRandomOptions } from "../../../server/core/samplers/quasi-random.js";
import { RandomSampler } from "../../../server/core/samplers/random.js";
import { fixedToUnit, owenScramble, SOBOL_MAX_DIMS, sobolInt } from "../../../server/core/samplers/sobol.js";
import { CompiledSpace, compileSpace, type FlatParams } from "../../../server/core/space.js";
import { drawMany, edgeSpace, expectValid, float, int, nestedSpace, numbers, scheduleSpace } from "./fixtures.js";

const VARIANTS: QuasiRandomOptions[] = [
  { sequence: "sobol", scrambled: true },
  { sequence: "sobol", scrambled: false },
  { sequence: "halton", scrambled: true },
  { sequence: "halton", scrambled: false },
];
const label = (o: QuasiRandomOptions): string => `${o.scrambled ? "scrambled" : "plain"} ${o.sequence}`;

/** Unit cubes of d float dimensions x0..x(d-1) over [0, 1]. */
const cube = (d: number): CompiledSpace =>
  compileSpace({ parameters: Array.from({ length: d }, (_, i) => float(`x${i}`, 0, 1)) });

/** Every cell of an n-cell partition of [0, 1) holds exactly one of the n values. */
function oneInEachCell(us: readonly number[]): boolean {
  const n = us.length;
  const cells = new Set(us.map((u) => Math.min(n - 1, Math.floor(u * n))));
  return cells.size === n;
}

/**
 * Largest gap between the share of points in an anchored box [0, a) x [0, b)
 * and its area, over a 32 x 32 lattice of corners (a star-discrepancy estimate).
 */
function discrepancy2d(pts: readonly (readonly [number, number])[]): number {
  let worst = 0;
  for (let i = 1; i <= 32; i++) {
    for (let j = 1; j <= 32; j++) {
      const a = i / 32;
      const b = j / 32;
      const inside = pts.filter(([x, y]) => x < a && y < b).length;
      worst = Math.max(worst, Math.abs(inside / pts.length - a * b));
    }
  }
  return worst;
}

const pairs = (points: FlatParams[]): [number, number][] => points.map((p) => [p["x0"] as number, p["x1"] as number]);

describe("Sobol sequence", () => {
  it("matches SciPy's unscrambled Sobol (Joe-Kuo 6.21201) bit for bit", () => {
    // Values from scipy.stats.qmc.Sobol(256, scramble=False, bits=32), times 2^32.
    expect([0, 1, 2, 3, 4, 5].map((d) => sobolInt(5, d))).toEqual([
      3758096384, 3758096384, 536870912, 1610612736, 3758096384, 2684354560,
    ]);
    expect(sobolInt(777, 255)).toBe(2730491904);
    expect(sobolInt(1000, 63)).toBe(1916796928);
    expect([0, 1, 7, 100, 255].map((d) => sobolInt(123456789, d))).toEqual([
      4191448864, 3403469216, 2973295136, 2298998240, 563653600,
    ]);
    expect([0, 1, 7, 100, 255].map((d) => sobolInt(4294967295, d))).toEqual([
      1, 4294967295, 2271450689, 692223879, 3526361403,
    ]);
    // A fingerprint of the first 1024 points in all 256 dimensions.
    let fp = 0;
    for (let n = 0; n < 1024; n++) {
      for (let d = 0; d < 256; d++) fp += Math.floor(sobolInt(n, d) / 4096) * (((d * 31 + n) % 1009) + 1);
    }
    expect(fp).toBe(69317157984256);
    expect(SOBOL_MAX_DIMS).toBe(256);
  });

  it("puts the first 2^k points of every dimension in distinct 2^-k cells, scrambled or not", () => {
    for (const dim of [0, 1, 2, 9, 63, 128, 255]) {
      for (const k of [1, 4, 8, 11]) {
        const n = 2 ** k;
        const plain = Array.from({ length: n }, (_, i) => fixedToUnit(sobolInt(i, dim)));
        const scrambled = Array.from({ length: n }, (_, i) => fixedToUnit(owenScramble(sobolInt(i, dim), 12345 + dim)));
        expect(oneInEachCell(plain), `dim ${dim}, 2^${k}`).toBe(true);
        expect(oneInEachCell(scrambled), `scrambled dim ${dim}, 2^${k}`).toBe(true);
      }
    }
  });

  it("makes dimensions 0 and 1 a (0, m, 2)-net, scrambled or not", () => {
    const m = 8;
    const n = 2 ** m;
    for (const scramble of [false, true]) {
      const coord = (i: number, d: number): number => {
        const x = sobolInt(i, d);
        return fixedToUnit(scramble ? owenScramble(x, 777 * (d + 1)) : x);
      };
      // Every elementary box of area 2^-m (2^a by 2^(m-a) cells) holds one point.
      for (let a = 0; a <= m; a++) {
        const cells = new Set<number>();
        for (let i = 0; i < n; i++) {
          cells.add(Math.floor(coord(i, 0) * 2 ** a) * 2 ** (m - a) + Math.floor(coord(i, 1) * 2 ** (m - a)));
        }
        expect(cells.size, `scramble ${scramble}, a = ${a}`).toBe(n);
      }
    }
  });
});

describe("Halton sequence", () => {
  it("gives the radical inverse when plain", () => {
    const h2 = new HaltonCoordinate(2);
    expect([0, 1, 2, 3, 4, 5].map((i) => h2.value(i))).toEqual([0, 0.5, 0.25, 0.75, 0.125, 0.625]);
    const h3 = new HaltonCoordinate(3);
    [0, 1 / 3, 2 / 3, 1 / 9, 4 / 9, 7 / 9].forEach((v, i) => expect(h3.value(i)).toBeCloseTo(v, 15));
    expect([0, 1, 2, 3, 4, 5, 24].map(nthPrime)).toEqual([2, 3, 5, 7, 11, 13, 97]);
  });

  it("keeps one point per b^-k cell when scrambled", () => {
    for (const [base, k] of [
      [2, 10],
      [3, 6],
      [7, 3],
      [97, 2],
    ] as const) {
      const h = new HaltonCoordinate(base, [99, base]);
      const us = Array.from({ length: base ** k }, (_, i) => h.value(i));
      expect(oneInEachCell(us), `base ${base}`).toBe(true);
      expect(us.every((u) => u >= 0 && u < 1)).toBe(true);
    }
  });
});

describe("QuasiRandomSampler", () => {
  for (const options of VARIANTS) {
    describe(label(options), () => {
      it("keeps every value inside its domain", () => {
        const space = edgeSpace();
        for (const p of drawMany(new QuasiRandomSampler(options), space, 3, 3000)) expectValid(space, p);
      });

      it("handles conditional and schedule dimensions", () => {
        for (const space of [nestedSpace(), scheduleSpace()]) {
          const points = drawMany(new QuasiRandomSampler(options), space, 4, 1000);
          for (const p of points) expectValid(space, p);
        }
        const nested = drawMany(new QuasiRandomSampler(options), nestedSpace(), 4, 1000);
        expect(nested.some((p) => p["gelu_approx_scale"] !== undefined)).toBe(true);
        expect(nested.some((p) => p["l2"] !== undefined)).toBe(true);
      });

      it("gives 1000 distinct points", () => {
        const space = compileSpace({ parameters: [float("a", 0, 1), float("b", 1e-3, 1, { log: true }), int("c", 1, 8)] });
        const points = drawMany(new QuasiRandomSampler(options), space, 5, 1000);
        expect(new Set(points.map((p) => CompiledSpace.key(p))).size).toBe(1000);
      });

      it("stratifies each dimension over the first trial ids", () => {
        // Sobol: 2^k points per 2^-k cells in every dimension; Halton: base 2, then base 3.
        const [n0, n1] = options.sequence === "sobol" ? [64, 64] : [64, 81];
        const points = drawMany(new QuasiRandomSampler(options), cube(2), 6, Math.max(n0, n1));
        expect(oneInEachCell(numbers(points.slice(0, n0), "x0"))).toBe(true);
        expect(oneInEachCell(numbers(points.slice(0, n1), "x1"))).toBe(true);
      });

      it("is deterministic for a seed", () => {
        const a = drawMany(new QuasiRandomSampler(options), edgeSpace(), 9, 100);
        const b = drawMany(new QuasiRandomSampler(options), edgeSpace(), 9, 100);
        expect(b).toEqual(a);
        const c = drawMany(new QuasiRandomSampler(options), edgeSpace(), 10, 100);
        if (options.scrambled) expect(c).not.toEqual(a);
        else expect(c).toEqual(a);
      });
    });
  }

  it("puts the first 2^k trials of a float dimension in distinct cells (scrambled Sobol, 1D)", () => {
    for (const scrambled of [false, true]) {
      for (const k of [3, 7, 10]) {
        const xs = numbers(drawMany(new QuasiRandomSampler({ sequence: "sobol", scrambled }), cube(1), 8, 2 ** k), "x0");
        expect(oneInEachCell(xs), `scrambled ${scrambled}, 2^${k}`).toBe(true);
      }
    }
  });

  it("starts unscrambled sequences at the lower corner", () => {
    const space = edgeSpace();
    for (const sequence of ["sobol", "halton"] as const) {
      const [first] = drawMany(new QuasiRandomSampler({ sequence, scrambled: false }), space, 1, 1);
      expect(first["plain"]).toBe(-3);
      expect(first["lr"]).toBeCloseTo(1e-5, 15);
      expect(first["batch"]).toBe(16);
    }
  });

  it("covers the square more evenly than random sampling", () => {
    const n = 256;
    const random = [1, 2, 3, 4, 5].map((seed) => discrepancy2d(pairs(drawMany(new RandomSampler(), cube(2), seed, n))));
    const meanRandom = random.reduce((s, x) => s + x, 0) / random.length;
    for (const options of VARIANTS) {
      for (const seed of [1, 2, 3]) {
        const d = discrepancy2d(pairs(drawMany(new QuasiRandomSampler(options), cube(2), seed, n)));
        expect(d, `${label(options)} seed ${seed}: ${d} vs random ${meanRandom}`).toBeLessThan(meanRandom / 2);
      }
    }
  });

  it("keeps parallel workers apart: consecutive trial ids are distinct points", () => {
    const s = new QuasiRandomSampler({ sequence: "sobol", scrambled: true });
    const ids = [40, 41, 42, 43];
    const keys = ids.map((id) => CompiledSpace.key(drawMany(s, cube(3), 1, 1, id)[0]));
    expect(new Set(keys).size).toBe(4);
  });

  it("goes past the Sobol table with Halton coordinates", () => {
    const d = SOBOL_MAX_DIMS + 44;
    const space = cube(d);
    const points = drawMany(new QuasiRandomSampler({ sequence: "sobol", scrambled: true }), space, 2, 512);
    for (const p of points) expectValid(space, p);
    // The extra coordinates are stratified too (base 3, then 5: 243 and 125 points per cell pass).
    expect(oneInEachCell(numbers(points.slice(0, 243), `x${SOBOL_MAX_DIMS}`))).toBe(true);
    expect(oneInEachCell(numbers(points.slice(0, 125), `x${SOBOL_MAX_DIMS + 1}`))).toBe(true);
    // ...and not a copy of a Sobol coordinate.
    const last = numbers(points, `x${d - 1}`);
    expect(new Set(last).size).toBe(512);
  });
});

describe("quasiRandomOptions", () => {
  it("defaults to scrambled Sobol", () => {
    expect(quasiRandomOptions(undefined, "f")).toEqual({ sequence: "sobol", scrambled: true });
    expect(quasiRandomOptions({ sequence: "halton", scrambled: false }, "f")).toEqual({ sequence: "halton", scrambled: false });
  });

  it("rejects an unknown sequence, naming the field", () => {
    const spec = JSON.parse('{"sequence": "niederreiter", "scrambled": true}') as QuasiRandomOptions;
    expect(() => quasiRandomOptions(spec, "study.spec.algorithm.quasi_random")).toThrow(HpodError);
    expect(() => quasiRandomOptions(spec, "study.spec.algorithm.quasi_random")).toThrow(
      'study.spec.algorithm.quasi_random.sequence: unknown sequence "niederreiter" (known: sobol, halton)',
    );
  });
});
