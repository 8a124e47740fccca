/**
 * lr(step) of every schedule kind against hand-checked values (most from
 * the examples in PyTorch's torch.optim.lr_scheduler docstrings), warm-up
 * composition, reduce-on-plateau, defaults, errors, and the SDK surface.
 * Runs without torch (the torch comparison is test/e2e/lr-schedule-torch.test.ts).
 */
import { describe, expect, it } from "vitest";

import {
  createScheduler as sdkCreateScheduler,
  lrAt as sdkLrAt,
  LrScheduleError as SdkLrScheduleError,
  LrScheduleKind,
  resolveLrSchedule as sdkResolve,
  scheduleBaseLr as sdkBaseLr,
  toLrScheduleValue,
  type LrSchedule,
} from "../../client/index.js";
import { createScheduler, isStatefulKind, lrAt, LrScheduleError, resolveLrSchedule, scheduleBaseLr } from "../../server/core/lr-schedule.js";
import type { LrKind, LrScheduleValue } from "../../server/core/space.js";

function s(kind: LrKind, values: Record<string, number> = {}, extra: Partial<LrScheduleValue> = {}): LrScheduleValue {
  return { kind, values, milestones: [], mode: "", totalSteps: 100, warmupSteps: 0, warmupStartFactor: 0, ...extra };
}

/** lr at steps 0..n-1. */
const seq = (x: LrScheduleValue, base: number, n: number): number[] => Array.from({ length: n }, (_, t) => lrAt(x, base, t));

function expectClose(actual: readonly number[], expected: readonly number[], rel = 1e-12): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    const err = a === e ? 0 : Math.abs(a - e) / Math.max(Math.abs(e), 1e-300);
    expect(err, `step ${i}: ${a} vs ${e}`).toBeLessThanOrEqual(rel);
  });
}

