/**
 * Special functions against reference values computed with mpmath 1.3 at 40
 * significant digits (mp.erfc(x) * mp.exp(x**2); log(npdf(z) + z * ncdf(z));
 * log(ncdf(z)); ncdf(z) / h(z); npdf(z) / ncdf(z)), rounded to 17 digits.
 */
import { describe, expect, it } from "vitest";
import { dLogH, erfcx, logH, logNormCdf, normCdf, normPdfOverCdf } from "../../../../server/core/samplers/gp/special.js";

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

describe("erfcx", () => {
  it("matches mpmath to ~1e-14 on both sides of the series / continued-fraction switch", () => {
    const ref: [number, number][] = [
      [0, 1],
      [0.3, 0.73459933456765514],
      [1, 0.427583576155807],
      [1.25, 0.36782291645236109],
      [2, 0.25539567631050574],
      [5, 0.11070463773306863],
      [30, 0.018795888861416751],
      [1e4, 5.6418958072680841e-5],
    ];
    for (const [x, v] of ref) expect(rel(erfcx(x), v), `erfcx(${x})`).toBeLessThan(5e-15);
    expect(erfcx(1e300)).toBeGreaterThan(0);
    expect(erfcx(Infinity)).toBe(0);
    expect(Number.isNaN(erfcx(NaN))).toBe(true);
  });

  it("is continuous at the switch point", () => {
    expect(rel(erfcx(1.25 - 1e-12), erfcx(1.25))).toBeLessThan(1e-11);
  });
});

describe("log h(z) = log(phi(z) + z Phi(z)) and its derivative", () => {
  // [z, log h(z), Phi(z) / h(z)]
  const ref: [number, number, number][] = [
    [3, 1.0987396653277078, 0.33284096845179524],
    [0.5, -0.35982768374506382, 0.99092271800410996],
    [0, -0.91893853320467274, 1.2533141373155003],
    [-0.5, -1.6205162643873199, 1.5598731483480797],
    [-1, -2.4851210257126413, 1.9042712333296918],
    [-3, -7.8696860596030285, 3.5323375176251605],
    [-8, -37.122364261692633, 8.2393965068400669],
    [-12, -77.909100545007348, 12.16335257158574],
    [-30, -457.724653760598, 30.066446154162419],
    [-1e3, -500014.73445209116, 1000.001999994],
    [-1e6, -500000000028.54996, 1000000.000002],
  ];
  it("matches mpmath, including very negative z where EI itself underflows", () => {
    for (const [z, lh, d] of ref) {
      expect(rel(logH(z), lh), `logH(${z})`).toBeLessThan(1e-13);
      expect(rel(dLogH(z), d), `dLogH(${z})`).toBeLessThan(1e-12);
    }
    // EI = sigma h(z) is exactly 0 in double precision here, log EI is not.
    expect(Math.exp(logH(-40))).toBe(0);
    expect(Number.isFinite(logH(-1e150))).toBe(true);
    expect(dLogH(-1e150)).toBeCloseTo(1e150, -140);
  });

  it("is smooth and increasing across the branch points (z = -1, z = -10)", () => {
    for (const z0 of [-1, -10]) {
      const a = logH(z0 - 1e-9);
      const b = logH(z0 + 1e-9);
      expect(b).toBeGreaterThan(a);
      expect((b - a) / 2e-9).toBeCloseTo(dLogH(z0), 4);
    }
    let prev = -Infinity;
    for (let z = -50; z <= 5; z += 0.37) {
      const v = logH(z);
      expect(v).toBeGreaterThan(prev);
      prev = v;
    }
  });
});

describe("log Phi", () => {
  it("matches mpmath in both tails", () => {
    const ref: [number, number, number][] = [
      [-1e3, -500007.82669481218, 1000.000999998],
      [-38, -726.55721601882013, 38.026279466575869],
      [-5, -15.064998393988726, 5.1865039671258421],
      [-0.5, -1.1759117615936186, 1.1410777703680645],
      [0, -0.69314718055994531, 0.79788456080286536],
      [2, -0.023012909328963488, 0.055247862678989959],
      [9, -1.1285884059538406e-19, 1.0279773571668915e-18],
    ];
    for (const [z, lc, ratio] of ref) {
      expect(rel(logNormCdf(z), lc), `logNormCdf(${z})`).toBeLessThan(1e-14);
      expect(rel(normPdfOverCdf(z), ratio), `phi/Phi(${z})`).toBeLessThan(1e-13);
    }
    expect(normCdf(0)).toBe(0.5);
    expect(normCdf(-37)).toBeGreaterThan(0); // ~5.7e-300, still a normal double
  });
});
