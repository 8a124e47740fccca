/**
 * Bad input, RPC by RPC: each gets a precise status code and a message that
 * names the offending field; nothing crashes and no study changes.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Study } from "../../client/gen/hpod/v1/study.js";
import { Direction, PrunerSpec, StudyState } from "../../client/gen/hpod/v1/study.js";
import type { Parameter } from "../../client/gen/hpod/v1/search_space.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { startDaemon, type Daemon } from "../helpers/daemon.js";
import { codeOf, connect, type TestClient } from "../helpers/grpc-client.js";
import { catParam, floatParam, int, intParam, num, report, str, study } from "../helpers/specs.js";

let d: Daemon;
let c: TestClient;
const INVALID = grpc.status.INVALID_ARGUMENT;

beforeAll(async () => {
  d = await startDaemon({ args: ["--max-message-bytes", "65536"] });
  c = connect(d.address);
  await c.createStudy({ study: study("v"), loadIfExists: false });
});

afterAll(async () => {
  // Every bad request above must have left the daemon up and the study intact.
  const s = await c.getStudy({ name: "v" });
  expect(s.study?.name).toBe("v");
  c.close();
  expect(await d.stop()).toBe(0);
});

async function expectInvalidStudy(s: Study, field: string, code: grpc.status = INVALID): Promise<void> {
  const r = await codeOf(c.createStudy({ study: s, loadIfExists: false }));
  expect(r.code, r.details).toBe(code);
  expect(r.details).toContain(field);
  // Nothing was created (an unnamable study cannot even be looked up).
  expect([grpc.status.NOT_FOUND, INVALID]).toContain((await codeOf(c.getStudy({ name: s.name }))).code);
}

const withParams = (name: string, params: Parameter[]): Study => study(name, { params });

describe("CreateStudy", () => {
  it("rejects bad study names and missing parts", async () => {
    await expectInvalidStudy(study(""), "study.name");
    await expectInvalidStudy(study("has space"), "study.name");
    await expectInvalidStudy(study("x".repeat(200)), "study.name");
    await expectInvalidStudy({ ...study("nospec"), spec: undefined }, "study.spec");
    const r = await codeOf(c.createStudy({ study: undefined, loadIfExists: false }));
    expect(r.code).toBe(INVALID);
    expect(r.details).toContain("study");
  });

  it("rejects bad search spaces naming the parameter field", async () => {
    await expectInvalidStudy(withParams("lowhigh", [floatParam("x", 2, 1)]), "study.spec.search_space.parameters[0].float_domain.low");
    await expectInvalidStudy(withParams("logzero", [floatParam("x", 0, 1, { log: true })]), "parameters[0].float_domain.low");
    await expectInvalidStudy(withParams("intlog", [intParam("n", 0, 5, { log: true })]), "parameters[0].int_domain.low");
    await expectInvalidStudy(withParams("badstep", [floatParam("x", 0, 1, { step: 0.3 })]), "parameters[0].float_domain.step");
    await expectInvalidStudy(withParams("negstep", [intParam("n", 0, 10, { step: -1 })]), "parameters[0].int_domain.step");
    await expectInvalidStudy(withParams("nan", [floatParam("x", Number.NaN, 1)]), "parameters[0].float_domain.low");
    await expectInvalidStudy(withParams("dup", [floatParam("x", 0, 1), floatParam("x", 0, 2)]), "parameters[1].name");
    await expectInvalidStudy(withParams("emptyname", [floatParam("", 0, 1)]), "parameters[0].name");
    await expectInvalidStudy(withParams("longname", [floatParam("p".repeat(129), 0, 1)]), "parameters[0].name");
    await expectInvalidStudy(withParams("nodomain", [{ name: "x", description: "", domain: undefined }]), "parameters[0]");
    await expectInvalidStudy(
      withParams("nochoices", [{ name: "c", description: "", domain: { $case: "categoricalDomain", value: { choices: [] } } }]),
      "parameters[0].categorical_domain.choices",
    );
    await expectInvalidStudy(
      withParams("mixed", [{ name: "c", description: "", domain: { $case: "categoricalDomain", value: { choices: [str("a"), num(1)] } } }]),
      "parameters[0].categorical_domain.choices",
    );
    await expectInvalidStudy(
      withParams("dupchoice", [{ name: "c", description: "", domain: { $case: "categoricalDomain", value: { choices: [str("a"), str("a")] } } }]),
      "parameters[0].categorical_domain.choices[1]",
    );
  });

  it("rejects conditions on unknown parents and on values the parent cannot take", async () => {
    await expectInvalidStudy(
      withParams("unknownparent", [{ ...floatParam("x", 0, 1), condition: { parent: "ghost", values: [str("a")] } }]),
      "parameters[0].condition.parent",
    );
    await expectInvalidStudy(
      withParams("childfirst", [{ ...floatParam("x", 0, 1), condition: { parent: "opt", values: [str("a")] } }, catParam("opt", ["a"])]),
      "parameters[0].condition.parent",
    );
    await expectInvalidStudy(
      withParams("badvalue", [catParam("opt", ["a", "b"]), { ...floatParam("x", 0, 1), condition: { parent: "opt", values: [str("z")] } }]),
      "parameters[1].condition.values[0]",
    );
    await expectInvalidStudy(
      withParams("floatparent", [floatParam("f", 0, 1), { ...floatParam("x", 0, 1), condition: { parent: "f", values: [num(0.5)] } }]),
      "parameters[1].condition.parent",
    );
  });

  it("rejects bad objectives, algorithms and budgets", async () => {
    await expectInvalidStudy(study("noobj", { directions: [] }), "study.spec.objectives");
    await expectInvalidStudy(study("unspecdir", { directions: [Direction.DIRECTION_UNSPECIFIED] }), "study.spec.objectives[0].direction");
    await expectInvalidStudy(study("algo", { algorithm: "simulated_annealing" }), "study.spec.algorithm.name");
    await expectInvalidStudy(study("budget", { maxTrials: -1 }), "study.spec.max_trials");
    await expectInvalidStudy(study("retries", { maxStaleRetries: 1000 }), "study.spec.max_stale_retries");
    await expectInvalidStudy(study("grid-continuous", { algorithm: "grid" }), "grid");
    const pr = study("pruner");
    pr.spec!.pruner = PrunerSpec.fromPartial({ name: "oracle" });
    await expectInvalidStudy(pr, "study.spec.pruner.name");
    // Pruning looks at one objective: a named pruner is refused for several (none and the default are not).
    const two = [Direction.DIRECTION_MINIMIZE, Direction.DIRECTION_MAXIMIZE];
    await expectInvalidStudy(study("multi-median", { directions: two, pruner: "median" }), "study.spec.pruner.name");
    await c.createStudy({ study: study("multi-none", { directions: two, pruner: "none" }), loadIfExists: false });
    await c.createStudy({ study: study("multi-default", { directions: two, pruner: "" }), loadIfExists: false });
  });
});

describe("study RPCs", () => {
  it("GetStudy / UpdateStudy / DeleteStudy / ListStudies", async () => {
    expect((await codeOf(c.getStudy({ name: "" }))).details).toContain("name");
    expect((await codeOf(c.getStudy({ name: "" }))).code).toBe(INVALID);
    expect((await codeOf(c.getStudy({ name: "absent" }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await codeOf(c.updateStudy({ name: "v", state: 42 as StudyState }))).details).toContain("state");
    expect((await codeOf(c.updateStudy({ name: "v", state: StudyState.STUDY_STATE_COMPLETED }))).code).toBe(INVALID);
    expect((await codeOf(c.updateStudy({ name: "v", maxTrials: -5 }))).details).toContain("max_trials");
    expect((await codeOf(c.updateStudy({ name: "absent", state: StudyState.STUDY_STATE_PAUSED }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await codeOf(c.deleteStudy({ name: "bad name" }))).code).toBe(INVALID);
    const big = await codeOf(c.listStudies({ pageSize: 5000, pageToken: "", namespace: "" }));
    expect(big.code).toBe(INVALID);
    expect(big.details).toContain("page_size");
    expect((await codeOf(c.listStudies({ pageSize: -1, pageToken: "", namespace: "" }))).code).toBe(INVALID);
  });
});

describe("trial RPCs", () => {
  it("Suggest", async () => {
    expect((await codeOf(c.suggest({ study: "absent", count: 1, workerId: "" }))).code).toBe(grpc.status.NOT_FOUND);
    const many = await codeOf(c.suggest({ study: "v", count: 1000, workerId: "" }));
    expect(many.code).toBe(INVALID);
    expect(many.details).toContain("count");
    expect((await codeOf(c.suggest({ study: "v", count: -1, workerId: "" }))).details).toContain("count");
    expect((await codeOf(c.suggest({ study: "v", count: 1, workerId: "w".repeat(1000) }))).details).toContain("worker_id");
  });

  it("Report", async () => {
    const t = (await c.suggest({ study: "v", count: 1, workerId: "rep" })).trials[0]!;
    const cases: Array<[ReturnType<typeof report>, grpc.status, string]> = [
      [report("absent", 0, [1], { final: true }), grpc.status.NOT_FOUND, "study"],
      [report("v", 9999, [1], { final: true }), grpc.status.NOT_FOUND, "trial_id"],
      [report("v", -1, [1], { final: true }), INVALID, "trial_id"],
      [report("v", t.id, [1, 2], { final: true }), INVALID, "values"],
      [report("v", t.id, [], { final: true }), INVALID, "values"],
      [report("v", t.id, [1]), INVALID, "step"],
      [report("v", t.id, [1], { step: -3 }), INVALID, "step"],
      [report("v", t.id, [1], { final: true, failed: true }), INVALID, "failed"],
      [report("v", t.id, [1], { final: true, constraintValues: [1] }), INVALID, "constraint_values"],
      [report("v", t.id, [1], { step: 1, metrics: { "": 1 } }), INVALID, "metrics"],
    ];
    for (const [req, code, field] of cases) {
      const r = await codeOf(c.report(req));
      expect(r.code, `${JSON.stringify(req)} -> ${r.details}`).toBe(code);
      expect(r.details).toContain(field);
    }
    const after = (await c.getTrial({ study: "v", trialId: t.id })).trial!;
    expect(after.state).toBe(TrialState.TRIAL_STATE_RUNNING);
    expect(after.intermediate).toEqual([]);
  });

  it("Heartbeat / GetTrial / ListTrials / GetBestTrials", async () => {
    expect((await codeOf(c.heartbeat({ study: "v", trialId: 12345, workerId: "" }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await codeOf(c.getTrial({ study: "v", trialId: -2 }))).details).toContain("trial_id");
    expect((await codeOf(c.getTrial({ study: "", trialId: 0 }))).details).toContain("study");
    const st = await codeOf(c.listTrials({ study: "v", pageSize: 10, pageToken: "", states: [77 as TrialState], omitIntermediate: false }));
    expect(st.code).toBe(INVALID);
    expect(st.details).toContain("states[0]");
    expect((await codeOf(c.getBestTrials({ study: "absent" }))).code).toBe(grpc.status.NOT_FOUND);
  });

  it("EnqueueTrial checks names, types, ranges and conditions of parameters", async () => {
    const cases: Array<[Record<string, ReturnType<typeof num>>, string]> = [
      [{ x: num(1) }, 'params["n"]'],
      [{ x: num(1), n: int(3), extra: num(1) }, 'params["extra"]'],
      [{ x: num(99), n: int(3) }, 'params["x"]'],
      [{ x: str("one"), n: int(3) }, 'params["x"]'],
      [{ x: num(1), n: num(2.5) }, 'params["n"]'],
      [{ x: num(1), n: { kind: undefined } }, 'params["n"]'],
    ];
    for (const [params, field] of cases) {
      const r = await codeOf(c.enqueueTrial({ study: "v", params, userAttrs: {} }));
      expect(r.code, r.details).toBe(INVALID);
      expect(r.details).toContain(field);
    }
  });

  it("AddTrial checks state and measurements", async () => {
    const params = { x: num(1), n: int(3) };
    const base = { study: "v", params, intermediate: [], stateReason: "", userAttrs: {} };
    expect((await codeOf(c.addTrial({ ...base, state: TrialState.TRIAL_STATE_UNSPECIFIED }))).details).toContain("state");
    expect((await codeOf(c.addTrial({ ...base, state: TrialState.TRIAL_STATE_RUNNING }))).details).toContain("state");
    expect((await codeOf(c.addTrial({ ...base, state: TrialState.TRIAL_STATE_COMPLETE }))).details).toContain("final_measurement");
    const nan = await codeOf(
      c.addTrial({ ...base, state: TrialState.TRIAL_STATE_COMPLETE, finalMeasurement: { values: [Number.NaN], constraintValues: [], metrics: {} } }),
    );
    expect(nan.details).toContain("final_measurement.values");
    const dupStep = await codeOf(
      c.addTrial({
        ...base,
        state: TrialState.TRIAL_STATE_PRUNED,
        intermediate: [
          { step: 1, values: [1], constraintValues: [], metrics: {} },
          { step: 1, values: [2], constraintValues: [], metrics: {} },
        ],
      }),
    );
    expect(dupStep.details).toContain("intermediate[1].step");
  });
});

describe("transport-level input", () => {
  it("answers raw invalid protobuf bytes with INVALID_ARGUMENT", async () => {
    const raw = new grpc.Client(d.address, grpc.credentials.createInsecure());
    const call = (path: string, bytes: Buffer) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        raw.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          (err) => resolve(err),
        );
      });
    const truncated = Buffer.from([0x0a, 0xff, 0xff, 0x01]);
    for (const m of ["CreateStudy", "Suggest", "Report", "GetTrial", "ListTrials", "EnqueueTrial"]) {
      const err = await call(`/hpod.v1.HpodService/${m}`, truncated);
      expect(err?.code, `${m}: ${err?.details}`).toBe(INVALID);
    }
    // trial_id (field 2) = 2^63 - 1 does not fit a JS number safely.
    const hugeId = Buffer.from([0x0a, 0x01, 0x76, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    const err = await call("/hpod.v1.HpodService/GetTrial", hugeId);
    expect(err?.code).toBe(INVALID);
    raw.close();
  });

  it("answers over-size messages with RESOURCE_EXHAUSTED", async () => {
    const r = await codeOf(c.enqueueTrial({ study: "v", params: { x: num(1), n: int(1) }, userAttrs: { big: "x".repeat(100_000) } }));
    expect(r.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });
});

describe("error details", () => {
  // Fuzzing regression: the details quote the bad key; a 100 KB quote did not fit in the HTTP/2 trailers and the
  // call hung until the client's deadline instead of answering INVALID_ARGUMENT.
  it("answers a request quoting a 100 KB key promptly, with the details cut", async () => {
    const big = await startDaemon();
    const bc = connect(big.address);
    try {
      await bc.createStudy({ study: study("huge-key", { params: [intParam("n", 1, 5)] }), loadIfExists: false });
      const key = "x".repeat(100_000);
      const started = Date.now();
      const r = await codeOf(bc.enqueueTrial({ study: "huge-key", params: { n: int(2), [key]: int(2) }, userAttrs: {} }));
      expect(r.code, r.details).toBe(INVALID);
      expect(r.details).toContain('params["xxx');
      expect(r.details.length).toBeLessThan(2000);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      bc.close();
      await big.stop();
    }
  });
});