describe("lrAt: each kind (hand-checked)", () => {
  it("constant: factor 1 by default, ConstantLR semantics with factor/total_iters", () => {
    expectClose(seq(s("constant"), 0.05, 8), Array(8).fill(0.05));
    // ConstantLR docs: factor 0.5, total_iters 4.
    expectClose(seq(s("constant", { factor: 0.5, total_iters: 4 }), 0.05, 7), [0.025, 0.025, 0.025, 0.025, 0.05, 0.05, 0.05]);
  });

  it("step (StepLR docs: step_size 30, gamma 0.1)", () => {
    const x = s("step", { step_size: 30, gamma: 0.1 });
    for (const [t, want] of [[0, 0.05], [29, 0.05], [30, 0.005], [59, 0.005], [60, 0.0005], [89, 0.0005], [90, 0.00005]] as const) {
      expectClose([lrAt(x, 0.05, t)], [want]);
    }
    expect(lrAt(s("step", { step_size: 3 }), 1, 3)).toBeCloseTo(0.1, 15); // gamma defaults to 0.1
  });

  it("multi_step (MultiStepLR docs: milestones 30, 80), unsorted and repeated milestones", () => {
    const x = s("multi_step", { gamma: 0.1 }, { milestones: [80, 30] });
    for (const [t, want] of [[0, 0.05], [29, 0.05], [30, 0.005], [79, 0.005], [80, 0.0005], [500, 0.0005]] as const) {
      expectClose([lrAt(x, 0.05, t)], [want]);
    }
    // A milestone given twice applies gamma twice (PyTorch counts them).
    expectClose(seq(s("multi_step", { gamma: 0.5 }, { milestones: [2, 2] }), 1, 4), [1, 1, 0.25, 0.25]);
  });

  it("exponential", () => {
    expectClose(seq(s("exponential", { gamma: 0.9 }), 1, 4), [1, 0.9, 0.81, 0.729]);
  });

  it("cosine_annealing: T_max defaults to total_steps; past T_max the lr rises again like PyTorch's", () => {
    const c = Math.cos(Math.PI / 4);
    const x = s("cosine_annealing", { T_max: 4 });
    expectClose(seq(x, 1, 9), [1, (1 + c) / 2, 0.5, (1 - c) / 2, 0, (1 - c) / 2, 0.5, (1 + c) / 2, 1]);
    // eta_min is the floor; T_max = total_steps (here 100) by default.
    expectClose([lrAt(s("cosine_annealing", { eta_min: 0.01 }), 0.1, 50), lrAt(s("cosine_annealing", { eta_min: 0.01 }), 0.1, 100)], [0.055, 0.01]);
  });

  it("cosine_annealing_warm_restarts: T_0 2, T_mult 2", () => {
    const c = Math.cos(Math.PI / 4);
    const x = s("cosine_annealing_warm_restarts", { T_0: 2, T_mult: 2 });
    expectClose(seq(x, 1, 7), [1, 0.5, 1, (1 + c) / 2, 0.5, (1 - c) / 2, 1]);
    // T_mult 1: period T_0.
    expectClose(seq(s("cosine_annealing_warm_restarts", { T_0: 2, eta_min: 0.5 }), 1, 4), [1, 0.75, 1, 0.75]);
  });

  it("one_cycle: from max_lr/div_factor up to max_lr, then down to the minimum; raises past total_steps", () => {
    const x = s("one_cycle", { max_lr: 1, total_steps: 10 }); // pct_start 0.3: phase 1 ends at step 2
    const v = seq(x, 123, 11);
    expectClose([v[0]!, v[1]!, v[2]!, v[9]!], [0.04, 0.52, 1, 0.04 / 1e4]);
    // The SDK's baseLr does not matter for one_cycle.
    expect(lrAt(x, 0, 5)).toBe(lrAt(x, 7, 5));
    expect(() => lrAt(x, 1, 11)).toThrow(/one_cycle: step 11 is past total_steps 10/);
    // Linear annealing reaches the same corners.
    const lin = s("one_cycle", { max_lr: 1, total_steps: 10 }, { mode: "linear" });
    // (min - max) * 1 + max: PyTorch's arithmetic loses ~1e-11 of the tiny minimum.
    expectClose([lrAt(lin, 1, 1), lrAt(lin, 1, 2), lrAt(lin, 1, 9)], [0.52, 1, 4e-6], 1e-9);
    // Three phases: up, back down to the initial lr, then to the minimum.
    const three = s("one_cycle", { max_lr: 1, total_steps: 10, three_phase: 1 }, { mode: "linear" });
    expectClose([lrAt(three, 1, 0), lrAt(three, 1, 2), lrAt(three, 1, 4), lrAt(three, 1, 9)], [0.04, 1, 0.04, 4e-6], 1e-9);
  });

  it("cyclic: triangular, triangular2 and exp_range", () => {
    const tri = s("cyclic", { base_lr: 0.1, max_lr: 1, step_size_up: 2 }, { mode: "triangular" });
    expectClose(seq(tri, 5, 9), [0.1, 0.55, 1, 0.55, 0.1, 0.55, 1, 0.55, 0.1]);
    const tri2 = s("cyclic", { base_lr: 0.1, max_lr: 1, step_size_up: 2 }, { mode: "triangular2" });
    expectClose(seq(tri2, 5, 7), [0.1, 0.55, 1, 0.55, 0.1, 0.325, 0.55]);
    const exp = s("cyclic", { base_lr: 0.1, max_lr: 1, step_size_up: 2, gamma: 0.5 }, { mode: "exp_range" });
    expectClose(seq(exp, 5, 3), [0.1, 0.1 + 0.45 * 0.5, 0.1 + 0.9 * 0.25]);
    // step_size_down defaults to step_size_up; asymmetric cycle.
    const asym = s("cyclic", { base_lr: 0, max_lr: 1, step_size_up: 1, step_size_down: 3 });
    expectClose(seq({ ...asym, values: { ...asym.values, base_lr: 0.2 } }, 5, 5), [0.2, 1, 1 - 0.8 / 3, 1 - 1.6 / 3, 0.2]);
  });

  it("polynomial (PolynomialLR docs: total_iters 4, power 1)", () => {
    expectClose(seq(s("polynomial", { total_iters: 4 }), 0.001, 7), [0.001, 0.00075, 0.0005, 0.00025, 0, 0, 0]);
    expectClose([lrAt(s("polynomial", { total_iters: 4, power: 2 }), 1, 2)], [0.25]);
  });

  it("reduce_on_plateau has no lrAt", () => {
    expect(isStatefulKind("reduce_on_plateau")).toBe(true);
    expect(isStatefulKind("cyclic")).toBe(false);
    expect(() => lrAt(s("reduce_on_plateau"), 0.1, 0)).toThrow(/use createScheduler/);
  });
});

