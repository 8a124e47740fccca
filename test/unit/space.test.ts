/**
 * Search-space validation (compileSpace), the flat view of lr_schedule
 * parameters, conditions, assemble/flatten and validateParams.
 */
import { describe, expect, it } from "vitest";

import { HpodError } from "../../server/core/errors.js";
import {
  compileSpace,
  CompiledSpace,
  scalarInDomain,
  floatGridSize,
  intGridSize,
  MAX_NAME_LENGTH,
  type Domain,
  type FlatParams,
  type LrScheduleValue,
  type ParameterDef,
  type ScalarValue,
} from "../../server/core/space.js";

// ---- helpers -----------------------------------------------------------------

const float = (name: string, low: number, high: number, extra: { log?: boolean; step?: number } = {}): ParameterDef => ({
  name,
  domain: { type: "float", low, high, log: extra.log ?? false, ...(extra.step !== undefined ? { step: extra.step } : {}) },
});
const int = (name: string, low: number, high: number, extra: { log?: boolean; step?: number } = {}): ParameterDef => ({
  name,
  domain: { type: "int", low, high, log: extra.log ?? false, step: extra.step ?? 1 },
});
const cat = (name: string, choices: ScalarValue[], valueKind?: "number" | "int" | "string" | "bool"): ParameterDef => {
  const first = choices[0];
  const vk = valueKind ?? (typeof first === "string" ? "string" : typeof first === "boolean" ? "bool" : "number");
  return { name, domain: { type: "categorical", valueKind: vk, choices } };
};
const when = (p: ParameterDef, parent: string, values: ScalarValue[]): ParameterDef => ({ ...p, condition: { parent, values } });
const withDomain = (name: string, domain: Domain): ParameterDef => ({ name, domain });

/** The HpodError thrown by fn (fails the test when fn does not throw one). */
function caught(fn: () => unknown): HpodError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HpodError) return e;
    throw e;
  }
  throw new Error("expected an HpodError, nothing was thrown");
}

/** Asserts an INVALID_ARGUMENT with exactly this field and message. */
function expectInvalid(fn: () => unknown, field: string, message: string): void {
  const e = caught(fn);
  expect(e.code).toBe(3);
  expect(e.field).toBe(field);
  expect(e.message).toBe(`${field}: ${message}`);
}

const compileOne = (p: ParameterDef): CompiledSpace => compileSpace({ parameters: [p] });

// ---- compileSpace validation ---------------------------------------------------

