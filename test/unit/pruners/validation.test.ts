/**
 * createPruner: names, defaults and INVALID_ARGUMENT messages naming
 * study.spec.pruner.<field>, through validateNewStudy as CreateStudy runs it.
 */
import { describe, expect, it } from "vitest";

import { HpodError } from "../../../server/core/errors.js";
import type { PrunerSpec } from "../../../server/core/model.js";
import {
  AshaPruner,
  createPruner,
  CurvePruner,
  DEFAULT_PRUNER,
  HyperbandPruner,
  KNOWN_PRUNERS,
  PatiencePruner,
  PercentilePruner,
  resolvePrunerName,
  ThresholdPruner,
} from "../../../server/core/pruners/index.js";
import { neverPrune } from "../../../server/core/study-runtime.js";
import { makeStudy, ZERO_PRUNER } from "./sim.js";

const spec = (over: Partial<PrunerSpec>): PrunerSpec => ({ ...ZERO_PRUNER, ...over });

function refused(over: Partial<PrunerSpec>): HpodError {
  try {
    makeStudy(over);
  } catch (e) {
    if (e instanceof HpodError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(over)} to be refused`);
}

describe("names", () => {
  it("knows every pruner of the API; empty means curve", () => {
    expect([...KNOWN_PRUNERS].sort()).toEqual(["asha", "curve", "hyperband", "median", "none", "patience", "percentile", "threshold"]);
    expect(DEFAULT_PRUNER).toBe("curve");
    expect(resolvePrunerName("")).toBe("curve");
    expect(resolvePrunerName(" Median ")).toBe("median");
    expect(resolvePrunerName("sha")).toBeUndefined();
  });

  it("builds the right decider for each name", () => {
    expect(createPruner(spec({ name: "none" }))).toBe(neverPrune);
    expect(createPruner(spec({ name: "median" }))).toBeInstanceOf(PercentilePruner);
    expect(createPruner(spec({ name: "percentile", percentile: 25 }))).toBeInstanceOf(PercentilePruner);
    expect(createPruner(spec({ name: "threshold", upper: 1 }))).toBeInstanceOf(ThresholdPruner);
    expect(createPruner(spec({ name: "patience", patience: 3 }))).toBeInstanceOf(PatiencePruner);
    expect(createPruner(spec({ name: "asha" }))).toBeInstanceOf(AshaPruner);
    expect(createPruner(spec({ name: "hyperband" }))).toBeInstanceOf(HyperbandPruner);
    expect(createPruner(spec({ name: "curve" }))).toBeInstanceOf(CurvePruner);
    // The default is wrapped (it steps aside for multi-objective studies).
    expect(typeof createPruner(spec({ name: "" })).decide).toBe("function");
  });

  it("fills documented defaults", () => {
    const median = createPruner(spec({ name: "median" })) as PercentilePruner;
    expect(median.options).toMatchObject({ percentile: 50, startupTrials: 5, warmupSteps: 0, intervalSteps: 1 });
    const curve = createPruner(spec({ name: "curve" })) as CurvePruner;
    expect(curve.options).toMatchObject({ startupTrials: 5, confidence: 0.95, minResource: 0, maxResource: 0 });
    const hb = createPruner(spec({ name: "hyperband" })) as HyperbandPruner;
    expect(hb.options).toEqual({ minResource: 1, maxResource: "auto", reductionFactor: 3, brackets: 0 });
  });

  it("refuses an unknown name, and a named pruner for several objectives when told the directions", () => {
    const e = refused({ name: "sha" });
    expect(e.code).toBe(3);
    expect(e.field).toBe("study.spec.pruner.name");
    expect(e.message).toContain('unknown pruner "sha"');
    const multi = (): unknown => createPruner(spec({ name: "median" }), "study.spec.pruner", ["minimize", "maximize"]);
    expect(multi).toThrow(/study.spec.pruner.name: pruner "median" needs a single objective/);
    expect(createPruner(spec({ name: "" }), "study.spec.pruner", ["minimize", "maximize"])).toBeDefined();
    expect(createPruner(spec({ name: "none" }), "study.spec.pruner", ["minimize", "maximize"])).toBe(neverPrune);
  });
});

describe("field checks", () => {
  const cases: Array<[Partial<PrunerSpec>, string, string]> = [
    [{ name: "percentile", percentile: 101 }, "percentile", "must be between 0 and 100 inclusive (got 101)"],
    [{ name: "percentile", percentile: -1 }, "percentile", "must be between 0 and 100 inclusive (got -1)"],
    [{ name: "percentile", percentile: Number.NaN }, "percentile", "must be between 0 and 100 inclusive (got NaN)"],
    [{ name: "median", warmupSteps: -1 }, "warmup_steps", "must be an integer in [0, 9007199254740991] (got -1)"],
    [{ name: "median", startupTrials: -2 }, "startup_trials", "must be an integer in [0, 2147483647] (got -2)"],
    [{ name: "median", intervalSteps: 1.5 }, "interval_steps", "must be an integer in [0, 9007199254740991] (got 1.5)"],
    [{ name: "asha", reductionFactor: 1 }, "reduction_factor", "must be a finite number > 1, or 0 for the default (got 1)"],
    [{ name: "hyperband", reductionFactor: 0.5 }, "reduction_factor", "must be a finite number > 1, or 0 for the default (got 0.5)"],
    [{ name: "hyperband", minResource: 10, maxResource: 5 }, "min_resource", "must not exceed max_resource (got 10 > 5)"],
    [{ name: "curve", minResource: 10, maxResource: 5 }, "min_resource", "must not exceed max_resource (got 10 > 5)"],
    [{ name: "asha", minResource: -1 }, "min_resource", "must be an integer in [0, 9007199254740991] (got -1)"],
    [{ name: "hyperband", brackets: 40 }, "brackets", "must be an integer in [0, 32] (got 40)"],
    [{ name: "curve", confidence: 1 }, "confidence", "must be in (0, 1), or 0 for the default 0.95 (got 1)"],
    [{ name: "", confidence: -0.5 }, "confidence", "must be in (0, 1), or 0 for the default 0.95 (got -0.5)"],
    [{ name: "threshold" }, "lower", "the threshold pruner needs lower, upper or both"],
    [{ name: "threshold", lower: 2, upper: 1 }, "lower", "must not exceed upper (got lower 2 > upper 1)"],
    [{ name: "threshold", lower: Number.NaN }, "lower", "must be a number (got NaN)"],
    [{ name: "patience" }, "patience", "is required for the patience pruner: an integer >= 1"],
    [{ name: "patience", patience: -3 }, "patience", "must be an integer in [0, 2147483647] (got -3)"],
    // A field the chosen pruner does not read is a mistake, not a no-op.
    [{ name: "median", percentile: 25 }, "percentile", "is not used by the median pruner (leave it unset)"],
    [{ name: "none", startupTrials: 3 }, "startup_trials", "is not used by the none pruner (leave it unset)"],
    [{ name: "asha", maxResource: 100 }, "max_resource", "is not used by the asha pruner (leave it unset)"],
    [{ name: "curve", reductionFactor: 3 }, "reduction_factor", "is not used by the curve pruner (leave it unset)"],
    [{ name: "median", lower: 0 }, "lower", "is not used by the median pruner (leave it unset)"],
    [{ name: "threshold", upper: 1, patience: 2 }, "patience", "is not used by the threshold pruner (leave it unset)"],
    [{ name: "median", wrapped: { ...ZERO_PRUNER, name: "none" } }, "wrapped", "is not used by the median pruner (leave it unset)"],
  ];
  for (const [over, field, message] of cases) {
    it(`${JSON.stringify(over)} -> study.spec.pruner.${field}`, () => {
      const e = refused(over);
      expect(e.code).toBe(3);
      expect(e.field).toBe(`study.spec.pruner.${field}`);
      expect(e.message).toBe(`study.spec.pruner.${field}: ${message}`);
    });
  }

  it("checks the wrapped pruner under study.spec.pruner.wrapped", () => {
    const e = refused({ name: "patience", patience: 2, wrapped: { ...ZERO_PRUNER, name: "percentile", percentile: 200 } });
    expect(e.field).toBe("study.spec.pruner.wrapped.percentile");
    const u = refused({ name: "patience", patience: 2, wrapped: { ...ZERO_PRUNER, name: "bogus" } });
    expect(u.field).toBe("study.spec.pruner.wrapped.name");
    let deep: PrunerSpec = { ...ZERO_PRUNER, name: "none" };
    for (let i = 0; i < 6; i++) deep = { ...ZERO_PRUNER, name: "patience", patience: 1, wrapped: deep };
    expect(refused(deep).message).toMatch(/wrapped: nested more than 4 deep/);
  });

  it("accepts every pruner with its fields set", () => {
    const ok: Array<Partial<PrunerSpec>> = [
      { name: "none" },
      { name: "median", startupTrials: 1, warmupSteps: 10, intervalSteps: 5 },
      { name: "percentile", percentile: 0 },
      { name: "percentile", percentile: 100, startupTrials: 3 },
      { name: "threshold", lower: -Infinity, upper: 3 },
      { name: "threshold", lower: 1, upper: 1 },
      { name: "patience", patience: 4, wrapped: { ...ZERO_PRUNER, name: "median" } },
      { name: "asha", minResource: 2, reductionFactor: 3 },
      { name: "hyperband", minResource: 1, maxResource: 81, reductionFactor: 3, brackets: 4 },
      { name: "curve", startupTrials: 3, warmupSteps: 5, intervalSteps: 2, minResource: 5, maxResource: 100, confidence: 0.9 },
      { name: "" },
    ];
    for (const o of ok) expect(() => makeStudy(o)).not.toThrow();
  });
});