describe("warm-up composition", () => {
  it("LinearLR from start_factor to 1 over warmup_steps, then the main schedule from its step 0", () => {
    // LinearLR docs: start_factor 0.5, total_iters 4, base 0.05; then constant.
    expectClose(seq(s("constant", {}, { warmupSteps: 4, warmupStartFactor: 0.5 }), 0.05, 6), [0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05]);
    // Then a step decay that starts counting at the end of the warm-up.
    const x = s("step", { step_size: 2, gamma: 0.5 }, { warmupSteps: 2, warmupStartFactor: 0.5 });
    expectClose(seq(x, 1, 7), [0.5, 0.75, 1, 1, 0.5, 0.5, 0.25]);
  });

  it("warmup_start_factor 0 (unset) means LinearLR's default 1/3", () => {
    expect(resolveLrSchedule(s("constant", {}, { warmupSteps: 3 })).warmupStartFactor).toBe(1 / 3);
    expectClose([lrAt(s("constant", {}, { warmupSteps: 3 }), 0.3, 0)], [0.1]);
  });

  it("the horizon defaults (T_max, total_iters, total_steps) are total_steps - warmup_steps", () => {
    const x = resolveLrSchedule(s("cosine_annealing", {}, { totalSteps: 100, warmupSteps: 20, warmupStartFactor: 0.1 }));
    expect(x.values.T_max).toBe(80);
    expect(lrAt(x, 1, 100)).toBe(0);
    expect(resolveLrSchedule(s("polynomial", {}, { warmupSteps: 10, warmupStartFactor: 0.1 })).values.total_iters).toBe(90);
    expect(resolveLrSchedule(s("one_cycle", { max_lr: 1 }, { warmupSteps: 30, warmupStartFactor: 0.1 })).values.total_steps).toBe(70);
  });

  it("kinds with their own lr ramp up to it: cyclic base_lr, one_cycle max_lr / div_factor", () => {
    const cyc = s("cyclic", { base_lr: 0.02, max_lr: 0.2, step_size_up: 10 }, { warmupSteps: 4, warmupStartFactor: 0.5 });
    expect(scheduleBaseLr(cyc, 99)).toBe(0.02);
    expectClose(seq(cyc, 99, 5), [0.01, 0.0125, 0.015, 0.0175, 0.02]);
    const oc = s("one_cycle", { max_lr: 1, div_factor: 10 }, { warmupSteps: 2, warmupStartFactor: 0.5 });
    expect(scheduleBaseLr(oc, 99)).toBe(0.1);
    expectClose(seq(oc, 99, 3), [0.05, 0.075, 0.1]);
  });
});