describe("compileSpace: scalar domain rules", () => {
  const F = "search_space.parameters[0]";

  it("float low > high", () => {
    expectInvalid(() => compileOne(float("x", 2, 1)), `${F}.float_domain.low`, "low (2) is greater than high (1)");
  });

  it("int low > high", () => {
    expectInvalid(() => compileOne(int("n", 5, 4)), `${F}.int_domain.low`, "low (5) is greater than high (4)");
  });

  it("float log with low <= 0", () => {
    expectInvalid(() => compileOne(float("x", 0, 1, { log: true })), `${F}.float_domain.low`, "must be > 0 with log (got 0)");
    expectInvalid(() => compileOne(float("x", -1, 1, { log: true })), `${F}.float_domain.low`, "must be > 0 with log (got -1)");
  });

  it("int log with low < 1", () => {
    expectInvalid(() => compileOne(int("n", 0, 10, { log: true })), `${F}.int_domain.low`, "must be >= 1 with log (got 0)");
  });

  it("non-finite float bounds", () => {
    expectInvalid(() => compileOne(float("x", -Infinity, 1)), `${F}.float_domain.low`, "must be finite");
    expectInvalid(() => compileOne(float("x", 0, NaN)), `${F}.float_domain.high`, "must be finite");
  });

  it("int bounds must be safe integers", () => {
    expectInvalid(() => compileOne(int("n", 0.5, 3)), `${F}.int_domain.low`, "must be a safe integer");
    expectInvalid(() => compileOne(int("n", 0, 2 ** 60)), `${F}.int_domain.high`, "must be a safe integer");
  });

  it("float step that does not divide high - low", () => {
    expectInvalid(
      () => compileOne(float("x", 0, 1, { step: 0.3 })),
      `${F}.float_domain.step`,
      "high - low (1) is not a multiple of step (0.3)",
    );
  });

  it("float step accepted when it divides up to rounding (0.1 over [0, 0.9])", () => {
    const s = compileOne(float("x", 0, 0.9, { step: 0.1 }));
    expect(floatGridSize(s.dims[0]!.domain as never)).toBe(10);
  });

  it("float step must be > 0", () => {
    expectInvalid(() => compileOne(float("x", 0, 1, { step: 0 })), `${F}.float_domain.step`, "must be a finite number > 0");
    expectInvalid(() => compileOne(float("x", 0, 1, { step: -0.5 })), `${F}.float_domain.step`, "must be a finite number > 0");
  });

  it("float log combined with step", () => {
    expectInvalid(
      () => compileOne(float("x", 0.1, 1, { log: true, step: 0.1 })),
      `${F}.float_domain.step`,
      "cannot be combined with log",
    );
  });

  it("int step < 1 or fractional", () => {
    expectInvalid(() => compileOne(int("n", 0, 10, { step: 0 })), `${F}.int_domain.step`, "must be an integer >= 1");
    expectInvalid(() => compileOne(int("n", 0, 10, { step: 1.5 })), `${F}.int_domain.step`, "must be an integer >= 1");
  });

  it("int step not dividing high - low", () => {
    expectInvalid(
      () => compileOne(int("n", 0, 10, { step: 3 })),
      `${F}.int_domain.step`,
      "high - low (10) is not a multiple of step (3)",
    );
  });

  it("int log combined with step", () => {
    expectInvalid(() => compileOne(int("n", 1, 9, { log: true, step: 2 })), `${F}.int_domain.step`, "cannot be combined with log");
  });

  it("a single-point domain is legal", () => {
    const s = compileSpace({ parameters: [float("f", 0.5, 0.5, { step: 0.3 }), int("i", 7, 7)] });
    expect(s.dims.map((d) => d.name)).toEqual(["f", "i"]);
    expect(intGridSize(s.dims[1]!.domain as never)).toBe(1);
  });

  it("categorical: empty choices", () => {
    expectInvalid(() => compileOne(cat("c", [], "string")), `${F}.categorical_domain.choices`, "must hold at least one choice");
  });

  it("categorical: duplicate choice", () => {
    expectInvalid(() => compileOne(cat("c", ["a", "b", "a"])), `${F}.categorical_domain.choices[2]`, 'duplicate choice "a"');
    expectInvalid(() => compileOne(cat("c", [1, 2, 2])), `${F}.categorical_domain.choices[2]`, "duplicate choice 2");
  });

  it("categorical: mixed value kinds", () => {
    expectInvalid(() => compileOne(cat("c", ["a", 1], "string")), `${F}.categorical_domain.choices[1]`, "must be a string");
    expectInvalid(() => compileOne(cat("c", [1, "a"], "number")), `${F}.categorical_domain.choices[1]`, "must be a finite number");
    expectInvalid(() => compileOne(cat("c", [1, 1.5], "int")), `${F}.categorical_domain.choices[1]`, "must be an integer");
    expectInvalid(() => compileOne(cat("c", [true, 0], "bool")), `${F}.categorical_domain.choices[1]`, "must be a bool");
    expectInvalid(() => compileOne(cat("c", [NaN], "number")), `${F}.categorical_domain.choices[0]`, "must be a finite number");
  });

  it("field paths name the parameter's index and the given root", () => {
    expectInvalid(
      () => compileSpace({ parameters: [float("ok", 0, 1), int("bad", 3, 1)] }, "study.spec.search_space"),
      "study.spec.search_space.parameters[1].int_domain.low",
      "low (3) is greater than high (1)",
    );
  });
});

describe("compileSpace: names", () => {
  it("duplicate parameter names", () => {
    expectInvalid(
      () => compileSpace({ parameters: [float("x", 0, 1), int("x", 0, 1)] }),
      "search_space.parameters[1].name",
      'duplicate parameter name "x"',
    );
  });

  it("empty, too long and malformed names", () => {
    expectInvalid(() => compileOne(float("", 0, 1)), "search_space.parameters[0].name", "must not be empty");
    expectInvalid(
      () => compileOne(float("a".repeat(MAX_NAME_LENGTH + 1), 0, 1)),
      "search_space.parameters[0].name",
      `longer than ${MAX_NAME_LENGTH} characters`,
    );
    for (const bad of ["1x", "a/b", "a b", "-x", "é"]) {
      expectInvalid(
        () => compileOne(float(bad, 0, 1)),
        "search_space.parameters[0].name",
        `"${bad}" must start with a letter or '_' and hold only letters, digits, '_', '.', '-'`,
      );
    }
  });

  it("accepts letters, digits, '_', '.', '-' and a name of exactly the maximum length", () => {
    const s = compileSpace({ parameters: [float("_a.b-c9", 0, 1), float("z".repeat(MAX_NAME_LENGTH), 0, 1)] });
    expect(s.dims.map((d) => d.name)).toEqual(["_a.b-c9", "z".repeat(MAX_NAME_LENGTH)]);
  });
});

