/**
 * optimize() against a small in-memory HpodService served by a real grpc-js
 * server in this process: the worker-loop rules (prune, failure, NaN,
 * budget, retry_after, abort), independent of the real daemon.
 */
import { Metadata, Server, ServerCredentials, status, type ServerErrorResponse, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { HpodServiceService, type HpodServiceServer, type ReportRequest } from "../../client/gen/hpod/v1/hpod_service.js";
import { StudyState } from "../../client/gen/hpod/v1/study.js";
import { Decision, TrialState, type Trial } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { optimize } from "../../client/optimize.js";
import { TrialPruned } from "../../client/trial-pruned.js";

function statusError(code: status, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/** The fake daemon's state, reset before each test. */
interface Fake {
  maxTrials: number;
  trials: Trial[];
  reports: ReportRequest[];
  suggests: string[];
  heartbeats: number;
  /** Answer "nothing now, retry after 30 ms" this many times first. */
  idleAnswers: number;
  /** Prune a trial whose intermediate value exceeds this. */
  pruneAbove: number;
}
let fake: Fake;

function newTrial(id: number, workerId: string): Trial {
  return {
    study: "s",
    id,
    state: TrialState.TRIAL_STATE_RUNNING,
    params: { x: { kind: { $case: "numberValue", value: id / 10 } }, n: { kind: { $case: "intValue", value: id } } },
    intermediate: [],
    workerId,
    stateReason: "",
    source: 1,
    decision: Decision.DECISION_UNSPECIFIED,
    decisionReason: "",
    userAttrs: {},
  };
}

const impl: Partial<HpodServiceServer> = {
  getStudy(call, callback) {
    if (call.request.name !== "s") return callback(statusError(status.NOT_FOUND, `name: no study named "${call.request.name}"`));
    callback(null, { study: { name: "s", namespace: "default", state: StudyState.STUDY_STATE_ACTIVE, stateReason: "", resolvedAlgorithm: "random", labels: {} } });
  },
  suggest(call, callback) {
    const { study, workerId } = call.request;
    if (study !== "s") return callback(statusError(status.NOT_FOUND, `study: no study named "${study}"`));
    fake.suggests.push(workerId);
    const held = fake.trials.find((t) => t.state === TrialState.TRIAL_STATE_RUNNING && t.workerId === workerId);
    if (held !== undefined) return callback(null, { trials: [held], studyDone: false, reason: "" });
    if (fake.idleAnswers > 0) {
      fake.idleAnswers--;
      return callback(null, { trials: [], studyDone: false, retryAfter: { seconds: 0, nanos: 30_000_000 }, reason: "paused" });
    }
    const counted = fake.trials.filter((t) => t.state !== TrialState.TRIAL_STATE_FAILED).length;
    if (counted >= fake.maxTrials) return callback(null, { trials: [], studyDone: true, reason: "budget reached" });
    const trial = newTrial(fake.trials.length, workerId);
    fake.trials.push(trial);
    callback(null, { trials: [trial], studyDone: false, reason: "" });
  },
  report(call, callback) {
    const r = call.request;
    fake.reports.push(r);
    const trial = fake.trials[r.trialId];
    if (trial === undefined) return callback(statusError(status.NOT_FOUND, "trial_id: no such trial"));
    if (r.workerId !== trial.workerId) return callback(statusError(status.FAILED_PRECONDITION, "worker_id: not the holder"));
    if (trial.state === TrialState.TRIAL_STATE_PRUNED) {
      return callback(null, { decision: Decision.DECISION_PRUNE, reason: "pruned", trialState: trial.state });
    }
    if (trial.state !== TrialState.TRIAL_STATE_RUNNING) return callback(statusError(status.FAILED_PRECONDITION, "trial_id: trial is finished"));
    if (r.failed) {
      trial.state = TrialState.TRIAL_STATE_FAILED;
      trial.stateReason = r.failureReason;
    } else if (r.final) {
      trial.finalMeasurement = { values: r.values, constraintValues: r.constraintValues, metrics: r.metrics };
      trial.state = r.values.every(Number.isFinite) ? TrialState.TRIAL_STATE_COMPLETE : TrialState.TRIAL_STATE_FAILED;
    } else if ((r.values[0] ?? 0) > fake.pruneAbove) {
      trial.state = TrialState.TRIAL_STATE_PRUNED;
      return callback(null, { decision: Decision.DECISION_PRUNE, reason: "above threshold", trialState: trial.state });
    }
    callback(null, { decision: Decision.DECISION_CONTINUE, reason: "", trialState: trial.state });
  },
  heartbeat(call, callback) {
    fake.heartbeats++;
    const trial = fake.trials[call.request.trialId];
    callback(null, { decision: Decision.DECISION_CONTINUE, reason: "", trialState: trial?.state ?? TrialState.TRIAL_STATE_UNSPECIFIED });
  },
};

let server: Server;
let client: HpodClient;

beforeAll(async () => {
  server = new Server();
  server.addService(HpodServiceService, impl as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  client = new HpodClient({ address: `127.0.0.1:${port}`, retry: { maxAttempts: 2, initialBackoffMs: 10 } });
});

beforeEach(() => {
  fake = { maxTrials: 1000, trials: [], reports: [], suggests: [], heartbeats: 0, idleAnswers: 0, pruneAbove: Infinity };
});

afterAll(async () => {
  client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("optimize (in-process fake daemon)", () => {
  it("runs `trials` trials over `concurrency` slots with one worker id per slot", async () => {
    let running = 0;
    let peak = 0;
    const result = await optimize(
      client,
      "s",
      async (trial) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(20);
        running--;
        return trial.params.getFloat("x") + trial.params.getInt("n");
      },
      { trials: 9, concurrency: 3, workerId: "w" },
    );
    expect(result.trials).toHaveLength(9);
    expect(result.studyDone).toBe(false);
    expect(peak).toBe(3);
    expect(new Set(result.trials.map((t) => t.trialId)).size).toBe(9);
    expect(new Set(result.trials.map((t) => t.workerId))).toEqual(new Set(["w/0", "w/1", "w/2"]));
    expect(result.trials.every((t) => t.state === TrialState.TRIAL_STATE_COMPLETE)).toBe(true);
    const finals = fake.reports.filter((r) => r.final);
    expect(finals).toHaveLength(9);
    for (const r of finals) expect(r.values).toEqual([r.trialId / 10 + r.trialId]);
    expect(fake.trials).toHaveLength(9);
  });

  it("stops when the study is done", async () => {
    fake.maxTrials = 5;
    const result = await optimize(client, "s", () => 1, { concurrency: 2 });
    expect(result.studyDone).toBe(true);
    expect(result.trials).toHaveLength(5);
  });

  it("on TrialPruned after a PRUNE decision sends nothing more", async () => {
    fake.pruneAbove = 2;
    const result = await optimize(
      client,
      "s",
      async (trial) => {
        for (let step = 0; step < 5; step++) {
          if (await trial.report(step, step)) {
            expect(trial.shouldPrune).toBe(true);
            throw new TrialPruned();
          }
        }
        return 0;
      },
      { trials: 1 },
    );
    expect(result.trials[0].state).toBe(TrialState.TRIAL_STATE_PRUNED);
    expect(result.trials[0].error).toBeInstanceOf(TrialPruned);
    expect(fake.reports.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    expect(fake.reports.some((r) => r.final || r.failed)).toBe(false);
    expect(fake.trials[0].state).toBe(TrialState.TRIAL_STATE_PRUNED);
  });

  it("reports an objective's error as failed and goes on with the next trial", async () => {
    let calls = 0;
    const result = await optimize(
      client,
      "s",
      () => {
        if (calls++ === 0) throw new Error("CUDA out of memory");
        return 3;
      },
      { trials: 2, workerId: "w" },
    );
    expect(result.trials.map((t) => t.state)).toEqual([TrialState.TRIAL_STATE_FAILED, TrialState.TRIAL_STATE_COMPLETE]);
    expect((result.trials[0].error as Error).message).toBe("CUDA out of memory");
    expect(fake.reports[0]).toMatchObject({ trialId: 0, failed: true, failureReason: "CUDA out of memory", workerId: "w/0" });
    expect(fake.trials[0].stateReason).toBe("CUDA out of memory");
  });

  it("reports NaN as it is (the daemon marks it FAILED)", async () => {
    const result = await optimize(client, "s", () => NaN, { trials: 1 });
    expect(fake.reports[0].final).toBe(true);
    expect(fake.reports[0].values[0]).toBeNaN();
    expect(result.trials[0].state).toBe(TrialState.TRIAL_STATE_FAILED);
  });

  it("reports several values, constraints and metrics", async () => {
    await optimize(client, "s", () => ({ values: [1, 2], constraintValues: [-1], metrics: { acc: 0.9 } }), { trials: 1 });
    expect(fake.reports[0]).toMatchObject({ final: true, values: [1, 2], constraintValues: [-1], metrics: { acc: 0.9 } });
  });

  it("treats TrialPruned without a PRUNE decision as a failure", async () => {
    const result = await optimize(client, "s", () => {
      throw new TrialPruned("giving up");
    }, { trials: 1 });
    expect(result.trials[0].state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(fake.reports[0].failureReason).toMatch(/without a PRUNE decision: giving up/);
  });

  it("fails a trial whose objective returns no number", async () => {
    const result = await optimize(client, "s", () => "0.5" as unknown as number, { trials: 1 });
    expect(result.trials[0].state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(fake.reports[0].failureReason).toMatch(/objective returned "0.5", not a number/);
  });

  it("waits retry_after when nothing is handed out", async () => {
    fake.idleAnswers = 2;
    const started = Date.now();
    const result = await optimize(client, "s", () => 1, { trials: 1, workerId: "w" });
    expect(result.trials).toHaveLength(1);
    expect(fake.suggests).toEqual(["w/0", "w/0", "w/0"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it("sends heartbeats while an objective runs", async () => {
    await optimize(client, "s", () => sleep(120).then(() => 1), { trials: 1, heartbeatIntervalMs: 25 });
    expect(fake.heartbeats).toBeGreaterThanOrEqual(2);
  });

  it("stops taking trials when the signal aborts, still reporting running ones", async () => {
    const controller = new AbortController();
    const result = await optimize(
      client,
      "s",
      async (trial) => {
        if (trial.id === 1) controller.abort();
        await sleep(10);
        return 1;
      },
      { concurrency: 1, signal: controller.signal },
    );
    expect(result.aborted).toBe(true);
    expect(result.trials.map((t) => t.trialId)).toEqual([0, 1]);
    expect(fake.reports.filter((r) => r.final)).toHaveLength(2);
  });

  it("rejects when the study does not exist", async () => {
    await expect(optimize(client, "nope", () => 1, { trials: 1 })).rejects.toThrow(/NOT_FOUND: name: no study named "nope"/);
    await expect(optimize(client, "nope", () => 1, { trials: 1, heartbeatIntervalMs: 0 })).rejects.toThrow(/NOT_FOUND/);
  });

  it("validates its options", async () => {
    await expect(optimize(client, "s", () => 1, { concurrency: 0 })).rejects.toThrow(RangeError);
    await expect(optimize(client, "s", () => 1, { trials: 1.5 })).rejects.toThrow(RangeError);
  });
});