describe("createScheduler", () => {
  it("follows lrAt step by step for the stateless kinds", () => {
    const schedules: LrScheduleValue[] = [
      s("step", { step_size: 3, gamma: 0.7 }, { warmupSteps: 5, warmupStartFactor: 0.2 }),
      s("cosine_annealing_warm_restarts", { T_0: 7, T_mult: 2 }),
      s("cyclic", { base_lr: 0.01, max_lr: 0.1, step_size_up: 4 }, { mode: "triangular2" }),
      s("one_cycle", { max_lr: 0.3 }),
    ];
    for (const x of schedules) {
      const sch = createScheduler(x, 0.1);
      for (let t = 0; t < 100; t++) {
        expect(sch.stepCount).toBe(t);
        expect(sch.lr).toBe(lrAt(x, 0.1, t));
        sch.step(Math.random()); // metrics are ignored
      }
    }
  });

  it("reduce_on_plateau: patience, factor, threshold, cooldown, min_lr, eps (ReduceLROnPlateau)", () => {
    // threshold 0: any strictly lower value is an improvement; patience 1: the 2nd bad step reduces.
    const x = s("reduce_on_plateau", { factor: 0.5, patience: 1, threshold: 0 }, { mode: "min" });
    const sch = createScheduler(x, 1);
    const lrs = [sch.lr];
    for (const m of [5, 4, 4, 4, 4, 4, 3, 3]) lrs.push(sch.step(m));
    expect(lrs).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25]);

    // mode max, cooldown 2 (bad steps during the cooldown are ignored), floor at min_lr.
    const y = s("reduce_on_plateau", { factor: 0.1, patience: 0, cooldown: 2, min_lr: 0.05 }, { mode: "max" });
    const s2 = createScheduler(y, 1);
    const l2 = [s2.lr];
    for (const m of [1, 1, 1, 1, 1, 1, 1]) l2.push(s2.step(m));
    expect(l2).toEqual([1, 1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05]);

    // A reduction smaller than eps is skipped.
    const z = s("reduce_on_plateau", { factor: 0.5, patience: 0, eps: 0.3 });
    const s3 = createScheduler(z, 1);
    expect([s3.lr, s3.step(1), s3.step(1), s3.step(1)]).toEqual([1, 1, 0.5, 0.5]);

    // threshold_mode abs (1): an improvement must beat best - threshold.
    const a = s("reduce_on_plateau", { factor: 0.5, patience: 0, threshold: 0.1, threshold_mode: 1 });
    const s4 = createScheduler(a, 1);
    expect([s4.lr, s4.step(1), s4.step(0.95), s4.step(0.85)]).toEqual([1, 1, 0.5, 0.5]);
  });

  it("reduce_on_plateau needs the metric after warm-up, ignores it during warm-up", () => {
    const x = s("reduce_on_plateau", { factor: 0.5, patience: 0 }, { warmupSteps: 2, warmupStartFactor: 0.5 });
    const sch = createScheduler(x, 1);
    expect(sch.lr).toBe(0.5);
    expect(sch.step()).toBe(0.75);
    expect(sch.step(123)).toBe(1);
    expect(() => sch.step()).toThrow(/needs the metric of step 2/);
    expect(sch.step(1)).toBe(1);
    expect(sch.step(1)).toBe(0.5);
  });
});