describe("compileSpace: conditions", () => {
  const F = "search_space.parameters[1].condition";

  it("unknown parent", () => {
    expectInvalid(
      () => compileSpace({ parameters: [cat("a", ["x"]), when(float("b", 0, 1), "nope", ["x"])] }),
      `${F}.parent`,
      'unknown parent "nope" (it must be declared before its children)',
    );
  });

  it("parent declared after the child", () => {
    expectInvalid(
      () => compileSpace({ parameters: [cat("a", ["x"]), when(float("b", 0, 1), "c", ["y"]), cat("c", ["y"])] }),
      `${F}.parent`,
      'unknown parent "c" (it must be declared before its children)',
    );
  });

  it("a parameter conditioned on itself", () => {
    expectInvalid(
      () => compileSpace({ parameters: [cat("a", ["x"]), when(cat("b", ["y"]), "b", ["y"])] }),
      `${F}.parent`,
      'unknown parent "b" (it must be declared before its children)',
    );
  });

  it("empty parent", () => {
    expectInvalid(
      () => compileSpace({ parameters: [cat("a", ["x"]), when(float("b", 0, 1), "", ["x"])] }),
      `${F}.parent`,
      "must name a parameter declared before this one",
    );
  });

  it("float parent", () => {
    expectInvalid(
      () => compileSpace({ parameters: [float("a", 0, 1), when(float("b", 0, 1), "a", [0.5])] }),
      `${F}.parent`,
      'parent "a" must be categorical or int, not float',
    );
  });

  it("lr_schedule parent", () => {
    const sched: ParameterDef = { name: "a", domain: { type: "lr_schedule", totalSteps: 10, options: [{ kind: "constant", hyperparameters: [] }] } };
    expectInvalid(
      () => compileSpace({ parameters: [sched, when(float("b", 0, 1), "a", ["constant"])] }),
      `${F}.parent`,
      'parent "a" must be categorical or int, not lr_schedule',
    );
  });

  it("empty values", () => {
    expectInvalid(
      () => compileSpace({ parameters: [cat("a", ["x"]), when(float("b", 0, 1), "a", [])] }),
      `${F}.values`,
      "must hold at least one parent value",
    );
  });

  it("value not in the parent's domain", () => {
    expectInvalid(
      () => compileSpace({ parameters: [cat("a", ["x", "y"]), when(float("b", 0, 1), "a", ["x", "z"])] }),
      `${F}.values[1]`,
      '"z" is not a value of "a"',
    );
    expectInvalid(
      () => compileSpace({ parameters: [int("n", 0, 10, { step: 2 }), when(float("b", 0, 1), "n", [3])] }),
      `${F}.values[0]`,
      '3 is not a value of "n"',
    );
    expectInvalid(
      () => compileSpace({ parameters: [cat("n", [1, 2]), when(float("b", 0, 1), "n", ["1"])] }),
      `${F}.values[0]`,
      '"1" is not a value of "n"',
    );
  });

  it("int parent value on the grid is accepted", () => {
    const s = compileSpace({ parameters: [int("n", 0, 10, { step: 2 }), when(float("b", 0, 1), "n", [4, 10])] });
    expect(s.dims[1]!.condition).toEqual({ parent: "n", values: [4, 10] });
  });
});

// ---- lr_schedule ----------------------------------------------------------------

const SCHED: ParameterDef = {
  name: "sched",
  domain: {
    type: "lr_schedule",
    totalSteps: 1000,
    warmupSteps: { type: "int", low: 0, high: 100, log: false, step: 10 },
    warmupStartFactor: { type: "float", low: 0.01, high: 1, log: false },
    options: [
      { kind: "step", hyperparameters: [int("step_size", 10, 100, { step: 10 }), float("gamma", 0.1, 0.9, { step: 0.1 })] },
      {
        kind: "multi_step",
        hyperparameters: [int("milestone_0", 1, 1000), int("milestone_1", 1, 1000), float("gamma", 0.1, 0.9)],
      },
      { kind: "reduce_on_plateau", hyperparameters: [cat("mode", ["min", "max"]), float("factor", 0.1, 0.9)] },
    ],
  },
};

