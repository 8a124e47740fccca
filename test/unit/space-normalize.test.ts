/** User-given schedules (EnqueueTrial, AddTrial) are completed and checked like sampled ones. */
import { describe, expect, it } from "vitest";
import { HpodError } from "../../server/core/errors.js";
import { compileSpace, type LrScheduleValue } from "../../server/core/space.js";

const space = compileSpace({
  parameters: [
    {
      name: "sched",
      domain: {
        type: "lr_schedule",
        totalSteps: 100,
        options: [
          { kind: "constant", hyperparameters: [] },
          { kind: "step", hyperparameters: [{ name: "step_size", domain: { type: "int", low: 1, high: 50, log: false, step: 1 } }] },
        ],
      },
    },
  ],
});

const sched = (s: Partial<LrScheduleValue>): LrScheduleValue => ({
  kind: "constant",
  values: {},
  milestones: [],
  mode: "",
  totalSteps: 100,
  warmupSteps: 0,
  warmupStartFactor: 0,
  ...s,
});

describe("normalizeParams", () => {
  it("fills the kind's defaults into a user-given schedule", () => {
    const out = space.normalizeParams({ sched: sched({ kind: "step", values: { step_size: 10 } }) }, "params");
    const s = out.sched as LrScheduleValue;
    expect(s.values.step_size).toBe(10);
    expect(s.values.gamma).toBe(0.1); // PyTorch's StepLR default
    const c = space.normalizeParams({ sched: sched({}) }, "params").sched as LrScheduleValue;
    expect(Object.keys(c.values).length).toBeGreaterThan(0);
  });

  it("rejects a schedule value the kind does not know, naming the field", () => {
    let err: unknown;
    try {
      space.normalizeParams({ sched: sched({ kind: "step", values: { step_size: 10, gama: 0.5 } }) }, "params");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HpodError);
    expect((err as HpodError).code).toBe(3);
    expect((err as HpodError).message).toContain('params["sched"].values.gama');
  });
});