describe("defaults and errors", () => {
  it("fills PyTorch's defaults for omitted hyperparameters", () => {
    expect(resolveLrSchedule(s("reduce_on_plateau")).values).toEqual({
      factor: 0.1,
      patience: 10,
      threshold: 1e-4,
      threshold_mode: 0,
      cooldown: 0,
      min_lr: 0,
      eps: 1e-8,
    });
    expect(resolveLrSchedule(s("reduce_on_plateau")).mode).toBe("min");
    const c = resolveLrSchedule(s("cyclic", { base_lr: 0.1, max_lr: 1, step_size_up: 7 }));
    expect(c.values).toEqual({ base_lr: 0.1, max_lr: 1, step_size_up: 7, step_size_down: 7, gamma: 1 });
    expect(c.mode).toBe("triangular");
    const o = resolveLrSchedule(s("one_cycle", { max_lr: 1 }));
    expect(o.values).toEqual({ max_lr: 1, total_steps: 100, pct_start: 0.3, div_factor: 25, final_div_factor: 1e4, three_phase: 0 });
    expect(o.mode).toBe("cos");
    // Given values are kept.
    expect(resolveLrSchedule(s("step", { step_size: 4, gamma: 0.9 })).values).toEqual({ step_size: 4, gamma: 0.9 });
  });

  it("names the offending field", () => {
    const bad: [LrScheduleValue, string][] = [
      [s("step", { gamma: 0.5 }), "lr schedule values.step_size: step requires step_size"],
      [s("step", { step_size: 3, gama: 0.5 }), 'lr schedule values.gama: "gama" is not a hyperparameter of step (known in values: step_size, gamma)'],
      [s("step", { step_size: 0 }), "lr schedule values.step_size: step_size of step must be an integer >= 1 (got 0)"],
      [s("step", { step_size: 2.5 }), "lr schedule values.step_size: step_size of step must be an integer >= 1 (got 2.5)"],
      [s("exponential", { gamma: 1.5 }), "lr schedule values.gamma: gamma of exponential must be a number in (0, 1] (got 1.5)"],
      [s("cyclic", { base_lr: 1, max_lr: 2 }, { mode: "zigzag" }), 'lr schedule mode: mode of cyclic must be one of triangular, triangular2, exp_range (got "zigzag")'],
      [s("step", { step_size: 3 }, { mode: "min" }), 'lr schedule mode: step takes no mode (got "min")'],
      [s("multi_step"), "lr schedule milestones: multi_step requires at least one milestone"],
      [s("multi_step", {}, { milestones: [0] }), "lr schedule milestones[0]: must be an integer >= 1 (got 0)"],
      [s("step", { step_size: 3 }, { milestones: [5] }), "lr schedule milestones: step takes no milestones"],
      [s("cosine_annealing", {}, { totalSteps: 0 }), "lr schedule values.T_max: cosine_annealing requires T_max (its default needs total_steps)"],
      [s("one_cycle", { max_lr: 1, total_steps: 10, pct_start: 0.1 }), "lr schedule values.pct_start: one_cycle needs pct_start * total_steps > 1 (got 0.1 * 10)"],
      [s("reduce_on_plateau", { threshold_mode: 2 }), "lr schedule values.threshold_mode: threshold_mode of reduce_on_plateau must be the index of one of rel, abs (0..1) (got 2)"],
      [s("constant", {}, { warmupSteps: 2, warmupStartFactor: 1.5 }), "lr schedule warmup_start_factor: must be in (0, 1] with warm-up steps (got 1.5)"],
      [{ ...s("constant"), kind: "linear" as LrKind }, 'lr schedule kind: unknown kind "linear"'],
    ];
    for (const [x, msg] of bad) {
      expect(() => lrAt(x, 0.1, 0), msg).toThrow(LrScheduleError);
      expect(() => lrAt(x, 0.1, 0)).toThrow(msg);
    }
    expect(() => lrAt(s("constant"), 0.1, -1)).toThrow("step must be an integer >= 0 (got -1)");
    expect(() => lrAt(s("constant"), 0.1, 1.5)).toThrow("step must be an integer >= 0 (got 1.5)");
    expect(() => lrAt(s("constant"), Number.NaN, 1)).toThrow("baseLr must be a finite number >= 0 (got NaN)");
    expect(() => createScheduler(s("exponential"), 0.1)).toThrow("lr schedule values.gamma: exponential requires gamma");
  });
});

describe("SDK (client/index.ts)", () => {
  const proto: LrSchedule = {
    kind: LrScheduleKind.LR_SCHEDULE_KIND_COSINE_ANNEALING,
    values: { T_max: 4 },
    milestones: [],
    mode: "",
    totalSteps: 10,
    warmupSteps: 0,
    warmupStartFactor: 0,
  };

  it("takes the generated LrSchedule message (enum kind) as Suggest returns it", () => {
    expect(toLrScheduleValue(proto).kind).toBe("cosine_annealing");
    expect(sdkLrAt(proto, 1, 2)).toBeCloseTo(0.5, 15);
    expect(sdkCreateScheduler(proto, 1).step()).toBe(lrAt(toLrScheduleValue(proto), 1, 1));
    expect(sdkResolve(proto).values).toEqual({ T_max: 4, eta_min: 0 });
    expect(sdkBaseLr(proto, 0.3)).toBe(0.3);
  });

  it("takes plain values with kind names (also the proto enum name)", () => {
    expect(sdkLrAt(s("exponential", { gamma: 0.5 }), 1, 2)).toBe(0.25);
    const named = { ...s("exponential", { gamma: 0.5 }), kind: "LR_SCHEDULE_KIND_EXPONENTIAL" as LrKind };
    expect(sdkLrAt(named, 1, 1)).toBe(0.5);
  });

  it("rejects unknown kinds", () => {
    expect(() => sdkLrAt({ ...proto, kind: LrScheduleKind.LR_SCHEDULE_KIND_UNSPECIFIED }, 1, 0)).toThrow(SdkLrScheduleError);
    expect(() => sdkLrAt({ ...proto, kind: 42 as LrScheduleKind }, 1, 0)).toThrow("lr schedule kind: unknown kind 42");
  });
});
