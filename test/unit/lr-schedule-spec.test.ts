/**
 * Per-kind hyperparameter rules (server/core/lr-schedule-spec.ts) as
 * CreateStudy applies them through compileSpace: unknown names, types, legal
 * ranges, required hyperparameters, milestones, cross-checks, warm-up; and
 * the daemon side of Suggest: assemble fills defaults, flatten inverts the
 * encodings.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { describe, expect, it } from "vitest";

import { parseStudySpec } from "../../client/proto-json.js";

import { HpodError } from "../../server/core/errors.js";
import {
  completeLrSchedule,
  describeRange,
  hpRuleOf,
  LR_KIND_SPECS,
  lrScheduleProblem,
  numberLegal,
} from "../../server/core/lr-schedule-spec.js";
import { lrAt } from "../../server/core/lr-schedule.js";
import { spaceFromPb } from "../../server/rpc/translate.js";
import {
  compileSpace,
  LR_KINDS,
  type Domain,
  type FlatParams,
  type LrKind,
  type LrScheduleValue,
  type ParameterDef,
  type ScalarValue,
} from "../../server/core/space.js";

const F = "study.spec.search_space.parameters[0].lr_schedule_domain";

const float = (name: string, low: number, high: number, log = false): ParameterDef => ({ name, domain: { type: "float", low, high, log } });
const int = (name: string, low: number, high: number, step = 1): ParameterDef => ({ name, domain: { type: "int", low, high, log: false, step } });
const cat = (name: string, choices: ScalarValue[]): ParameterDef => {
  const first = choices[0];
  const valueKind = typeof first === "string" ? "string" : typeof first === "boolean" ? "bool" : "number";
  return { name, domain: { type: "categorical", valueKind, choices } };
};

function space(options: { kind: LrKind; hyperparameters: ParameterDef[] }[], over: Partial<Extract<Domain, { type: "lr_schedule" }>> = {}) {
  return compileSpace(
    { parameters: [{ name: "sched", domain: { type: "lr_schedule", totalSteps: 1000, options, ...over } }] },
    "study.spec.search_space",
  );
}

function rejection(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof HpodError) {
      expect(e.code).toBe(3); // INVALID_ARGUMENT
      return e.message;
    }
    throw e;
  }
  throw new Error("expected an INVALID_ARGUMENT");
}

describe("the rules table", () => {
  it("has a spec for every kind, and every default is legal", () => {
    expect(Object.keys(LR_KIND_SPECS).sort()).toEqual([...LR_KINDS].sort());
    for (const kind of LR_KINDS) {
      const spec = LR_KIND_SPECS[kind];
      expect(spec.kind).toBe(kind);
      for (const rule of spec.hyperparameters) {
        const d = rule.default;
        if (d?.kind !== "value") continue;
        if (typeof d.value === "string") expect(rule.choices, `${kind}.${rule.name}`).toContain(d.value);
        else expect(numberLegal(d.value, rule), `${kind}.${rule.name} default ${d.value}`).toBe(true);
      }
    }
  });

  it("describes ranges as intervals", () => {
    expect(describeRange(hpRuleOf("step", "gamma")!)).toBe("in (0, 1]");
    expect(describeRange(hpRuleOf("step", "step_size")!)).toBe(">= 1");
    expect(describeRange(hpRuleOf("one_cycle", "max_lr")!)).toBe("> 0");
    expect(describeRange(hpRuleOf("one_cycle", "pct_start")!)).toBe("in (0, 1)");
    expect(describeRange(hpRuleOf("cyclic", "mode")!)).toBe("one of triangular, triangular2, exp_range");
    expect(hpRuleOf("multi_step", "milestone_12")?.slot).toBe("milestones");
    expect(hpRuleOf("multi_step", "milestone3")?.slot).toBe("milestones");
    expect(hpRuleOf("multi_step", "milestones")).toBeUndefined();
    expect(hpRuleOf("step", "milestone_0")).toBeUndefined();
  });
});

describe("CreateStudy: schedule domains", () => {
  it("accepts a legal domain of every kind", () => {
    expect(() =>
      space(
        [
          { kind: "constant", hyperparameters: [float("factor", 0.1, 1), int("total_iters", 1, 50)] },
          { kind: "step", hyperparameters: [int("step_size", 1, 100), float("gamma", 0.1, 1)] },
          { kind: "multi_step", hyperparameters: [int("milestone_0", 1, 500), int("milestone_1", 1, 900), cat("gamma", [0.1, 0.5])] },
          { kind: "exponential", hyperparameters: [float("gamma", 0.9, 0.999)] },
          { kind: "cosine_annealing", hyperparameters: [int("T_max", 100, 1000), float("eta_min", 0, 1e-3)] },
          { kind: "cosine_annealing_warm_restarts", hyperparameters: [int("T_0", 10, 100), cat("T_mult", [1, 2]), float("eta_min", 0, 1e-3)] },
          {
            kind: "one_cycle",
            hyperparameters: [
              float("max_lr", 1e-3, 1, true),
              float("pct_start", 0.1, 0.45),
              cat("anneal_strategy", ["cos", "linear"]),
              float("div_factor", 5, 50),
              float("final_div_factor", 10, 1e5, true),
              cat("three_phase", [false, true]),
            ],
          },
          {
            kind: "cyclic",
            hyperparameters: [
              float("base_lr", 1e-4, 1e-2, true),
              float("max_lr", 1e-2, 1, true),
              int("step_size_up", 10, 500),
              int("step_size_down", 10, 500),
              cat("mode", ["triangular", "triangular2", "exp_range"]),
              float("gamma", 0.99, 1),
            ],
          },
          { kind: "polynomial", hyperparameters: [int("total_iters", 100, 1000), float("power", 0.5, 3)] },
          {
            kind: "reduce_on_plateau",
            hyperparameters: [
              cat("mode", ["min", "max"]),
              float("factor", 0.1, 0.9),
              int("patience", 0, 20),
              float("threshold", 0, 0.01),
              cat("threshold_mode", ["rel", "abs"]),
              int("cooldown", 0, 5),
              float("min_lr", 0, 1e-5),
              float("eps", 0, 1e-8),
            ],
          },
        ],
        { warmupSteps: { type: "int", low: 0, high: 200, log: false, step: 1 }, warmupStartFactor: { type: "float", low: 0.01, high: 1, log: false } },
      ),
    ).not.toThrow();
  });

  it("an unknown name lists the known ones", () => {
    expect(rejection(() => space([{ kind: "constant", hyperparameters: [] }, { kind: "step", hyperparameters: [float("gama", 0.1, 0.5)] }]))).toBe(
      `${F}.options[1].hyperparameters[0].name: "gama" is not a hyperparameter of step (known: step_size, gamma)`,
    );
    expect(rejection(() => space([{ kind: "multi_step", hyperparameters: [int("milestones", 1, 10)] }]))).toBe(
      `${F}.options[0].hyperparameters[0].name: "milestones" is not a hyperparameter of multi_step (known: milestone_0, milestone_1, ..., gamma)`,
    );
    expect(rejection(() => space([{ kind: "constant", hyperparameters: [float("gamma", 0.1, 0.5)] }]))).toBe(
      `${F}.options[0].hyperparameters[0].name: "gamma" is not a hyperparameter of constant (known: factor, total_iters)`,
    );
  });

  it("ranges outside the legal ones name low, high or the choice", () => {
    expect(rejection(() => space([{ kind: "step", hyperparameters: [int("step_size", 0, 10)] }]))).toBe(
      `${F}.options[0].hyperparameters[0].int_domain.low: step_size of step must be >= 1 (low is 0)`,
    );
    expect(rejection(() => space([{ kind: "step", hyperparameters: [int("step_size", 1, 10), float("gamma", 0, 0.5)] }]))).toBe(
      `${F}.options[0].hyperparameters[1].float_domain.low: gamma of step must be in (0, 1] (low is 0)`,
    );
    expect(rejection(() => space([{ kind: "reduce_on_plateau", hyperparameters: [cat("factor", [0.5, 1])] }]))).toBe(
      `${F}.options[0].hyperparameters[0].categorical_domain.choices[1]: factor of reduce_on_plateau must be in (0, 1) (got 1)`,
    );
    expect(rejection(() => space([{ kind: "multi_step", hyperparameters: [int("milestone_0", 0, 10)] }]))).toBe(
      `${F}.options[0].hyperparameters[0].int_domain.low: milestone_0 of multi_step must be >= 1 (low is 0)`,
    );
    expect(rejection(() => space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), float("pct_start", 0.1, 1)] }]))).toBe(
      `${F}.options[0].hyperparameters[1].float_domain.high: pct_start of one_cycle must be in (0, 1) (high is 1)`,
    );
  });

  it("types: integers, strings and bools where the kind needs them", () => {
    expect(rejection(() => space([{ kind: "cosine_annealing_warm_restarts", hyperparameters: [float("T_0", 1, 10)] }]))).toBe(
      `${F}.options[0].hyperparameters[0].float_domain: T_0 of cosine_annealing_warm_restarts is an integer: use int_domain or integer choices`,
    );
    expect(rejection(() => space([{ kind: "cosine_annealing_warm_restarts", hyperparameters: [cat("T_0", [10, 12.5])] }]))).toBe(
      `${F}.options[0].hyperparameters[0].categorical_domain.choices[1]: T_0 of cosine_annealing_warm_restarts is an integer (got 12.5)`,
    );
    expect(rejection(() => space([{ kind: "step", hyperparameters: [int("step_size", 1, 3), cat("gamma", ["low"])] }]))).toBe(
      `${F}.options[0].hyperparameters[1].categorical_domain: gamma of step is a number: use float_domain, int_domain or numeric choices`,
    );
    expect(rejection(() => space([{ kind: "cyclic", hyperparameters: [float("base_lr", 0.1, 0.2), float("max_lr", 1, 2), float("mode", 0, 1)] }]))).toBe(
      `${F}.options[0].hyperparameters[2].float_domain: mode of cyclic is a string: use categorical_domain with choices among triangular, triangular2, exp_range`,
    );
    expect(rejection(() => space([{ kind: "cyclic", hyperparameters: [float("base_lr", 0.1, 0.2), float("max_lr", 1, 2), cat("mode", ["triangular", "sawtooth"])] }]))).toBe(
      `${F}.options[0].hyperparameters[2].categorical_domain.choices[1]: "sawtooth" is not a legal mode of cyclic (one of triangular, triangular2, exp_range)`,
    );
    expect(rejection(() => space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), int("three_phase", 0, 1)] }]))).toBe(
      `${F}.options[0].hyperparameters[1].int_domain: three_phase of one_cycle is a bool: use categorical_domain with bool choices`,
    );
  });

  it("required hyperparameters (no PyTorch default) must be declared", () => {
    expect(rejection(() => space([{ kind: "step", hyperparameters: [float("gamma", 0.1, 0.5)] }]))).toBe(
      `${F}.options[0].hyperparameters: step requires "step_size" (int, >= 1; PyTorch's StepLR has no default for it)`,
    );
    expect(rejection(() => space([{ kind: "cyclic", hyperparameters: [float("base_lr", 0.1, 0.2)] }]))).toBe(
      `${F}.options[0].hyperparameters: cyclic requires "max_lr" (float, > 0; PyTorch's CyclicLR has no default for it)`,
    );
    expect(rejection(() => space([{ kind: "multi_step", hyperparameters: [float("gamma", 0.1, 0.5)] }]))).toBe(
      `${F}.options[0].hyperparameters: multi_step requires at least one milestone (int hyperparameters milestone_0, milestone_1, ...)`,
    );
  });

  it("one_cycle: pct_start * total_steps > 1 for every value of the space; three_phase needs pct_start < 0.5", () => {
    expect(rejection(() => space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), float("pct_start", 0.0005, 0.3)] }]))).toBe(
      `${F}.options[0].hyperparameters: one_cycle needs pct_start * total_steps > 1 (a non-empty warm-up phase; PyTorch divides by its length), ` +
        "but the space allows pct_start 0.0005 with total_steps 1000 (total_steps defaults to total_steps - warmup_steps)",
    );
    expect(rejection(() => space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), int("total_steps", 2, 100)] }]))).toBe(
      `${F}.options[0].hyperparameters: one_cycle needs pct_start * total_steps > 1 (a non-empty warm-up phase; PyTorch divides by its length), ` +
        "but the space allows pct_start 0.3 with total_steps 2",
    );
    // The default horizon shrinks with the warm-up.
    expect(() =>
      space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), float("pct_start", 0.01, 0.3)] }], {
        totalSteps: 200,
        warmupSteps: { type: "int", low: 0, high: 150, log: false, step: 1 },
      }),
    ).toThrow("but the space allows pct_start 0.01 with total_steps 50");
    expect(rejection(() => space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), cat("three_phase", [true]), float("pct_start", 0.2, 0.5)] }]))).toBe(
      `${F}.options[0].hyperparameters: one_cycle with three_phase needs pct_start < 0.5, but the space allows pct_start 0.5`,
    );
    expect(() => space([{ kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), cat("three_phase", [false]), float("pct_start", 0.2, 0.9)] }])).not.toThrow();
  });

  it("warm-up: warmup_steps below total_steps, warmup_start_factor in (0, 1]", () => {
    const constant = [{ kind: "constant" as const, hyperparameters: [] }];
    expect(rejection(() => space(constant, { totalSteps: 100, warmupSteps: { type: "int", low: 0, high: 100, log: false, step: 10 } }))).toBe(
      `${F}.warmup_steps.high: must be < total_steps (100) so that the main schedule has at least one step (high is 100)`,
    );
    expect(rejection(() => space(constant, { warmupSteps: { type: "int", low: -5, high: 10, log: false, step: 1 } }))).toBe(
      `${F}.warmup_steps.int_domain.low: warmup_steps must be >= 0 (low is -5)`,
    );
    expect(rejection(() => space(constant, { warmupStartFactor: { type: "float", low: 0, high: 1, log: false } }))).toBe(
      `${F}.warmup_start_factor.float_domain.low: warmup_start_factor must be in (0, 1] (low is 0)`,
    );
    expect(rejection(() => space(constant, { warmupStartFactor: { type: "float", low: 0.5, high: 2, log: false } }))).toBe(
      `${F}.warmup_start_factor.float_domain.high: warmup_start_factor must be in (0, 1] (high is 2)`,
    );
  });
});

describe("Suggest: assemble fills defaults, flatten inverts", () => {
  const s = space(
    [
      { kind: "cosine_annealing", hyperparameters: [float("eta_min", 0, 1e-3)] },
      { kind: "cyclic", hyperparameters: [float("base_lr", 1e-3, 1e-2), float("max_lr", 0.1, 1), int("step_size_up", 10, 100)] },
      {
        kind: "reduce_on_plateau",
        hyperparameters: [cat("mode", ["min", "max"]), cat("threshold_mode", ["rel", "abs"]), int("patience", 0, 9)],
      },
      { kind: "one_cycle", hyperparameters: [float("max_lr", 0.1, 1), cat("three_phase", [false, true]), cat("anneal_strategy", ["cos", "linear"])] },
    ],
    { warmupSteps: { type: "int", low: 0, high: 100, log: false, step: 10 } },
  );

  it("horizon defaults follow the sampled warm-up; unset warm-up factor becomes 1/3", () => {
    const a = s.assemble({ "sched/kind": "cosine_annealing", "sched/warmup_steps": 40, "sched/cosine_annealing/eta_min": 1e-4 });
    expect(a.sched).toEqual({
      kind: "cosine_annealing",
      values: { eta_min: 1e-4, T_max: 960 },
      milestones: [],
      mode: "",
      totalSteps: 1000,
      warmupSteps: 40,
      warmupStartFactor: 1 / 3,
    });
    const c = s.assemble({ "sched/kind": "cyclic", "sched/warmup_steps": 0, "sched/cyclic/base_lr": 0.005, "sched/cyclic/max_lr": 0.5, "sched/cyclic/step_size_up": 30 });
    expect(c.sched).toMatchObject({ values: { base_lr: 0.005, max_lr: 0.5, step_size_up: 30, step_size_down: 30, gamma: 1 }, mode: "triangular", warmupStartFactor: 0 });
  });

  it("a second string hyperparameter (threshold_mode) travels as its choice index; a bool as 0/1", () => {
    const flat: FlatParams = {
      "sched/kind": "reduce_on_plateau",
      "sched/warmup_steps": 10,
      "sched/reduce_on_plateau/mode": "max",
      "sched/reduce_on_plateau/threshold_mode": "abs",
      "sched/reduce_on_plateau/patience": 3,
    };
    const p = s.assemble(flat).sched as LrScheduleValue;
    expect(p.mode).toBe("max");
    expect(p.values).toEqual({ threshold_mode: 1, patience: 3, factor: 0.1, threshold: 1e-4, cooldown: 0, min_lr: 0, eps: 1e-8 });
    expect(s.flatten({ sched: p })).toEqual(flat);
    expect(() => s.validateParams({ sched: p }, "params")).not.toThrow();

    const oflat: FlatParams = {
      "sched/kind": "one_cycle",
      "sched/warmup_steps": 0,
      "sched/one_cycle/max_lr": 0.4,
      "sched/one_cycle/three_phase": true,
      "sched/one_cycle/anneal_strategy": "linear",
    };
    const o = s.assemble(oflat).sched as LrScheduleValue;
    expect(o.values.three_phase).toBe(1);
    expect(o.mode).toBe("linear");
    expect(s.flatten({ sched: o })).toEqual(oflat);
    expect(() => lrAt(o, 0, 500)).not.toThrow();
  });

  it("every assembled schedule is complete and legal", () => {
    for (const kind of ["cosine_annealing", "cyclic", "reduce_on_plateau", "one_cycle"]) {
      const flat: FlatParams = { "sched/kind": kind, "sched/warmup_steps": 20 };
      for (const d of s.dims) {
        if (d.name.startsWith(`sched/${kind}/`)) {
          const dom = d.domain;
          flat[d.name] = dom.type === "categorical" ? (dom.choices[0] as ScalarValue) : dom.low;
        }
      }
      const v = s.assemble(flat).sched as LrScheduleValue;
      expect(lrScheduleProblem(v), kind).toBeUndefined();
      expect(completeLrSchedule(v)).toEqual(v);
    }
  });
});

describe("docs/LR_SCHEDULES.md", () => {
  it("its study spec parses, compiles and assembles complete schedules", () => {
    const md = readFileSync(join(resolve(import.meta.dirname, "..", ".."), "docs", "LR_SCHEDULES.md"), "utf8");
    const yaml = /```yaml\n([\s\S]*?)```/.exec(md)?.[1];
    expect(yaml).toBeDefined();
    const st = parseStudySpec(yaml!, "docs/LR_SCHEDULES.md");
    const sp = compileSpace(spaceFromPb(st.spec?.searchSpace, "study.spec.search_space"), "study.spec.search_space");
    const kindDim = sp.dim("sched/kind")!;
    expect(kindDim.domain.type === "categorical" && kindDim.domain.choices.length).toBe(6);
    const flat: FlatParams = { lr: 0.01, "sched/kind": "cosine_annealing", "sched/warmup_steps": 40, "sched/warmup_start_factor": 0.1, "sched/cosine_annealing/eta_min": 5e-5 };
    expect(sp.assemble(flat).sched).toEqual({
      kind: "cosine_annealing",
      values: { eta_min: 5e-5, T_max: 960 },
      milestones: [],
      mode: "",
      totalSteps: 1000,
      warmupSteps: 40,
      warmupStartFactor: 0.1,
    });
  });
});
