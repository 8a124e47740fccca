import { describe, expect, it } from "vitest";
import {
  discreteSize,
  discreteValues,
  floatStepValue,
  fromUnit,
  snapToDomain,
  spacedValues,
} from "../../../server/core/samplers/domain-map.js";
import { scalarInDomain, type FloatDomain, type IntDomain, type ScalarDomain } from "../../../server/core/space.js";

const f = (low: number, high: number, extra: { log?: boolean; step?: number } = {}): FloatDomain => ({
  type: "float",
  low,
  high,
  log: extra.log ?? false,
  ...(extra.step !== undefined ? { step: extra.step } : {}),
});
const i = (low: number, high: number, extra: { log?: boolean; step?: number } = {}): IntDomain => ({
  type: "int",
  low,
  high,
  log: extra.log ?? false,
  step: extra.step ?? 1,
});

const ALMOST_ONE = 1 - 2 ** -53;

describe("fromUnit", () => {
  const domains: ScalarDomain[] = [
    f(0.5, 0.5),
    f(-1, 2, { step: 0.25 }),
    f(0.1, 0.7, { step: 0.3 }),
    f(1e-5, 1, { log: true }),
    f(3, 3, { log: true }),
    f(-1e300, 1e300),
    i(7, 7),
    i(2, 29, { step: 3 }),
    i(1, 1000, { log: true }),
    i(5, 5, { log: true }),
    i(-9007199254740991, 9007199254740991),
    { type: "categorical", valueKind: "string", choices: ["only"] },
    { type: "categorical", valueKind: "number", choices: [1, 2, 3] },
  ];

  it("stays in the domain at the ends of the unit interval", () => {
    for (const d of domains) {
      for (const u of [0, 1e-17, 0.5, 1 - 1e-12, ALMOST_ONE]) {
        const v = fromUnit(u, d);
        expect(scalarInDomain(v, d), `${JSON.stringify(d)} at ${u} gave ${v}`).toBe(true);
      }
    }
  });

  it("maps 0 to the lower end and just below 1 to the upper end", () => {
    expect(fromUnit(0, f(-1, 2, { step: 0.25 }))).toBe(-1);
    expect(fromUnit(ALMOST_ONE, f(-1, 2, { step: 0.25 }))).toBe(2);
    expect(fromUnit(ALMOST_ONE, i(2, 29, { step: 3 }))).toBe(29);
    expect(fromUnit(0, i(1, 1000, { log: true }))).toBe(1);
    expect(fromUnit(ALMOST_ONE, i(1, 1000, { log: true }))).toBe(1000);
    expect(fromUnit(0, f(1e-5, 1, { log: true }))).toBeCloseTo(1e-5, 18);
    expect(fromUnit(ALMOST_ONE, { type: "categorical", valueKind: "number", choices: [1, 2, 3] })).toBe(3);
  });

  it("gives equal mass to every step", () => {
    const d = f(0, 1, { step: 0.25 });
    const hits = [0, 0.19, 0.21, 0.39, 0.41, 0.59, 0.61, 0.79, 0.81, 0.99].map((u) => fromUnit(u, d));
    expect(hits).toEqual([0, 0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1, 1]);
  });
});

describe("step helpers", () => {
  it("removes floating noise from stepped floats and ends on high exactly", () => {
    const d = f(0.1, 0.7, { step: 0.3 });
    expect([0, 1, 2].map((k) => floatStepValue(d, k))).toEqual([0.1, 0.4, 0.7]);
    expect(discreteValues(f(0, 1, { step: 0.1 }))).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    const wide = f(-1e6, 1e6, { step: 0.1 });
    expect(floatStepValue(wide, 7)).toBe(-999999.3);
    expect(floatStepValue(wide, 20_000_000)).toBe(1e6);
  });

  it("snaps onto the nearest step and clamps", () => {
    expect(snapToDomain(0.26, f(0, 1, { step: 0.25 }))).toBe(0.25);
    expect(snapToDomain(5, f(0, 1, { step: 0.25 }))).toBe(1);
    expect(snapToDomain(-5, f(0, 1))).toBe(0);
    expect(snapToDomain(9.4, i(2, 29, { step: 3 }))).toBe(8);
    expect(snapToDomain(9.6, i(2, 29, { step: 3 }))).toBe(11);
    expect(snapToDomain(100, i(2, 29, { step: 3 }))).toBe(29);
  });

  it("counts discrete values and leaves continuous floats unbounded", () => {
    expect(discreteSize(f(0, 1))).toBeUndefined();
    expect(discreteValues(f(0, 1))).toBeUndefined();
    expect(discreteSize(i(2, 29, { step: 3 }))).toBe(10);
    expect(discreteSize(f(-1, 2, { step: 0.25 }))).toBe(13);
    expect(discreteSize({ type: "categorical", valueKind: "bool", choices: [true, false] })).toBe(2);
  });

  it("spaces points linearly or geometrically, de-duplicated on steps", () => {
    expect(spacedValues(f(0, 1), 3)).toEqual([0, 0.5, 1]);
    expect(spacedValues(f(0, 1), 1)).toEqual([0]);
    expect(spacedValues(f(2, 2), 5)).toEqual([2]);
    const logs = spacedValues(f(1e-3, 1, { log: true }), 4);
    [1e-3, 1e-2, 1e-1, 1].forEach((v, k) => expect(logs[k]).toBeCloseTo(v, 14));
    expect(spacedValues(i(1, 3), 9)).toEqual([1, 2, 3]);
    expect(spacedValues(i(1, 100, { log: true }), 3)).toEqual([1, 10, 100]);
  });
});
