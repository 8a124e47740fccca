/**
 * Scale figures (not a test): one study per sampler filled to N trials (default 100,000, fast-forwarded with
 * AddTrial in concurrent batches), then a daemon holding 10,000 studies. Prints start-up (recovery) time, daemon
 * RSS, ListTrials page times at the start and the end of a listing, GetBestTrials latency, and Suggest latency for
 * random and tpe at 1,000 trials and at N trials.
 *
 *   npm run build && node dist/bench/scale.js [--trials 100000] [--studies 10000] [--batch 256]
 *
 * Bars (from the issue): restart with 100,000 trials under 5 s; Suggest latency at 100,000 within 2x of 1,000 for
 * random and within 4x for TPE.
 */
import { readFileSync, rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Study, StudySpec } from "../client/gen/hpod/v1/study.js";
import { TrialState } from "../client/gen/hpod/v1/trial.js";
import { ReportRequest } from "../client/gen/hpod/v1/hpod_service.js";
import { createRng } from "../server/core/rng.js";
import { connectStress, type StressClient } from "./stress/client.js";
import { freshDir, startStressDaemon, type StressDaemon } from "./stress/daemon.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const TRIALS = arg("trials", 100_000);
const STUDIES = arg("studies", 10_000);
const BATCH = arg("batch", 256);
const rng = createRng(99);

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

function spec(algorithm: string): StudySpec {
  return StudySpec.fromPartial({
    searchSpace: {
      parameters: [
        { name: "x", domain: { $case: "floatDomain", value: { low: -5, high: 5, log: false } } },
        { name: "y", domain: { $case: "floatDomain", value: { low: -5, high: 5, log: false } } },
        { name: "n", domain: { $case: "intDomain", value: { low: 1, high: 10, log: false } } },
      ],
    },
    objectives: [{ name: "loss", direction: 1 }],
    algorithm: { name: algorithm, seed: 1 },
    pruner: { name: "none" },
  });
}

async function fill(c: StressClient, study: string, from: number, to: number): Promise<number> {
  const t0 = performance.now();
  for (let i = from; i < to; i += BATCH) {
    const n = Math.min(BATCH, to - i);
    await Promise.all(
      Array.from({ length: n }, () => {
        const x = rng.next() * 10 - 5;
        const y = rng.next() * 10 - 5;
        return c.addTrial(
          {
            study,
            params: { x: { kind: { $case: "numberValue", value: x } }, y: { kind: { $case: "numberValue", value: y } }, n: { kind: { $case: "intValue", value: 1 + rng.int(10) } } },
            state: TrialState.TRIAL_STATE_COMPLETE,
            intermediate: [],
            finalMeasurement: { values: [x * x + y * y], constraintValues: [], metrics: {} },
            stateReason: "",
            userAttrs: {},
          },
          120_000,
        );
      }),
    );
  }
  return (to - from) / ((performance.now() - t0) / 1000);
}

function stats(xs: number[]): { p50: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] };
}

async function suggestLatency(c: StressClient, study: string, n = 30): Promise<{ p50: number; p95: number }> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const s = await c.suggest({ study, count: 1, workerId: "" }, 120_000);
    xs.push(performance.now() - t0);
    const t = s.trials[0];
    if (t) await c.report(ReportRequest.fromPartial({ study, trialId: t.id, values: [rng.next()], final: true }));
  }
  return stats(xs);
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

async function listingPages(c: StressClient, study: string, pageSize: number): Promise<{ pages: number; first: number; last: number; total: number }> {
  const times: number[] = [];
  let token = "";
  let count = 0;
  do {
    const [page, ms] = await timed(() => c.listTrials({ study, pageSize, pageToken: token, states: [], omitIntermediate: false }, 120_000));
    times.push(ms);
    count += page.trials.length;
    token = page.nextPageToken;
  } while (token);
  const head = times.slice(0, 5);
  const tail = times.slice(-5);
  return { pages: times.length, first: head.reduce((a, b) => a + b, 0) / head.length, last: tail.reduce((a, b) => a + b, 0) / tail.length, total: count };
}

async function restart(d: StressDaemon): Promise<[StressDaemon, number]> {
  await d.stop();
  const t0 = performance.now();
  const nd = await startStressDaemon({ dataDir: d.dataDir, timeoutMs: 600_000 });
  return [nd, performance.now() - t0];
}