describe("lr_schedule: domain rules", () => {
  const F = "search_space.parameters[0].lr_schedule_domain";
  const sched = (over: Record<string, unknown>): ParameterDef => ({
    name: "s",
    domain: { type: "lr_schedule", totalSteps: 100, options: [{ kind: "constant", hyperparameters: [] }], ...over } as Domain,
  });

  it("no options", () => {
    expectInvalid(() => compileOne(sched({ options: [] })), `${F}.options`, "must allow at least one schedule kind");
  });

  it("total_steps < 1 or fractional", () => {
    expectInvalid(() => compileOne(sched({ totalSteps: 0 })), `${F}.total_steps`, "must be an integer >= 1");
    expectInvalid(() => compileOne(sched({ totalSteps: 2.5 })), `${F}.total_steps`, "must be an integer >= 1");
  });

  it("duplicate kind", () => {
    expectInvalid(
      () =>
        compileOne(
          sched({
            options: [
              { kind: "cosine_annealing", hyperparameters: [] },
              { kind: "cosine_annealing", hyperparameters: [] },
            ],
          }),
        ),
      `${F}.options[1].kind`,
      "duplicate kind cosine_annealing",
    );
  });

  it("hyperparameter name rules", () => {
    expectInvalid(
      () => compileOne(sched({ options: [{ kind: "step", hyperparameters: [float("a/b", 0, 1)] }] })),
      `${F}.options[0].hyperparameters[0].name`,
      `"a/b" must start with a letter or '_' and hold only letters, digits, '_', '.', '-'`,
    );
    expectInvalid(
      () => compileOne(sched({ options: [{ kind: "step", hyperparameters: [float("g", 0, 1), float("g", 0, 1)] }] })),
      `${F}.options[0].hyperparameters[1].name`,
      'duplicate hyperparameter "g"',
    );
  });

  it("conditional hyperparameter", () => {
    expectInvalid(
      () => compileOne(sched({ options: [{ kind: "step", hyperparameters: [when(float("g", 0, 1), "x", [1])] }] })),
      `${F}.options[0].hyperparameters[0].condition`,
      "schedule hyperparameters cannot be conditional",
    );
  });

  it("nested schedule hyperparameter", () => {
    const nested: ParameterDef = { name: "inner", domain: { type: "lr_schedule", totalSteps: 1, options: [] } };
    expectInvalid(
      () => compileOne(sched({ options: [{ kind: "step", hyperparameters: [nested] }] })),
      `${F}.options[0].hyperparameters[0]`,
      "a schedule hyperparameter must be float, int or categorical",
    );
  });

  it("hyperparameter domain rules are applied with their path", () => {
    expectInvalid(
      () => compileOne(sched({ options: [{ kind: "constant", hyperparameters: [] }, { kind: "step", hyperparameters: [float("g", 1, 0)] }] })),
      `${F}.options[1].hyperparameters[0].float_domain.low`,
      "low (1) is greater than high (0)",
    );
  });

  it("warm-up domains are validated", () => {
    expectInvalid(
      () => compileOne(sched({ warmupSteps: { type: "int", low: 0, high: 10, log: false, step: 3 } })),
      `${F}.warmup_steps.step`,
      "high - low (10) is not a multiple of step (3)",
    );
    expectInvalid(
      () => compileOne(sched({ warmupStartFactor: { type: "float", low: 0, high: 1, log: true } })),
      `${F}.warmup_start_factor.low`,
      "must be > 0 with log (got 0)",
    );
  });
});

