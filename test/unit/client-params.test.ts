import { describe, expect, it } from "vitest";

import { LrScheduleKind, type LrSchedule, type ParameterValue } from "../../client/gen/hpod/v1/search_space.js";
import { fromParameterValue, ParamError, toParameterValue, TrialParams } from "../../client/params.js";

const schedule: LrSchedule = {
  kind: LrScheduleKind.LR_SCHEDULE_KIND_COSINE_ANNEALING,
  values: { T_max: 100, eta_min: 0.001 },
  milestones: [],
  mode: "",
  totalSteps: 100,
  warmupSteps: 5,
  warmupStartFactor: 0.1,
};

const proto: Record<string, ParameterValue> = {
  lr: { kind: { $case: "numberValue", value: 0.01 } },
  layers: { kind: { $case: "intValue", value: 4 } },
  width: { kind: { $case: "numberValue", value: 64 } },
  optimizer: { kind: { $case: "stringValue", value: "adam" } },
  nesterov: { kind: { $case: "boolValue", value: true } },
  sched: { kind: { $case: "lrScheduleValue", value: schedule } },
};

describe("TrialParams", () => {
  const params = new TrialParams(proto);

  it("reads each type", () => {
    expect(params.getFloat("lr")).toBe(0.01);
    expect(params.getInt("layers")).toBe(4);
    expect(params.getString("optimizer")).toBe("adam");
    expect(params.getBool("nesterov")).toBe(true);
    expect(params.getSchedule("sched")).toEqual(schedule);
  });

  it("widens ints to floats and accepts integral numbers as ints", () => {
    expect(params.getFloat("layers")).toBe(4);
    expect(params.getInt("width")).toBe(64);
  });

  it("has() and names()", () => {
    expect(params.has("lr")).toBe(true);
    expect(params.has("momentum")).toBe(false);
    expect(params.names()).toEqual(["layers", "lr", "nesterov", "optimizer", "sched", "width"]);
  });

  it("converts to plain JS values", () => {
    expect(params.toObject()).toEqual({
      lr: 0.01,
      layers: 4,
      width: 64,
      optimizer: "adam",
      nesterov: true,
      sched: schedule,
    });
    expect(params.get("optimizer")).toBe("adam");
  });

  it("throws a clear error for a missing parameter", () => {
    expect(() => params.getFloat("momentum")).toThrow(ParamError);
    expect(() => params.getFloat("momentum")).toThrow(/parameter "momentum" is not set in this trial \(present: layers, lr/);
    try {
      params.getInt("momentum");
    } catch (error) {
      expect((error as ParamError).param).toBe("momentum");
    }
  });

  it("throws a clear error for a wrong type", () => {
    expect(() => params.getInt("lr")).toThrow('parameter "lr" is the float 0.01, not an integer');
    expect(() => params.getFloat("optimizer")).toThrow('parameter "optimizer" is the string "adam", not a number');
    expect(() => params.getString("layers")).toThrow('parameter "layers" is the integer 4, not a string');
    expect(() => params.getBool("optimizer")).toThrow(/not a bool/);
    expect(() => params.getSchedule("lr")).toThrow(/not a learning-rate schedule/);
    expect(() => params.getString("sched")).toThrow(/is a learning-rate schedule, not a string/);
  });

  it("rejects an empty value", () => {
    const empty = new TrialParams({ x: {} });
    expect(empty.has("x")).toBe(true);
    expect(() => empty.get("x")).toThrow('parameter "x" has no value');
    expect(() => empty.getFloat("x")).toThrow(/is empty, not a number/);
  });
});

describe("toParameterValue / fromParameterValue", () => {
  it("round-trips", () => {
    for (const v of [1.5, "a", false, schedule]) expect(fromParameterValue(toParameterValue(v))).toEqual(v);
    expect(toParameterValue(3, { int: true })).toEqual({ kind: { $case: "intValue", value: 3 } });
    expect(toParameterValue(3)).toEqual({ kind: { $case: "numberValue", value: 3 } });
    expect(() => toParameterValue(3.5, { int: true })).toThrow(RangeError);
  });
});