async function main(): Promise<void> {
  const dataDir = freshDir("hpod-scale-");
  const out: string[] = [];
  const say = (s: string): void => {
    console.log(s);
    out.push(s);
  };
  let d = await startStressDaemon({ dataDir });
  let c = connectStress(d.address);
  try {
    say(`scale: ${TRIALS} trials per study (random, tpe), ${STUDIES} studies, AddTrial batches of ${BATCH}`);
    for (const a of ["random", "tpe"]) await c.createStudy({ study: Study.fromPartial({ name: `big-${a}`, spec: spec(a) }), loadIfExists: false });
    const small: Record<string, { p50: number; p95: number }> = {};
    for (const a of ["random", "tpe"]) {
      await fill(c, `big-${a}`, 0, 1000);
      small[a] = await suggestLatency(c, `big-${a}`);
      say(`suggest ${a.padEnd(6)} at ~1,000 trials: p50 ${small[a].p50.toFixed(2)} ms, p95 ${small[a].p95.toFixed(2)} ms`);
    }
    const big: Record<string, { p50: number; p95: number }> = {};
    for (const a of ["random", "tpe"]) {
      const rate = await fill(c, `big-${a}`, 1030, TRIALS);
      say(`filled big-${a} to ${TRIALS} trials at ${rate.toFixed(0)} AddTrial/s`);
      big[a] = await suggestLatency(c, `big-${a}`, a === "tpe" ? 10 : 30);
      say(`suggest ${a.padEnd(6)} at ~${TRIALS} trials: p50 ${big[a].p50.toFixed(2)} ms, p95 ${big[a].p95.toFixed(2)} ms (x${(big[a].p50 / small[a].p50).toFixed(2)} of 1,000; bar ${a === "random" ? 2 : 4}x)`);
    }
    say(`daemon RSS with 2 x ${TRIALS} trials: ${rssMiB(d.proc.pid).toFixed(0)} MiB`);
    for (const size of [100, 1000]) {
      const l = await listingPages(c, "big-random", size);
      say(`ListTrials page_size ${size}: ${l.pages} pages, ${l.total} trials; first pages ${l.first.toFixed(2)} ms/page, last pages ${l.last.toFixed(2)} ms/page`);
    }
    const best: number[] = [];
    for (let i = 0; i < 20; i++) best.push((await timed(() => c.getBestTrials({ study: "big-random" })))[1]);
    const b = stats(best);
    say(`GetBestTrials at ${TRIALS} trials: p50 ${b.p50.toFixed(2)} ms, p95 ${b.p95.toFixed(2)} ms`);
    c.close();
    let ms: number;
    [d, ms] = await restart(d);
    c = connectStress(d.address);
    say(`restart (recovery) with 2 x ${TRIALS} trials: ${(ms / 1000).toFixed(2)} s to listening (bar: < 5 s for 100,000); RSS after start ${rssMiB(d.proc.pid).toFixed(0)} MiB`);
    const after = await suggestLatency(c, "big-tpe", 5);
    say(`suggest tpe right after restart: p50 ${after.p50.toFixed(2)} ms`);
    // 10,000 studies.
    const t0 = performance.now();
    for (let i = 0; i < STUDIES; i += BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(BATCH, STUDIES - i) }, (_, k) => c.createStudy({ study: Study.fromPartial({ name: `many-${i + k}`, spec: spec("random") }), loadIfExists: false }, 120_000)),
      );
    }
    say(`created ${STUDIES} studies at ${(STUDIES / ((performance.now() - t0) / 1000)).toFixed(0)} CreateStudy/s; RSS ${rssMiB(d.proc.pid).toFixed(0)} MiB`);
    const [, lsMs] = await timed(() => c.listStudies({ pageSize: 1000, pageToken: "", namespace: "" }));
    say(`ListStudies page_size 1000 with ${STUDIES + 2} studies: ${lsMs.toFixed(1)} ms`);
    c.close();
    [d, ms] = await restart(d);
    c = connectStress(d.address);
    say(`restart (recovery) with ${STUDIES + 2} studies and 2 x ${TRIALS} trials: ${(ms / 1000).toFixed(2)} s; RSS after start ${rssMiB(d.proc.pid).toFixed(0)} MiB`);
    const s1 = await suggestLatency(c, `many-${Math.floor(STUDIES / 2)}`, 10);
    say(`suggest random on a small study among ${STUDIES} studies: p50 ${s1.p50.toFixed(2)} ms`);
  } finally {
    c.close();
    await d.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