describe("lr_schedule: flat dimensions", () => {
  const space = compileSpace({ parameters: [float("lr", 1e-4, 1, { log: true }), SCHED] });

  it("names, order, owners and conditions", () => {
    const allKinds = ["step", "multi_step", "reduce_on_plateau"];
    expect(space.dims.map((d) => [d.index, d.name, d.owner, d.condition ?? null])).toEqual([
      [0, "lr", "lr", null],
      [1, "sched/kind", "sched", null],
      [2, "sched/warmup_steps", "sched", { parent: "sched/kind", values: allKinds }],
      [3, "sched/warmup_start_factor", "sched", { parent: "sched/kind", values: allKinds }],
      [4, "sched/step/step_size", "sched", { parent: "sched/kind", values: ["step"] }],
      [5, "sched/step/gamma", "sched", { parent: "sched/kind", values: ["step"] }],
      [6, "sched/multi_step/milestone_0", "sched", { parent: "sched/kind", values: ["multi_step"] }],
      [7, "sched/multi_step/milestone_1", "sched", { parent: "sched/kind", values: ["multi_step"] }],
      [8, "sched/multi_step/gamma", "sched", { parent: "sched/kind", values: ["multi_step"] }],
      [9, "sched/reduce_on_plateau/mode", "sched", { parent: "sched/kind", values: ["reduce_on_plateau"] }],
      [10, "sched/reduce_on_plateau/factor", "sched", { parent: "sched/kind", values: ["reduce_on_plateau"] }],
    ]);
    expect(space.dim("sched/kind")!.domain).toEqual({ type: "categorical", valueKind: "string", choices: allKinds });
    expect(space.dim("sched/warmup_steps")!.domain).toEqual({ type: "int", low: 0, high: 100, log: false, step: 10 });
    expect(space.dim("sched")).toBeUndefined();
    expect(space.parameter("sched")).toBe(SCHED);
  });

  it("a conditional schedule puts its condition on the kind dimension", () => {
    const s = compileSpace({ parameters: [cat("opt", ["sgd", "adam"]), when(SCHED, "opt", ["sgd"])] });
    expect(s.dim("sched/kind")!.condition).toEqual({ parent: "opt", values: ["sgd"] });
    expect(s.isActive(s.dim("sched/step/gamma")!, { opt: "sgd", "sched/kind": "step" })).toBe(true);
    expect(s.isActive(s.dim("sched/step/gamma")!, { opt: "adam", "sched/kind": "step" })).toBe(false);
    expect(s.isActive(s.dim("sched/warmup_steps")!, { opt: "adam", "sched/kind": "step" })).toBe(false);
  });

  it("assemble builds the schedule, milestones sorted, string hyperparameter as mode", () => {
    const flat: FlatParams = {
      lr: 0.01,
      "sched/kind": "multi_step",
      "sched/warmup_steps": 20,
      "sched/warmup_start_factor": 0.25,
      "sched/multi_step/milestone_0": 700,
      "sched/multi_step/milestone_1": 300,
      "sched/multi_step/gamma": 0.5,
      // a stray value of another kind is ignored
      "sched/step/gamma": 0.3,
    };
    expect(space.assemble(flat)).toEqual({
      lr: 0.01,
      sched: {
        kind: "multi_step",
        values: { gamma: 0.5 },
        milestones: [300, 700],
        mode: "",
        totalSteps: 1000,
        warmupSteps: 20,
        warmupStartFactor: 0.25,
      },
    });
    const plateau = space.assemble({
      lr: 0.1,
      "sched/kind": "reduce_on_plateau",
      "sched/warmup_steps": 0,
      "sched/warmup_start_factor": 1,
      "sched/reduce_on_plateau/mode": "max",
      "sched/reduce_on_plateau/factor": 0.2,
    });
    // Omitted hyperparameters are filled with their (PyTorch) defaults; threshold_mode "rel" is 0.
    expect(plateau.sched).toEqual({
      kind: "reduce_on_plateau",
      values: { factor: 0.2, patience: 10, threshold: 1e-4, threshold_mode: 0, cooldown: 0, min_lr: 0, eps: 1e-8 },
      milestones: [],
      mode: "max",
      totalSteps: 1000,
      warmupSteps: 0,
      warmupStartFactor: 1,
    });
  });

  it("assemble skips a schedule without (or with an unknown) kind", () => {
    expect(space.assemble({ lr: 0.1 })).toEqual({ lr: 0.1 });
    expect(space.assemble({ lr: 0.1, "sched/kind": "cyclic" })).toEqual({ lr: 0.1 });
  });

  it("flatten is the inverse of assemble (milestones assigned in sorted order)", () => {
    const value: LrScheduleValue = {
      kind: "multi_step",
      values: { gamma: 0.5 },
      milestones: [300, 700],
      mode: "",
      totalSteps: 1000,
      warmupSteps: 20,
      warmupStartFactor: 0.25,
    };
    const flat = space.flatten({ lr: 0.01, sched: value });
    expect(flat).toEqual({
      lr: 0.01,
      "sched/kind": "multi_step",
      "sched/multi_step/milestone_0": 300,
      "sched/multi_step/milestone_1": 700,
      "sched/multi_step/gamma": 0.5,
      "sched/warmup_steps": 20,
      "sched/warmup_start_factor": 0.25,
    });
    expect(space.assemble(flat)).toEqual({ lr: 0.01, sched: value });

    const plateau: LrScheduleValue = {
      kind: "reduce_on_plateau",
      values: { factor: 0.3, patience: 10, threshold: 1e-4, threshold_mode: 0, cooldown: 0, min_lr: 0, eps: 1e-8 },
      milestones: [],
      mode: "min",
      totalSteps: 1000,
      warmupSteps: 10,
      warmupStartFactor: 0.5,
    };
    const pflat = space.flatten({ sched: plateau });
    expect(pflat["sched/reduce_on_plateau/mode"]).toBe("min");
    expect(pflat["sched/reduce_on_plateau/factor"]).toBe(0.3);
    expect(space.assemble(pflat)).toEqual({ sched: plateau });
  });

  it("round trip flat -> assemble -> flatten keeps every value (milestones re-sorted)", () => {
    const flat: FlatParams = {
      lr: 0.5,
      "sched/kind": "multi_step",
      "sched/warmup_steps": 30,
      "sched/warmup_start_factor": 0.1,
      "sched/multi_step/milestone_0": 900,
      "sched/multi_step/milestone_1": 100,
      "sched/multi_step/gamma": 0.2,
    };
    expect(space.flatten(space.assemble(flat))).toEqual({
      ...flat,
      "sched/multi_step/milestone_0": 100,
      "sched/multi_step/milestone_1": 900,
    });
  });

  it("flatten leaves warm-up keys out when the domain has none", () => {
    const s = compileSpace({
      parameters: [{ name: "s", domain: { type: "lr_schedule", totalSteps: 10, options: [{ kind: "constant", hyperparameters: [] }] } }],
    });
    expect(s.dims.map((d) => d.name)).toEqual(["s/kind"]);
    const v: LrScheduleValue = { kind: "constant", values: {}, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 };
    expect(s.flatten({ s: v })).toEqual({ "s/kind": "constant" });
    // assemble fills the kind's defaults (constant: factor 1, total_iters 5).
    expect(s.assemble({ "s/kind": "constant" })).toEqual({ s: { ...v, values: { factor: 1, total_iters: 5 } } });
  });
});

