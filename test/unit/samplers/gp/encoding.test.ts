import { describe, expect, it } from "vitest";
import { fromUnit } from "../../../../server/core/samplers/domain-map.js";
import { INACTIVE_CATEGORICAL, INACTIVE_NUMERIC, SpaceEncoding } from "../../../../server/core/samplers/gp/encoding.js";
import { compileSpace } from "../../../../server/core/space.js";
import { cat, edgeSpace, expectValid, float, int, nestedSpace, scheduleSpace } from "../fixtures.js";

describe("SpaceEncoding", () => {
  it("models only the dimensions that can vary", () => {
    const enc = new SpaceEncoding(edgeSpace());
    // fixed_f, fixed_i and only are constant: 12 dims, 9 features.
    expect(enc.dims).toBe(9);
    expect(enc.features.filter((f) => f.categorical).map((f) => f.levels)).toEqual([2, 4]);
  });

  it("encodes values into the cells that fromUnit decodes back to the same value", () => {
    const space = compileSpace({
      parameters: [
        int("i", 2, 29, { step: 3 }),
        float("f", -1, 2, { step: 0.25 }),
        float("lr", 1e-5, 1, { log: true }),
        int("u", 1, 1000, { log: true }),
        float("p", -3, 5),
        cat("c", ["a", "b", "c"]),
      ],
    });
    const enc = new SpaceEncoding(space);
    for (const flat of [
      { i: 2, f: -1, lr: 1e-5, u: 1, p: -3, c: "a" },
      { i: 29, f: 2, lr: 1, u: 1000, p: 5, c: "c" },
      { i: 14, f: 0.75, lr: 0.003, u: 37, p: 0.1, c: "b" },
    ]) {
      const x = enc.encode(flat);
      for (const v of x) expect(Number.isFinite(v)).toBe(true);
      const back = enc.decode(x);
      expect(back.i).toBe(flat.i);
      expect(back.f).toBe(flat.f);
      expect(back.u).toBe(flat.u);
      expect(back.c).toBe(flat.c);
      expect(back.lr as number).toBeCloseTo(flat.lr, 12);
      expect(back.p as number).toBeCloseTo(flat.p, 12);
    }
    // Cells: value k of n at (k + 0.5) / n, as fromUnit reads them.
    const d = space.dim("i")?.domain;
    expect(enc.encode({ i: 5, f: 0, lr: 0.1, u: 3, p: 0, c: "a" })[0]).toBeCloseTo(1.5 / 10, 15);
    if (d) expect(fromUnit(1.5 / 10, d)).toBe(5);
  });

  it("uses fixed defaults for inactive dimensions and decodes only active ones", () => {
    const space = nestedSpace();
    const enc = new SpaceEncoding(space);
    const x = enc.encode({ model: "linear", l2: 1e-3, dropout: 0.1 });
    const feat = (name: string): number => enc.features.findIndex((f) => space.dims[f.dim].name === name);
    expect(x[feat("layers")]).toBe(INACTIVE_NUMERIC);
    expect(x[feat("act")]).toBe(INACTIVE_CATEGORICAL);
    expect(x[feat("gelu_approx_scale")]).toBe(INACTIVE_NUMERIC);
    // Any feature vector decodes to a legal point.
    for (const u of [
      [0, 0.2, 0.9, 1, 0.5, 0.3],
      [1, 0.2, 0.9, 1, 0.5, 0.3],
      [1, 0.2, 0.01, -1, 0.5, 0.3],
      [7, -3, 9, 9, NaN, 2],
    ]) {
      expectValid(space, enc.decode(u));
      expect(enc.canonical(u).x).toEqual(enc.encode(enc.decode(u)));
    }
    expectValid(scheduleSpace(), new SpaceEncoding(scheduleSpace()).decode(new Float64Array(20).fill(0.7)));
  });
});
