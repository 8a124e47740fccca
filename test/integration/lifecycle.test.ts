/**
 * Trial lifecycle against the real daemon over gRPC on loopback, with a real
 * LevelDB directory: dense ids, worker idempotency, leases, queue order,
 * budgets, NaN handling, finished-trial protection, best trials, watching.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrialEventKind, type WatchStudyResponse } from "../../client/gen/hpod/v1/hpod_service.js";
import { Direction, StudyState } from "../../client/gen/hpod/v1/study.js";
import { Decision, TrialSource, TrialState } from "../../client/gen/hpod/v1/trial.js";
import { startDaemon, type Daemon } from "../helpers/daemon.js";
import { codeOf, connect, type TestClient } from "../helpers/grpc-client.js";
import { catParam, floatParam, int, num, plain, report, str, study } from "../helpers/specs.js";

let d: Daemon;
let c: TestClient;

beforeAll(async () => {
  d = await startDaemon({ args: ["--lease-sweep-ms", "100"] });
  c = connect(d.address);
});

afterAll(async () => {
  c.close();
  expect(await d.stop()).toBe(0);
});

describe("studies", () => {
  it("creates, gets, refuses duplicates and loads identical specs with load_if_exists", async () => {
    const res = await c.createStudy({ study: study("s-create"), loadIfExists: false });
    expect(res.created).toBe(true);
    expect(res.study?.state).toBe(StudyState.STUDY_STATE_ACTIVE);
    expect(res.study?.namespace).toBe("default");
    expect(res.study?.resolvedAlgorithm).toBe("random");
    const dup = await codeOf(c.createStudy({ study: study("s-create"), loadIfExists: false }));
    expect(dup.code).toBe(grpc.status.ALREADY_EXISTS);
    const again = await c.createStudy({ study: study("s-create"), loadIfExists: true });
    expect(again.created).toBe(false);
    const other = await codeOf(c.createStudy({ study: study("s-create", { seed: 99 }), loadIfExists: true }));
    expect(other.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(other.details).toContain("study.spec");
    const got = await c.getStudy({ name: "s-create" });
    expect(got.study?.spec?.searchSpace?.parameters.map((p) => p.name)).toEqual(["x", "n"]);
  });

  it("pages through studies with real page tokens", async () => {
    for (let i = 0; i < 7; i++) await c.createStudy({ study: study(`page-${i}`), loadIfExists: false });
    const names: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const res = await c.listStudies({ pageSize: 3, pageToken: token, namespace: "" });
      expect(res.studies.length).toBeLessThanOrEqual(3);
      names.push(...res.studies.map((s) => s.name));
      token = res.nextPageToken;
      pages++;
    } while (token !== "");
    const pageNames = names.filter((n) => n.startsWith("page-"));
    expect(pageNames).toEqual(["page-0", "page-1", "page-2", "page-3", "page-4", "page-5", "page-6"]);
    expect(new Set(names).size).toBe(names.length);
    expect(pages).toBeGreaterThanOrEqual(3);
    const bad = await codeOf(c.listStudies({ pageSize: 3, pageToken: "garbage", namespace: "" }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toContain("page_token");
  });

  it("pauses, resumes and stops a study", async () => {
    await c.createStudy({ study: study("s-state"), loadIfExists: false });
    await c.updateStudy({ name: "s-state", state: StudyState.STUDY_STATE_PAUSED });
    const paused = await c.suggest({ study: "s-state", count: 1, workerId: "w" });
    expect(paused.trials).toEqual([]);
    expect(paused.studyDone).toBe(false);
    expect(paused.retryAfter?.seconds).toBeGreaterThan(0);
    await c.updateStudy({ name: "s-state", state: StudyState.STUDY_STATE_ACTIVE });
    expect((await c.suggest({ study: "s-state", count: 1, workerId: "w" })).trials).toHaveLength(1);
    const stopped = await c.updateStudy({ name: "s-state", state: StudyState.STUDY_STATE_STOPPED });
    expect(stopped.study?.state).toBe(StudyState.STUDY_STATE_STOPPED);
    const done = await c.suggest({ study: "s-state", count: 1, workerId: "w2" });
    expect(done.studyDone).toBe(true);
    const resume = await codeOf(c.updateStudy({ name: "s-state", state: StudyState.STUDY_STATE_ACTIVE }));
    expect(resume.code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it("deletes a study and everything in it", async () => {
    await c.createStudy({ study: study("s-del"), loadIfExists: false });
    const t = (await c.suggest({ study: "s-del", count: 1, workerId: "" })).trials[0]!;
    await c.report(report("s-del", t.id, [1], { final: true }));
    await c.deleteStudy({ name: "s-del" });
    expect((await codeOf(c.getStudy({ name: "s-del" }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await codeOf(c.deleteStudy({ name: "s-del" }))).code).toBe(grpc.status.NOT_FOUND);
    // The name can be reused and starts from trial 0 with nothing left over.
    await c.createStudy({ study: study("s-del"), loadIfExists: false });
    const fresh = (await c.suggest({ study: "s-del", count: 1, workerId: "" })).trials[0]!;
    expect(fresh.id).toBe(0);
    expect((await c.listTrials({ study: "s-del", pageSize: 0, pageToken: "", states: [], omitIntermediate: false })).trials).toHaveLength(1);
  });
});

describe("trials", () => {
  it("gives dense ids and returns a worker's RUNNING trial again", async () => {
    await c.createStudy({ study: study("t-idem"), loadIfExists: false });
    const a = await c.suggest({ study: "t-idem", count: 1, workerId: "gpu-0" });
    const again = await c.suggest({ study: "t-idem", count: 1, workerId: "gpu-0" });
    expect(again.trials.map((t) => t.id)).toEqual(a.trials.map((t) => t.id));
    expect(again.trials[0]?.params).toEqual(a.trials[0]?.params);
    const b = await c.suggest({ study: "t-idem", count: 2, workerId: "gpu-1" });
    expect(b.trials.map((t) => t.id)).toEqual([1, 2]);
    await c.report(report("t-idem", 0, [3], { final: true, workerId: "gpu-0" }));
    const next = await c.suggest({ study: "t-idem", count: 1, workerId: "gpu-0" });
    expect(next.trials[0]?.id).toBe(3);
    const wrong = await codeOf(c.report(report("t-idem", 1, [1], { final: true, workerId: "gpu-0" })));
    expect(wrong.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(wrong.details).toContain("worker_id");
  });

  it("serves enqueued trials first, with the user's parameters", async () => {
    await c.createStudy({ study: study("t-enq"), loadIfExists: false });
    const e = await c.enqueueTrial({ study: "t-enq", params: { x: num(1.5), n: int(4) }, userAttrs: { why: "baseline" } });
    expect(e.trial?.state).toBe(TrialState.TRIAL_STATE_QUEUED);
    expect(e.trial?.source).toBe(TrialSource.TRIAL_SOURCE_ENQUEUED);
    const s = await c.suggest({ study: "t-enq", count: 1, workerId: "w" });
    expect(s.trials[0]?.id).toBe(e.trial?.id);
    expect(plain(s.trials[0]?.params.x)).toBe(1.5);
    expect(plain(s.trials[0]?.params.n)).toBe(4);
    expect(s.trials[0]?.userAttrs).toEqual({ why: "baseline" });
    const queuedReport = await c.enqueueTrial({ study: "t-enq", params: { x: num(0), n: int(1) }, userAttrs: {} });
    const early = await codeOf(c.report(report("t-enq", queuedReport.trial!.id, [1], { final: true })));
    expect(early.code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it("stops handing out trials at max_trials and completes the study", async () => {
    await c.createStudy({ study: study("t-max", { maxTrials: 3 }), loadIfExists: false });
    const got = await c.suggest({ study: "t-max", count: 5, workerId: "" });
    expect(got.trials).toHaveLength(3);
    const none = await c.suggest({ study: "t-max", count: 1, workerId: "" });
    expect(none.trials).toHaveLength(0);
    expect(none.studyDone).toBe(true);
    for (const t of got.trials) await c.report(report("t-max", t.id, [t.id], { final: true }));
    const s = await c.getStudy({ name: "t-max" });
    expect(s.study?.state).toBe(StudyState.STUDY_STATE_COMPLETED);
    expect(s.study?.trialCounts?.complete).toBe(3);
    // Raising the budget re-opens it.
    const raised = await c.updateStudy({ name: "t-max", maxTrials: 4 });
    expect(raised.study?.state).toBe(StudyState.STUDY_STATE_ACTIVE);
    expect((await c.suggest({ study: "t-max", count: 1, workerId: "" })).trials[0]?.id).toBe(3);
  });

  it("marks NaN and Inf objective values FAILED with a reason, and keeps them", async () => {
    await c.createStudy({ study: study("t-nan"), loadIfExists: false });
    const [a, b] = (await c.suggest({ study: "t-nan", count: 2, workerId: "" })).trials;
    const ra = await c.report(report("t-nan", a!.id, [Number.NaN], { final: true }));
    expect(ra.trialState).toBe(TrialState.TRIAL_STATE_FAILED);
    const rb = await c.report(report("t-nan", b!.id, [Number.POSITIVE_INFINITY], { final: true }));
    expect(rb.trialState).toBe(TrialState.TRIAL_STATE_FAILED);
    const ta = (await c.getTrial({ study: "t-nan", trialId: a!.id })).trial!;
    expect(ta.stateReason).toContain("NaN");
    expect(Number.isNaN(ta.finalMeasurement?.values[0])).toBe(true);
    expect((await c.getBestTrials({ study: "t-nan" })).trials).toEqual([]);
  });

  it("treats repeated reports as no-ops and refuses to rewrite finished trials", async () => {
    await c.createStudy({ study: study("t-rep"), loadIfExists: false });
    const t = (await c.suggest({ study: "t-rep", count: 1, workerId: "w" })).trials[0]!;
    const r1 = await c.report(report("t-rep", t.id, [5], { step: 1 }));
    expect(r1.decision).toBe(Decision.DECISION_CONTINUE);
    await c.report(report("t-rep", t.id, [7], { step: 1 }));
    await c.report(report("t-rep", t.id, [4], { step: 2 }));
    await c.report(report("t-rep", t.id, [3], { final: true }));
    await c.report(report("t-rep", t.id, [3], { final: true }));
    const got = (await c.getTrial({ study: "t-rep", trialId: t.id })).trial!;
    expect(got.intermediate.map((m) => [m.step, m.values[0]])).toEqual([
      [1, 5],
      [2, 4],
    ]);
    expect(got.finalMeasurement?.values).toEqual([3]);
    const rewrite = await codeOf(c.report(report("t-rep", t.id, [1], { final: true })));
    expect(rewrite.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(rewrite.details).toContain("already COMPLETE");
    const late = await codeOf(c.report(report("t-rep", t.id, [1], { step: 9 })));
    expect(late.code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it("records a worker's failure report", async () => {
    await c.createStudy({ study: study("t-fail"), loadIfExists: false });
    const t = (await c.suggest({ study: "t-fail", count: 1, workerId: "w" })).trials[0]!;
    const r = await c.report(report("t-fail", t.id, [], { failed: true, failureReason: "CUDA out of memory" }));
    expect(r.trialState).toBe(TrialState.TRIAL_STATE_FAILED);
    expect((await c.getTrial({ study: "t-fail", trialId: t.id })).trial?.stateReason).toContain("CUDA out of memory");
  });

  it("fails stale trials after the heartbeat timeout and retries their parameters", async () => {
    await c.createStudy({ study: study("t-lease", { heartbeatTimeoutSeconds: 1, maxStaleRetries: 1 }), loadIfExists: false });
    const kept = (await c.suggest({ study: "t-lease", count: 1, workerId: "alive" })).trials[0]!;
    const lost = (await c.suggest({ study: "t-lease", count: 1, workerId: "dead" })).trials[0]!;
    const deadline = Date.now() + 1800;
    while (Date.now() < deadline) {
      await c.heartbeat({ study: "t-lease", trialId: kept.id, workerId: "alive" });
      await new Promise((r) => setTimeout(r, 200));
    }
    const stale = (await c.getTrial({ study: "t-lease", trialId: lost.id })).trial!;
    expect(stale.state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(stale.stateReason).toContain("stale");
    expect((await c.getTrial({ study: "t-lease", trialId: kept.id })).trial?.state).toBe(TrialState.TRIAL_STATE_RUNNING);
    const queued = await c.listTrials({ study: "t-lease", pageSize: 10, pageToken: "", states: [TrialState.TRIAL_STATE_QUEUED], omitIntermediate: false });
    expect(queued.trials).toHaveLength(1);
    expect(queued.trials[0]?.retryOf).toBe(lost.id);
    expect(queued.trials[0]?.source).toBe(TrialSource.TRIAL_SOURCE_RETRY);
    expect(queued.trials[0]?.params).toEqual(lost.params);
    const lateReport = await codeOf(c.report(report("t-lease", lost.id, [1], { final: true, workerId: "dead" })));
    expect(lateReport.code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it("imports finished trials with AddTrial", async () => {
    await c.createStudy({ study: study("t-add"), loadIfExists: false });
    const added = await c.addTrial({
      study: "t-add",
      params: { x: num(0.5), n: int(2) },
      state: TrialState.TRIAL_STATE_COMPLETE,
      intermediate: [{ step: 0, values: [2], constraintValues: [], metrics: {} }],
      finalMeasurement: { values: [0.25], constraintValues: [], metrics: { acc: 0.9 } },
      stateReason: "",
      userAttrs: {},
    });
    expect(added.trial?.source).toBe(TrialSource.TRIAL_SOURCE_ADDED);
    const best = await c.getBestTrials({ study: "t-add" });
    expect(best.trials.map((t) => t.id)).toEqual([added.trial!.id]);
    expect(best.trials[0]?.finalMeasurement?.metrics).toEqual({ acc: 0.9 });
  });

  it("pages trials with a state filter", async () => {
    await c.createStudy({ study: study("t-page"), loadIfExists: false });
    const ts = (await c.suggest({ study: "t-page", count: 10, workerId: "" })).trials;
    for (const t of ts.filter((t) => t.id % 2 === 0)) await c.report(report("t-page", t.id, [t.id], { final: true }));
    const ids: number[] = [];
    let token = "";
    do {
      const page = await c.listTrials({ study: "t-page", pageSize: 2, pageToken: token, states: [TrialState.TRIAL_STATE_COMPLETE], omitIntermediate: true });
      ids.push(...page.trials.map((t) => t.id));
      token = page.nextPageToken;
    } while (token);
    expect(ids).toEqual([0, 2, 4, 6, 8]);
    const mismatched = await codeOf(
      c.listTrials({
        study: "t-page",
        pageSize: 2,
        pageToken: (await c.listTrials({ study: "t-page", pageSize: 2, pageToken: "", states: [], omitIntermediate: false })).nextPageToken,
        states: [TrialState.TRIAL_STATE_RUNNING],
        omitIntermediate: false,
      }),
    );
    expect(mismatched.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe("best trials", () => {
  it("returns the best feasible trial for one objective", async () => {
    await c.createStudy({ study: study("b-one", { directions: [Direction.DIRECTION_MAXIMIZE], constraints: ["mem"] }), loadIfExists: false });
    const ts = (await c.suggest({ study: "b-one", count: 3, workerId: "" })).trials;
    await c.report(report("b-one", ts[0]!.id, [10], { final: true, constraintValues: [1] }));
    await c.report(report("b-one", ts[1]!.id, [5], { final: true, constraintValues: [0] }));
    await c.report(report("b-one", ts[2]!.id, [3], { final: true, constraintValues: [-1] }));
    const best = await c.getBestTrials({ study: "b-one" });
    expect(best.trials.map((t) => t.id)).toEqual([ts[1]!.id]);
  });

  it("returns the Pareto set for several objectives", async () => {
    const dirs = [Direction.DIRECTION_MINIMIZE, Direction.DIRECTION_MAXIMIZE];
    await c.createStudy({ study: study("b-pareto", { directions: dirs }), loadIfExists: false });
    const points = [
      [1, 1],
      [2, 3],
      [2, 2],
      [3, 3],
      [0.5, 0.5],
    ];
    const ts = (await c.suggest({ study: "b-pareto", count: points.length, workerId: "" })).trials;
    for (let i = 0; i < points.length; i++) await c.report(report("b-pareto", ts[i]!.id, points[i]!, { final: true }));
    const best = await c.getBestTrials({ study: "b-pareto" });
    // [2,2] is dominated by [2,3]; [3,3] by [2,3].
    expect(best.trials.map((t) => t.id).sort()).toEqual([ts[0]!.id, ts[1]!.id, ts[4]!.id].sort());
  });
});

describe("watch", () => {
  it("streams existing trials, then changes as they become durable", async () => {
    await c.createStudy({ study: study("w-1"), loadIfExists: false });
    const first = (await c.suggest({ study: "w-1", count: 1, workerId: "" })).trials[0]!;
    const events: WatchStudyResponse[] = [];
    const stream = c.raw.watchStudy({ study: "w-1", includeExisting: true });
    stream.on("data", (e: WatchStudyResponse) => events.push(e));
    stream.on("error", () => undefined);
    await waitFor(() => events.length >= 1);
    expect(events[0]?.kind).toBe(TrialEventKind.TRIAL_EVENT_KIND_EXISTING);
    await c.report(report("w-1", first.id, [1], { step: 0 }));
    await c.report(report("w-1", first.id, [0.5], { final: true }));
    await c.updateStudy({ name: "w-1", state: StudyState.STUDY_STATE_PAUSED });
    await waitFor(() => events.length >= 4);
    expect(events.slice(1).map((e) => e.kind)).toEqual([
      TrialEventKind.TRIAL_EVENT_KIND_REPORTED,
      TrialEventKind.TRIAL_EVENT_KIND_FINISHED,
      TrialEventKind.TRIAL_EVENT_KIND_STUDY_UPDATED,
    ]);
    expect(events[2]?.trial?.state).toBe(TrialState.TRIAL_STATE_COMPLETE);
    stream.cancel();
    const missing = c.raw.watchStudy({ study: "nope", includeExisting: false });
    const code = await new Promise<number>((res) => missing.on("error", (e: grpc.ServiceError) => res(e.code)));
    expect(code).toBe(grpc.status.NOT_FOUND);
  });
});

describe("conditional and categorical spaces", () => {
  it("only hands out active parameters", async () => {
    const params = [
      catParam("opt", ["sgd", "adam"]),
      { ...floatParam("momentum", 0, 0.99), condition: { parent: "opt", values: [str("sgd")] } },
      { ...floatParam("beta1", 0.8, 0.999), condition: { parent: "opt", values: [str("adam")] } },
    ];
    await c.createStudy({ study: study("c-cond", { params }), loadIfExists: false });
    const ts = (await c.suggest({ study: "c-cond", count: 30, workerId: "" })).trials;
    for (const t of ts) {
      const opt = plain(t.params.opt);
      expect(Object.keys(t.params).sort()).toEqual(opt === "sgd" ? ["momentum", "opt"] : ["beta1", "opt"]);
    }
    expect(new Set(ts.map((t) => plain(t.params.opt)))).toEqual(new Set(["sgd", "adam"]));
  });
});

describe("grid", () => {
  it("hands parallel workers distinct points and completes when the grid is exhausted", async () => {
    const params = [catParam("act", ["relu", "tanh", "gelu"]), { ...floatParam("dropout", 0, 0.5, { step: 0.25 }) }];
    await c.createStudy({ study: study("g-1", { params, algorithm: "grid" }), loadIfExists: false });
    const seen = new Set<string>();
    const workers = ["a", "b", "c", "d"];
    const held = await Promise.all(workers.map((w) => c.suggest({ study: "g-1", count: 2, workerId: w })));
    const running = held.flatMap((h) => h.trials);
    for (const t of running) seen.add(JSON.stringify([plain(t.params.act), plain(t.params.dropout)]));
    expect(running).toHaveLength(8);
    expect(seen.size).toBe(8);
    // One point left: the next worker gets it, then there is nothing new while trials run.
    const last = await c.suggest({ study: "g-1", count: 2, workerId: "e" });
    expect(last.trials).toHaveLength(1);
    seen.add(JSON.stringify([plain(last.trials[0]!.params.act), plain(last.trials[0]!.params.dropout)]));
    expect(seen.size).toBe(9);
    const wait = await c.suggest({ study: "g-1", count: 1, workerId: "f" });
    expect(wait.trials).toHaveLength(0);
    expect(wait.studyDone).toBe(false);
    expect(wait.retryAfter?.seconds).toBeGreaterThan(0);
    for (const t of [...running, ...last.trials]) await c.report(report("g-1", t.id, [t.id], { final: true }));
    const done = await c.suggest({ study: "g-1", count: 1, workerId: "f" });
    expect(done.studyDone).toBe(true);
    expect((await c.getStudy({ name: "g-1" })).study?.state).toBe(StudyState.STUDY_STATE_COMPLETED);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