// ---- isActive --------------------------------------------------------------------

describe("isActive through condition chains", () => {
  // a -> b -> c (3 levels); sched -> sched/kind -> b -> a (4 levels)
  const space = compileSpace({
    parameters: [
      cat("a", ["x", "y"]),
      when(int("b", 1, 3), "a", ["x"]),
      when(float("c", 0, 1), "b", [2, 3]),
      when(
        {
          name: "sched",
          domain: {
            type: "lr_schedule",
            totalSteps: 10,
            options: [{ kind: "step", hyperparameters: [int("step_size", 1, 5), float("gamma", 0.1, 0.9)] }],
          },
        },
        "b",
        [3],
      ),
    ],
  });
  const dim = (n: string) => space.dim(n)!;

  it("a root dimension is always active", () => {
    expect(space.isActive(dim("a"), {})).toBe(true);
  });

  it("the child of a matching parent", () => {
    expect(space.isActive(dim("b"), { a: "x" })).toBe(true);
    expect(space.isActive(dim("b"), { a: "y" })).toBe(false);
    expect(space.isActive(dim("b"), {})).toBe(false);
  });

  it("third level: needs every ancestor to match", () => {
    expect(space.isActive(dim("c"), { a: "x", b: 2 })).toBe(true);
    expect(space.isActive(dim("c"), { a: "x", b: 1 })).toBe(false);
    // b's value matches c's condition but b itself is inactive
    expect(space.isActive(dim("c"), { a: "y", b: 2 })).toBe(false);
    expect(space.isActive(dim("c"), { b: 3 })).toBe(false);
  });

  it("schedule children through a conditional schedule (4 levels)", () => {
    const g = dim("sched/step/gamma");
    expect(space.isActive(g, { a: "x", b: 3, "sched/kind": "step" })).toBe(true);
    expect(space.isActive(g, { a: "x", b: 2, "sched/kind": "step" })).toBe(false);
    expect(space.isActive(g, { a: "y", b: 3, "sched/kind": "step" })).toBe(false);
    expect(space.isActive(g, { a: "x", b: 3 })).toBe(false);
  });
});

// ---- validateParams -------------------------------------------------------------

