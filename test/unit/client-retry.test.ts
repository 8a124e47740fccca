/**
 * Retry/backoff, errors, deadlines, metadata and WatchStudy of HpodClient,
 * against a real grpc-js server in this process.
 */
import { Metadata, Server, ServerCredentials, status, type ServerErrorResponse, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { HpodClientError } from "../../client/errors.js";
import { HpodServiceService, TrialEventKind, type HpodServiceServer } from "../../client/gen/hpod/v1/hpod_service.js";
import { StudyState } from "../../client/gen/hpod/v1/study.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { backoffDelayMs, DEFAULT_RETRY, isRetryable, resolveRetryOptions } from "../../client/retry.js";

function statusError(code: status, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Call log and behaviour switches of the test server. */
const calls: Record<string, number[]> = {};
const seenMetadata: Metadata[] = [];
let watchCancelled = false;

function record(method: string): number {
  (calls[method] ??= []).push(Date.now());
  return calls[method].length;
}

const impl: Partial<HpodServiceServer> = {
  // UNAVAILABLE twice, then OK.
  getStudy(call, callback) {
    const n = record("getStudy");
    seenMetadata.push(call.metadata);
    if (call.request.name === "flaky" && n <= 2) return callback(statusError(status.UNAVAILABLE, "try again"));
    if (call.request.name === "bad") return callback(statusError(status.INVALID_ARGUMENT, "name: must match [a-z0-9][a-z0-9_.-]{0,127}"));
    if (call.request.name === "down") return callback(statusError(status.UNAVAILABLE, "down"));
    callback(null, { study: { name: call.request.name, namespace: "default", state: StudyState.STUDY_STATE_ACTIVE, stateReason: "", resolvedAlgorithm: "random", labels: {} } });
  },
  // Always UNAVAILABLE.
  createStudy(_call, callback) {
    record("createStudy");
    callback(statusError(status.UNAVAILABLE, "not serving"));
  },
  // Slow the first time: a read, so DEADLINE_EXCEEDED is retried.
  listTrials(_call, callback) {
    const n = record("listTrials");
    void sleep(n === 1 ? 400 : 0).then(() => callback(null, { trials: [], nextPageToken: "" }));
  },
  // Always slow: a write, so DEADLINE_EXCEEDED is not retried.
  report(_call, callback) {
    record("report");
    void sleep(400).then(() =>
      callback(null, { decision: 1, reason: "", trialState: TrialState.TRIAL_STATE_RUNNING }),
    );
  },
  watchStudy(call) {
    record("watchStudy");
    const study = call.request.study;
    if (study === "missing") {
      call.emit("error", statusError(status.NOT_FOUND, `study: no study named "missing"`));
      return;
    }
    const trial = (id: number) => ({
      study,
      id,
      state: TrialState.TRIAL_STATE_COMPLETE,
      params: {},
      intermediate: [],
      workerId: "w",
      stateReason: "",
      source: 1,
      decision: 0,
      decisionReason: "",
      userAttrs: {},
    });
    for (let id = 0; id < 3; id++) call.write({ kind: TrialEventKind.TRIAL_EVENT_KIND_EXISTING, trial: trial(id) });
    if (study === "finite") {
      call.end();
      return;
    }
    // Endless: one event every 20 ms until the client cancels.
    let id = 3;
    const timer = setInterval(() => call.write({ kind: TrialEventKind.TRIAL_EVENT_KIND_CREATED, trial: trial(id++) }), 20);
    call.on("cancelled", () => {
      watchCancelled = true;
      clearInterval(timer);
    });
  },
};

let server: Server;
let address: string;
const clients: HpodClient[] = [];

function client(options: ConstructorParameters<typeof HpodClient>[0] = {}): HpodClient {
  const c = new HpodClient({ address, retry: { initialBackoffMs: 20, jitter: 0 }, ...options });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  server = new Server();
  server.addService(HpodServiceService, impl as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});

afterEach(() => {
  for (const key of Object.keys(calls)) delete calls[key];
  seenMetadata.length = 0;
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

describe("backoff policy", () => {
  it("has the documented defaults", () => {
    expect(DEFAULT_RETRY).toEqual({ maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 2000, multiplier: 2, jitter: 0.2 });
  });

  it("grows exponentially up to the cap", () => {
    const p = resolveRetryOptions({ jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(p, n))).toEqual([50, 100, 200, 400, 800, 1600, 2000]);
  });

  it("spreads delays by the jitter fraction, never beyond the cap", () => {
    const p = resolveRetryOptions({});
    expect(backoffDelayMs(p, 1, () => 0)).toBeCloseTo(40);
    expect(backoffDelayMs(p, 1, () => 0.5)).toBeCloseTo(50);
    expect(backoffDelayMs(p, 1, () => 0.9999999)).toBeCloseTo(60);
    expect(backoffDelayMs(p, 10, () => 0.9999999)).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(p, 3);
      expect(d).toBeGreaterThanOrEqual(160);
      expect(d).toBeLessThanOrEqual(240);
    }
  });

  it("retries UNAVAILABLE always, DEADLINE_EXCEEDED only for reads", () => {
    expect(isRetryable(status.UNAVAILABLE, false)).toBe(true);
    expect(isRetryable(status.DEADLINE_EXCEEDED, true)).toBe(true);
    expect(isRetryable(status.DEADLINE_EXCEEDED, false)).toBe(false);
    for (const code of [status.INVALID_ARGUMENT, status.NOT_FOUND, status.INTERNAL, status.FAILED_PRECONDITION]) {
      expect(isRetryable(code, true)).toBe(false);
    }
  });

  it("rejects bad options", () => {
    expect(() => resolveRetryOptions({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => resolveRetryOptions({ jitter: 2 })).toThrow(RangeError);
    expect(() => resolveRetryOptions({ multiplier: 0.5 })).toThrow(RangeError);
  });
});

describe("HpodClient against a real grpc-js server", () => {
  it("retries UNAVAILABLE twice, then returns the OK response", async () => {
    const c = client({ retry: { initialBackoffMs: 40, multiplier: 2, jitter: 0 } });
    const response = await c.getStudy({ name: "flaky" });
    expect(response.study?.name).toBe("flaky");
    const times = calls.getStudy;
    expect(times).toHaveLength(3);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(35);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(75);
  });

  it("gives up after maxAttempts with the last UNAVAILABLE", async () => {
    const c = client();
    const error = await c.createStudy({ study: { name: "x" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HpodClientError);
    const e = error as HpodClientError;
    expect(e.code).toBe(status.UNAVAILABLE);
    expect(e.codeName).toBe("UNAVAILABLE");
    expect(e.details).toBe("not serving");
    expect(e.method).toBe("CreateStudy");
    expect(e.attempts).toBe(5);
    expect(e.message).toBe("UNAVAILABLE: not serving");
    expect(calls.createStudy).toHaveLength(5);
  });

  it("honours maxAttempts per client and per call", async () => {
    await expect(client({ retry: { maxAttempts: 1 } }).createStudy({})).rejects.toThrow(HpodClientError);
    expect(calls.createStudy).toHaveLength(1);
    await expect(client().createStudy({}, { retry: { maxAttempts: 2 } })).rejects.toThrow("UNAVAILABLE");
    expect(calls.createStudy).toHaveLength(3);
  });

  it("does not retry other codes and keeps the daemon's message", async () => {
    const error = (await client().getStudy({ name: "bad" }).catch((e: unknown) => e)) as HpodClientError;
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^name: /);
    expect(calls.getStudy).toHaveLength(1);
  });

  it("retries DEADLINE_EXCEEDED for an idempotent read", async () => {
    const response = await client({ deadlineMs: 150 }).listTrials({ study: "s" });
    expect(response.trials).toEqual([]);
    expect(calls.listTrials).toHaveLength(2);
  });

  it("does not retry DEADLINE_EXCEEDED for a write", async () => {
    const error = (await client({ deadlineMs: 150 })
      .report({ study: "s", trialId: 1, values: [1], final: true })
      .catch((e: unknown) => e)) as HpodClientError;
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
    expect(calls.report).toHaveLength(1);
  });

  it("uses a per-call deadline", async () => {
    const error = (await client()
      .report({ study: "s", trialId: 1 }, { deadlineMs: 100 })
      .catch((e: unknown) => e)) as HpodClientError;
    expect(error.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it("stops retrying when the signal aborts", async () => {
    const controller = new AbortController();
    const c = client({ retry: { initialBackoffMs: 200, jitter: 0 } });
    const pending = c.getStudy({ name: "down" }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const error = (await pending.catch((e: unknown) => e)) as HpodClientError;
    expect(error.code).toBe(status.CANCELLED);
    expect(calls.getStudy).toHaveLength(1);
  });

  it("sends the client's and the call's metadata", async () => {
    await client({ metadata: { authorization: "Bearer t0ken" } }).getStudy({ name: "s" }, { metadata: { "x-trace": "42" } });
    expect(seenMetadata[0].get("authorization")).toEqual(["Bearer t0ken"]);
    expect(seenMetadata[0].get("x-trace")).toEqual(["42"]);
  });

  it("defaults the address to HPOD_ADDRESS, then 127.0.0.1:50551", () => {
    const saved = process.env.HPOD_ADDRESS;
    try {
      process.env.HPOD_ADDRESS = "10.1.2.3:1234";
      expect(client({ address: undefined }).address).toBe("10.1.2.3:1234");
      delete process.env.HPOD_ADDRESS;
      expect(client({ address: undefined }).address).toBe("127.0.0.1:50551");
      expect(client({ address: undefined }).deadlineMs).toBe(30_000);
    } finally {
      if (saved === undefined) delete process.env.HPOD_ADDRESS;
      else process.env.HPOD_ADDRESS = saved;
    }
  });

  it("maps an unreachable daemon to UNAVAILABLE after retries", async () => {
    const c = client({ address: "127.0.0.1:1", retry: { maxAttempts: 2, initialBackoffMs: 10 } });
    const error = (await c.getStudy({ name: "s" }).catch((e: unknown) => e)) as HpodClientError;
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.attempts).toBe(2);
  });
});

describe("watchStudy", () => {
  it("iterates a finite stream to its end", async () => {
    const ids: number[] = [];
    for await (const event of client().watchStudy({ study: "finite", includeExisting: true })) {
      expect(event.kind).toBe(TrialEventKind.TRIAL_EVENT_KIND_EXISTING);
      ids.push(event.trial!.id);
    }
    expect(ids).toEqual([0, 1, 2]);
  });

  it("cancels the stream when the loop breaks", async () => {
    watchCancelled = false;
    const ids: number[] = [];
    for await (const event of client().watchStudy({ study: "endless" })) {
      ids.push(event.trial!.id);
      if (ids.length === 5) break;
    }
    expect(ids).toEqual([0, 1, 2, 3, 4]);
    await expect.poll(() => watchCancelled).toBe(true);
  });

  it("ends quietly when the signal aborts", async () => {
    const controller = new AbortController();
    let n = 0;
    for await (const _ of client().watchStudy({ study: "endless" }, { signal: controller.signal })) {
      if (++n === 4) controller.abort();
    }
    expect(n).toBeGreaterThanOrEqual(4);
  });

  it("yields nothing for an already aborted signal", async () => {
    const controller = new AbortController();
    controller.abort();
    let n = 0;
    for await (const _ of client().watchStudy({ study: "endless" }, { signal: controller.signal })) n++;
    expect(n).toBe(0);
  });

  it("throws the stream's status as an HpodClientError", async () => {
    const consume = async (): Promise<void> => {
      for await (const _ of client().watchStudy({ study: "missing" })) {
        /* nothing */
      }
    };
    const error = (await consume().catch((e: unknown) => e)) as HpodClientError;
    expect(error).toBeInstanceOf(HpodClientError);
    expect(error.code).toBe(status.NOT_FOUND);
    expect(error.method).toBe("WatchStudy");
  });
});
