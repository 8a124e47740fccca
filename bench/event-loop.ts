#!/usr/bin/env node
/**
 * Does a model fit block the daemon? While one study's Suggest keeps a
 * Gaussian-process (or TPE) fit running, this measures the latency of Health
 * checks and of Report calls on another study, with the sampler worker
 * threads (the default: niced so RPCs preempt fits), with the threads at
 * normal priority (`--sampler-niceness 0`), and with `--sampler-threads 0`
 * (fits on the event loop), side by side, after two references: no fit, and
 * the same Suggest + Report loop with the random sampler (its RPC and write
 * load without a fit).
 *
 *   node dist/bench/event-loop.js [--algorithm gp] [--history 150] [--seconds 10] [--pause-ms 5]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { HpodServiceClient, type SuggestRequest, type SuggestResponse } from "../client/gen/hpod/v1/hpod_service.js";
import { Direction, Study } from "../client/gen/hpod/v1/study.js";
import { TrialState } from "../client/gen/hpod/v1/trial.js";

const { values: opts } = parseArgs({
  options: {
    algorithm: { type: "string", default: "gp" },
    history: { type: "string", default: "150" },
    seconds: { type: "string", default: "10" },
    // Pause between probes: 5 ms models a sparse client (each probe wakes idle threads), 0 a busy one.
    "pause-ms": { type: "string", default: "5" },
  },
});
const MAIN = resolve(import.meta.dirname, "..", "server", "main.js");

function unary<Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((ok, fail) => fn(req, (e, r) => (e ? fail(e) : ok(r))));
}

async function startDaemon(dataDir: string, extra: string[]): Promise<{ proc: ChildProcess; address: string }> {
  const proc = spawn(process.execPath, [MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--metrics-listen", "off", "--exit-with-stdin", ...extra], {
    env: { ...process.env, HPOD_LOG_FORMAT: "json" },
    // A stdin pipe the daemon watches: it stops when the bench dies, however it dies.
    stdio: ["pipe", "ignore", "pipe"],
  });
  const address = await new Promise<string>((ok, fail) => {
    createInterface({ input: proc.stderr! }).on("line", (l) => {
      try {
        const rec = JSON.parse(l) as { msg?: string; address?: string };
        if (rec.msg === "listening" && rec.address) ok(rec.address);
      } catch {
        /* not a log line */
      }
    });
    proc.once("exit", (c) => fail(new Error(`daemon exited with ${c}`)));
  });
  return { proc, address };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

function studyOf(name: string, algorithm: string, dims: number): Study {
  return Study.fromPartial({
    name,
    spec: {
      searchSpace: {
        parameters: Array.from({ length: dims }, (_, i) => ({ name: `x${i}`, floatDomain: { low: 0, high: 1 } })).map((p) => ({
          name: p.name,
          domain: { $case: "floatDomain" as const, value: p.floatDomain },
        })),
      },
      objectives: [{ name: "loss", direction: Direction.DIRECTION_MINIMIZE }],
      algorithm: { name: algorithm, seed: 1 },
      pruner: { name: "none" },
    },
  });
}

async function measure(threads: string[], fit = true, algorithm = opts.algorithm): Promise<{ health: number[]; report: number[]; suggests: number; fitMs: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), "hpod-evloop-"));
  const { proc, address } = await startDaemon(dir, threads);
  const c = new HpodServiceClient(address, grpc.credentials.createInsecure());
  const raw = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    await unary(c.createStudy.bind(c), { study: studyOf("fit", algorithm, 6), loadIfExists: false });
    await unary(c.createStudy.bind(c), { study: studyOf("other", "random", 2), loadIfExists: false });
    for (let i = 0; i < Number(opts.history); i++) {
      const params = Object.fromEntries(Array.from({ length: 6 }, (_, k) => [`x${k}`, { kind: { $case: "numberValue" as const, value: Math.random() } }]));
      await unary(c.addTrial.bind(c), {
        study: "fit",
        params,
        state: TrialState.TRIAL_STATE_COMPLETE,
        intermediate: [],
        finalMeasurement: { values: [Math.random()], constraintValues: [], metrics: {} },
        stateReason: "",
        userAttrs: {},
      });
    }
    const other = await unary<SuggestRequest, SuggestResponse>(c.suggest.bind(c), { study: "other", count: 1, workerId: "probe" });
    const trialId = other.trials[0]!.id;
    let stop = !fit;
    const fitMs: number[] = [];
    let suggests = 0;
    const fitter = (async () => {
      while (!stop) {
        const t0 = performance.now();
        const s = await unary<SuggestRequest, SuggestResponse>(c.suggest.bind(c), { study: "fit", count: 1, workerId: "fitter" });
        fitMs.push(performance.now() - t0);
        suggests++;
        const t = s.trials[0];
        if (t) await unary(c.report.bind(c), { study: "fit", trialId: t.id, values: [Math.random()], constraintValues: [], metrics: {}, final: true, failed: false, failureReason: "", workerId: "fitter" });
      }
    })();
    const health: number[] = [];
    const report: number[] = [];
    const end = performance.now() + Number(opts.seconds) * 1000;
    let step = 0;
    while (performance.now() < end) {
      let t0 = performance.now();
      await new Promise<void>((ok, fail) => raw.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e) => (e ? fail(e) : ok())));
      health.push(performance.now() - t0);
      t0 = performance.now();
      await unary(c.report.bind(c), { study: "other", trialId, step: step++, values: [Math.random()], constraintValues: [], metrics: {}, final: false, failed: false, failureReason: "", workerId: "probe" });
      report.push(performance.now() - t0);
      const pause = Number(opts["pause-ms"]);
      await new Promise((r) => (pause > 0 ? setTimeout(r, pause) : setImmediate(r)));
    }
    stop = true;
    await fitter;
    return { health, report, suggests, fitMs };
  } finally {
    c.close();
    raw.close();
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const row = (label: string, r: Awaited<ReturnType<typeof measure>>): string =>
  [
    label.padEnd(28),
    pct(r.health, 50).toFixed(3).padStart(9),
    pct(r.health, 99).toFixed(2).padStart(9),
    pct(r.report, 50).toFixed(3).padStart(9),
    pct(r.report, 99).toFixed(2).padStart(9),
    String(r.suggests).padStart(9),
    pct(r.fitMs, 50).toFixed(1).padStart(10),
  ].join(" ");

console.log(
  `event loop under a ${opts.algorithm} fit: ${opts.history} completed trials of 6 parameters, ${opts.seconds} s per mode, ${opts["pause-ms"]} ms between probes`,
);
console.log(["mode".padEnd(28), "health50".padStart(9), "health99".padStart(9), "report50".padStart(9), "report99".padStart(9), "suggests".padStart(9), "suggest50".padStart(10)].join(" "));
const idle = await measure([], false);
console.log(row("no fit running (reference)", idle));
// The same Suggest + Report loop with the random sampler: the RPC and durable-write load of the loop without
// any fit, so the rows below can be read against it (a fast fit, TPE's, makes the loop itself the load).
const loopOnly = await measure([], true, "random");
console.log(row("same loop, random (no fit)", loopOnly));
const pooled = await measure([]);
console.log(row("worker threads (default)", pooled));
const normal = await measure(["--sampler-niceness", "0"]);
console.log(row("worker threads, not niced", normal));
const inline = await measure(["--sampler-threads", "0"]);
console.log(row("on the event loop (0 threads)", inline));
console.log("latencies in ms; health/report on another study, measured while the fit study's Suggest runs back to back");
