import { describe, expect, it } from "vitest";

import { LrScheduleKind } from "../../client/gen/hpod/v1/search_space.js";
import { Direction, StudyState } from "../../client/gen/hpod/v1/study.js";
import { Trial, TrialState } from "../../client/gen/hpod/v1/trial.js";
import {
  descriptorSetCandidates,
  messageFromJson,
  messageToJson,
  parseStudySpec,
  ProtoJsonError,
  studyFromJson,
} from "../../client/proto-json.js";

const YAML_SPEC = `
# a comment: YAML, not JSON
name: mnist-lr
labels: {team: vision}
spec:
  searchSpace:
    parameters:
      - name: lr
        floatDomain: {low: 1.0e-5, high: 0.1, log: true}
      - name: layers
        intDomain: {low: 1, high: "8"}
      - name: optimizer
        categoricalDomain:
          choices: [{stringValue: adam}, {stringValue: sgd}]
      - name: momentum
        floatDomain: {low: 0, high: 0.99}
        condition: {parent: optimizer, values: [{stringValue: sgd}]}
  objectives:
    - {name: loss, direction: DIRECTION_MINIMIZE}
    - {name: accuracy, direction: 2}
  algorithm: {name: tpe, seed: 42}
  max_trials: 50
  heartbeatTimeout: 90s
`;

describe("proto JSON (strict, via hpod.binpb)", () => {
  it("finds the descriptor set from the sources", () => {
    expect(descriptorSetCandidates().some((p) => p.endsWith("client/gen/hpod.binpb"))).toBe(true);
  });

  it("accepts YAML, enums by name or number, int64 as string or number, proto field names", () => {
    const study = parseStudySpec(YAML_SPEC, "spec.yaml");
    expect(study.name).toBe("mnist-lr");
    expect(study.labels).toEqual({ team: "vision" });
    const spec = study.spec!;
    expect(spec.objectives.map((o) => o.direction)).toEqual([Direction.DIRECTION_MINIMIZE, Direction.DIRECTION_MAXIMIZE]);
    expect(spec.maxTrials).toBe(50);
    expect(spec.heartbeatTimeout).toEqual({ seconds: 90, nanos: 0 });
    expect(spec.algorithm).toMatchObject({ name: "tpe", seed: 42 });
    const [lr, layers, optimizer, momentum] = spec.searchSpace!.parameters;
    expect(lr.domain).toEqual({ $case: "floatDomain", value: { low: 1e-5, high: 0.1, log: true, step: undefined } });
    expect(layers.domain).toEqual({ $case: "intDomain", value: { low: 1, high: 8, log: false, step: undefined } });
    expect(optimizer.domain?.$case).toBe("categoricalDomain");
    expect(momentum.condition).toEqual({ parent: "optimizer", values: [{ kind: { $case: "stringValue", value: "sgd" } }] });
  });

  it("accepts plain JSON text too", () => {
    const study = parseStudySpec('{"name": "j", "state": "STUDY_STATE_PAUSED", "spec": {"maxTrials": "7"}}');
    expect(study.state).toBe(StudyState.STUDY_STATE_PAUSED);
    expect(study.spec?.maxTrials).toBe(7);
  });

  it("rejects an unknown field, naming it and its path", () => {
    expect(() => studyFromJson({ name: "x", colour: "red" })).toThrow(ProtoJsonError);
    expect(() => studyFromJson({ name: "x", colour: "red" })).toThrow(/colour: unknown field "colour" of hpod.v1.Study/);
    const yaml = "name: x\nspec:\n  searchSpace:\n    parameters:\n      - name: lr\n        floatDomian: {low: 0, high: 1}\n";
    let error: unknown;
    try {
      parseStudySpec(yaml, "bad.yaml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtoJsonError);
    expect((error as ProtoJsonError).message).toMatch(
      /^bad\.yaml: spec\.searchSpace\.parameters\[0\]\.floatDomian: unknown field "floatDomian" of hpod\.v1\.Parameter \(did you mean "floatDomain"\?\)/,
    );
    expect((error as ProtoJsonError).path).toBe("spec.searchSpace.parameters[0].floatDomian");
  });

  it("rejects unknown enum names and malformed values, naming the field", () => {
    expect(() => studyFromJson({ spec: { objectives: [{ direction: "DOWN" }] } })).toThrow(/hpod\.v1\.Direction.*"DOWN"/);
    expect(() => studyFromJson({ spec: { maxTrials: "lots" } })).toThrow(/max_trials/);
    expect(() => studyFromJson({ spec: { maxTrials: 1.5 } })).toThrow(/max_trials/);
    expect(() =>
      studyFromJson({ spec: { searchSpace: { parameters: [{ name: "p", floatDomain: {}, intDomain: {} }] } } }),
    ).toThrow(/oneof.*float_domain.*int_domain/);
  });

  it("rejects what is not an object, bad YAML and empty input", () => {
    expect(() => studyFromJson([1, 2])).toThrow(/expected a JSON object/);
    expect(() => parseStudySpec("name: [unclosed", "s.yaml")).toThrow(/^s\.yaml: not valid YAML\/JSON/);
    expect(() => parseStudySpec("", "e.yaml")).toThrow("e.yaml: empty spec");
    expect(() => parseStudySpec("name: a\nname: b\n", "d.yaml")).toThrow(/d\.yaml/);
  });

  it("writes canonical proto3 JSON (enum names, int64 strings, RFC 3339 times)", () => {
    const trial = Trial.fromPartial({
      study: "s",
      id: 3,
      state: TrialState.TRIAL_STATE_COMPLETE,
      params: {
        n: { kind: { $case: "intValue", value: 4 } },
        s: { kind: { $case: "lrScheduleValue", value: { kind: LrScheduleKind.LR_SCHEDULE_KIND_STEP, values: { gamma: 0.5 } } } },
      },
      finalMeasurement: { values: [0.25] },
      startTime: new Date("2024-01-02T03:04:05.678Z"),
    });
    const json = messageToJson("hpod.v1.Trial", Trial, trial);
    expect(json).toEqual({
      study: "s",
      id: "3",
      state: "TRIAL_STATE_COMPLETE",
      params: {
        n: { intValue: "4" },
        s: { lrScheduleValue: { kind: "LR_SCHEDULE_KIND_STEP", values: { gamma: 0.5 } } },
      },
      finalMeasurement: { values: [0.25] },
      startTime: "2024-01-02T03:04:05.678Z",
    });
    expect(messageFromJson("hpod.v1.Trial", Trial, json)).toEqual(trial);
  });
});