describe("validateParams", () => {
  const space = compileSpace({
    parameters: [
      float("lr", 0, 1),
      int("n", 0, 10, { step: 2 }),
      cat("opt", ["sgd", "adam"]),
      when(float("momentum", 0, 1), "opt", ["sgd"]),
      when(cat("nesterov", [true, false]), "opt", ["sgd"]),
    ],
  });
  const good = { lr: 0.5, n: 4, opt: "sgd", momentum: 0.9, nesterov: true };

  it("accepts a legal set and one with the inactive branch left out", () => {
    expect(() => space.validateParams(good, "params")).not.toThrow();
    expect(() => space.validateParams({ lr: 0, n: 10, opt: "adam" }, "params")).not.toThrow();
  });

  it("missing active parameter", () => {
    expectInvalid(() => space.validateParams({ lr: 0.5, opt: "adam" }, "params"), 'params["n"]', "is missing (it is active)");
    expectInvalid(
      () => space.validateParams({ lr: 0.5, n: 2, opt: "sgd", nesterov: false }, "params"),
      'params["momentum"]',
      "is missing (it is active)",
    );
  });

  it("inactive parameter present", () => {
    expectInvalid(
      () => space.validateParams({ lr: 0.5, n: 2, opt: "adam", momentum: 0.9 }, "params"),
      'params["momentum"]',
      "is set but inactive under its condition",
    );
  });

  it("unknown parameter (checked before anything else)", () => {
    expectInvalid(() => space.validateParams({ bogus: 1 }, "params"), 'params["bogus"]', "is not a parameter of the study");
  });

  it("out of range", () => {
    expectInvalid(() => space.validateParams({ ...good, lr: 1.5 }, "params"), 'params["lr"]', "1.5 is not a number in [0, 1]");
    expectInvalid(() => space.validateParams({ ...good, n: 12 }, "params"), 'params["n"]', "12 is not an integer in [0, 10] on step 2");
    expectInvalid(() => space.validateParams({ ...good, opt: "rmsprop" }, "params"), 'params["opt"]', '"rmsprop" is not one of ["sgd","adam"]');
  });

  it("wrong type", () => {
    expectInvalid(() => space.validateParams({ ...good, lr: "0.5" }, "params"), 'params["lr"]', '"0.5" is not a number in [0, 1]');
    expectInvalid(() => space.validateParams({ ...good, n: 4.5 }, "params"), 'params["n"]', "4.5 is not an integer in [0, 10] on step 2");
    expectInvalid(() => space.validateParams({ ...good, nesterov: "true" }, "params"), 'params["nesterov"]', '"true" is not one of [true,false]');
    expectInvalid(
      () => space.validateParams({ ...good, lr: { kind: "step" } as unknown as LrScheduleValue }, "params"),
      'params["lr"]',
      "an lr_schedule_value is only valid for an lr_schedule parameter",
    );
  });

  it("off-step", () => {
    expectInvalid(() => space.validateParams({ ...good, n: 3 }, "params"), 'params["n"]', "3 is not an integer in [0, 10] on step 2");
    const stepped = compileSpace({ parameters: [float("f", 0, 1, { step: 0.25 })] });
    expectInvalid(() => stepped.validateParams({ f: 0.3 }, "p"), 'p["f"]', "0.3 is not a number in [0, 1] on step 0.25");
    expect(() => stepped.validateParams({ f: 0.75 }, "p")).not.toThrow();
  });

  describe("schedules", () => {
    const s = compileSpace({ parameters: [SCHED] });
    const value: LrScheduleValue = {
      kind: "step",
      values: { step_size: 20, gamma: 0.5 },
      milestones: [],
      mode: "",
      totalSteps: 1000,
      warmupSteps: 10,
      warmupStartFactor: 0.1,
    };

    it("accepts a legal schedule", () => {
      expect(() => s.validateParams({ sched: value }, "params")).not.toThrow();
    });

    it("a scalar where a schedule is expected", () => {
      expectInvalid(() => s.validateParams({ sched: 0.1 }, "params"), 'params["sched"]', "must be an lr_schedule_value");
    });

    it("a kind the study does not allow", () => {
      expectInvalid(
        () => s.validateParams({ sched: { ...value, kind: "cyclic" } }, "params"),
        'params["sched"].kind',
        "kind cyclic is not allowed by the study",
      );
    });

    it("missing schedule names its kind dimension", () => {
      expectInvalid(() => s.validateParams({}, "params"), 'params["sched/kind"]', "is missing (it is active)");
    });

    it("a hyperparameter out of its domain names the flat dimension", () => {
      expectInvalid(
        () => s.validateParams({ sched: { ...value, values: { step_size: 20, gamma: 0.55 } } }, "params"),
        'params["sched/step/gamma"]',
        "0.55 is not a number in [0.1, 0.9] on step 0.1",
      );
      expectInvalid(
        () => s.validateParams({ sched: { ...value, values: { gamma: 0.5 } } }, "params"),
        'params["sched/step/step_size"]',
        "is missing (it is active)",
      );
      expectInvalid(
        () => s.validateParams({ sched: { ...value, warmupSteps: 15 } }, "params"),
        'params["sched/warmup_steps"]',
        "15 is not an integer in [0, 100] on step 10",
      );
    });

    it("multi_step needs every milestone", () => {
      const ms: LrScheduleValue = { ...value, kind: "multi_step", values: { gamma: 0.5 }, milestones: [100] };
      expectInvalid(() => s.validateParams({ sched: ms }, "params"), 'params["sched/multi_step/milestone_1"]', "is missing (it is active)");
      expect(() => s.validateParams({ sched: { ...ms, milestones: [500, 100] } }, "params")).not.toThrow();
    });

    it("reduce_on_plateau mode must be one of its choices", () => {
      const p: LrScheduleValue = { ...value, kind: "reduce_on_plateau", values: { factor: 0.5 }, mode: "sideways" };
      expectInvalid(
        () => s.validateParams({ sched: p }, "params"),
        'params["sched/reduce_on_plateau/mode"]',
        '"sideways" is not one of ["min","max"]',
      );
      expect(() => s.validateParams({ sched: { ...p, mode: "max" } }, "params")).not.toThrow();
    });

    // validateParams documents "no unknown or inactive ones", and a scalar
    // parameter set while inactive is rejected. An lr_schedule parameter set
    // while its condition is false is accepted, because the inactive check is
    // limited to dims with owner === name, and no schedule dim meets that.
    it("rejects a conditional schedule that is set while inactive", () => {
      const cs = compileSpace({ parameters: [cat("opt", ["sgd", "adam"]), when(SCHED, "opt", ["sgd"])] });
      expect(() => cs.validateParams({ opt: "adam", sched: value }, "params")).toThrow(HpodError);
    });
  });
});

// ---- scalarInDomain --------------------------------------------------------------

describe("scalarInDomain", () => {
  const unit = { type: "float", low: 0, high: 1, log: false } as const;

  it("float: tolerance of 1e-9 relative at the bounds", () => {
    expect(scalarInDomain(0, unit)).toBe(true);
    expect(scalarInDomain(1, unit)).toBe(true);
    expect(scalarInDomain(1 + 5e-10, unit)).toBe(true);
    expect(scalarInDomain(-5e-10, unit)).toBe(true);
    expect(scalarInDomain(1 + 2e-9, unit)).toBe(false);
    expect(scalarInDomain(-2e-9, unit)).toBe(false);
    const big = { type: "float", low: 1000, high: 2000, log: false } as const;
    expect(scalarInDomain(2000 + 1e-6, big)).toBe(true); // tol = 2e-6
    expect(scalarInDomain(2000 + 1e-5, big)).toBe(false);
    expect(scalarInDomain(1000 - 1e-6, big)).toBe(true);
  });

  it("float: non-finite and non-number values", () => {
    expect(scalarInDomain(NaN, unit)).toBe(false);
    expect(scalarInDomain(Infinity, { ...unit, high: 1e308 })).toBe(false);
    expect(scalarInDomain("0.5", unit)).toBe(false);
    expect(scalarInDomain(true, unit)).toBe(false);
  });

  it("float: step grid up to rounding", () => {
    const d = { type: "float", low: 0, high: 1, log: false, step: 0.1 } as const;
    for (const v of [0, 0.1, 0.3, 0.7, 0.9, 1, 0.1 + 0.2]) expect(scalarInDomain(v, d)).toBe(true);
    for (const v of [0.05, 0.31, 0.999]) expect(scalarInDomain(v, d)).toBe(false);
    const off = { type: "float", low: -1, high: 2, log: false, step: 0.25 } as const;
    expect(scalarInDomain(-0.75, off)).toBe(true);
    expect(scalarInDomain(-0.7, off)).toBe(false);
  });

  it("int: integers on the step grid only", () => {
    const d = { type: "int", low: -5, high: 5, log: false, step: 2 } as const;
    expect([-5, -3, -1, 1, 3, 5].every((v) => scalarInDomain(v, d))).toBe(true);
    expect([-4, 0, 4, 7, -7].some((v) => scalarInDomain(v, d))).toBe(false);
    const one = { type: "int", low: 0, high: 10, log: false, step: 1 } as const;
    expect(scalarInDomain(2.5, one)).toBe(false);
    expect(scalarInDomain("2", one)).toBe(false);
    expect(scalarInDomain(10, one)).toBe(true);
    expect(scalarInDomain(11, one)).toBe(false);
  });

  it("categorical: strict equality, no coercion", () => {
    const nums = { type: "categorical", valueKind: "number", choices: [1, 2] } as const;
    expect(scalarInDomain(1, { ...nums, choices: [...nums.choices] })).toBe(true);
    expect(scalarInDomain("1", { ...nums, choices: [...nums.choices] })).toBe(false);
    expect(scalarInDomain(true, { ...nums, choices: [...nums.choices] })).toBe(false);
    expect(scalarInDomain(1 + 1e-12, { ...nums, choices: [...nums.choices] })).toBe(false);
    expect(scalarInDomain(false, { type: "categorical", valueKind: "bool", choices: [true, false] })).toBe(true);
  });
});

describe("CompiledSpace.key", () => {
  it("is independent of key order and distinguishes value types", () => {
    expect(CompiledSpace.key({ b: 1, a: "x" })).toBe(CompiledSpace.key({ a: "x", b: 1 }));
    expect(CompiledSpace.key({ a: 1 })).not.toBe(CompiledSpace.key({ a: "1" }));
    expect(CompiledSpace.key({ b: 1, a: "x" })).toBe('[["a","x"],["b",1]]');
  });
});
