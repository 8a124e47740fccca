/**
 * Soak: N grpc-js workers (random sampler, durable writes) for a long window; every few seconds the daemon's RSS
 * (/proc/<pid>/status), its event-loop lag (prom-client's nodejs_eventloop_lag_* on the daemon's metrics listener;
 * the histogram behind them is reset at every scrape, so each sample covers the interval since the previous one),
 * its CPU and the trials completed (hpod_trial_transitions_total{to="complete"}).
 */
import { readFileSync } from "node:fs";
import { assignments, createStudy, runPhase, workerIds, type PhaseResult, type Target } from "../speed/measure.js";
import { cpuTimeMs } from "../speed/daemon.js";
import { ClientPool } from "../speed/pool.js";
import { connectStress } from "../stress/client.js";
import { clientProcsFor } from "../speed/args.js";
import type { LoadOptions } from "./args.js";

export interface SoakSample {
  /** Seconds since the measured window began (end of the interval). */
  t: number;
  rssMiB: number | null;
  heapUsedMiB: number | null;
  /** Trials held by the daemon (hpod_trials, every state, every study not deleted). */
  liveTrials: number | null;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  trialsPerSec: number | null;
  daemonCores: number | null;
}

export interface SegmentMeans {
  from: number;
  to: number;
  samples: number;
  rssMiB: number | null;
  liveTrials: number | null;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  trialsPerSec: number | null;
}

export interface SoakResult {
  workers: number;
  seconds: number;
  segmentSeconds: number;
  samples: SoakSample[];
  first: SegmentMeans;
  second: SegmentMeans;
  last: SegmentMeans;
  rssGrowthMiB: number | null;
  rssToleranceMiB: number | null;
  lagP99Growth: number | null;
  /** RSS growth per trial added between the 2nd and the last segment (KiB), where trials were added. */
  rssKiBPerAddedTrial: number | null;
  rotateSeconds: number;
  studiesDeleted: number;
  flat: boolean;
  reasons: string[];
  trials: PhaseResult;
}

/** Lag below this is timer jitter: growth is judged against at least this much. */
const LAG_FLOOR_MS = 1;
const RSS_TOLERANCE_FRACTION = 0.1;
const RSS_TOLERANCE_MIB = 20;
const LAG_GROWTH_MAX = 2;

function rssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Sum of the samples of `name` whose labels include every pair in `match` (Prometheus text format 0.0.4). */
export function promValue(text: string, name: string, match: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line.startsWith("#")) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    const close = rest.indexOf("}");
    const labels = rest[0] === "{" ? rest.slice(1, close) : "";
    const value = Number((rest[0] === "{" ? rest.slice(close + 1) : rest).trim().split(" ")[0]);
    if (!Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) continue;
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

async function scrape(metricsAddress: string | undefined): Promise<string | undefined> {
  if (!metricsAddress) return undefined;
  try {
    const res = await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

const ms = (s: number | null): number | null => (s === null ? null : s * 1000);
const mib = (b: number | null): number | null => (b === null ? null : b / 2 ** 20);
/** A rotated-out study is deleted this long after its period, when no worker is still finishing a trial in it. */
const ROTATE_GRACE_MS = 5000;
const mean = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

function segment(samples: SoakSample[], from: number, to: number): SegmentMeans {
  const s = samples.filter((x) => x.t > from + 1e-9 && x.t <= to + 1e-9);
  return {
    from,
    to,
    samples: s.length,
    rssMiB: mean(s.map((x) => x.rssMiB)),
    liveTrials: mean(s.map((x) => x.liveTrials)),
    lagP50Ms: mean(s.map((x) => x.lagP50Ms)),
    lagP99Ms: mean(s.map((x) => x.lagP99Ms)),
    trialsPerSec: mean(s.map((x) => x.trialsPerSec)),
  };
}

export async function runSoak(target: Target & { metricsAddress: string | undefined }, o: LoadOptions, script: string, log: (l: string) => void): Promise<SoakResult> {
  const n = o.workers[0];
  const seconds = o.soak!;
  const stamp = Date.now().toString(36);
  const rotateMs = o.soakRotate * 1000;
  const count = rotateMs > 0 ? Math.ceil((seconds * 1000) / rotateMs) + 1 : 1;
  const studies: string[] = [];
  for (let k = 0; k < count; k++) studies.push(await createStudy(target.address, `soak-n${n}-${stamp}-${k}`, { algorithm: "random", pruner: "none" }));
  const pool = ClientPool.start(clientProcsFor(n, o), script);
  const admin = connectStress(target.address);
  const samples: SoakSample[] = [];
  let trials: PhaseResult;
  // With rotation: study k takes new trials during period k of the window; it is deleted a grace period after.
  let deleted = 0;
  const deleteFinished = async (elapsedMs: number): Promise<void> => {
    if (rotateMs <= 0) return;
    while (deleted < studies.length - 1 && elapsedMs > (deleted + 1) * rotateMs + ROTATE_GRACE_MS) {
      await admin.deleteStudy({ name: studies[deleted] }, 60_000);
      deleted++;
    }
  };
  try {
    const work = assignments("trials", target.address, studies[0], workerIds(n, "soak-w"), pool.size, o.workersPerChannel, o.intermediate).map((a) =>
      rotateMs > 0 ? { ...a, rotate: { studies, everyMs: rotateMs } } : a,
    );
    const timing = { warmup: o.warmup, seconds };
    const phase = runPhase(pool, target, work, timing);
    const sampler = sampleLoop(target, o.sampleEvery, seconds, o.warmup, samples, log, deleteFinished);
    trials = await phase;
    await sampler;
  } finally {
    await pool.close();
    admin.close();
  }
  const seg = seconds >= 180 ? 60 : seconds / 3;
  const first = segment(samples, 0, seg);
  const second = segment(samples, seg, 2 * seg);
  const last = segment(samples, seconds - seg, seconds);
  const reasons: string[] = [];
  let rssGrowth: number | null = null;
  let tol: number | null = null;
  if (second.rssMiB !== null && last.rssMiB !== null) {
    rssGrowth = last.rssMiB - second.rssMiB;
    tol = Math.max(RSS_TOLERANCE_FRACTION * second.rssMiB, RSS_TOLERANCE_MIB);
    if (rssGrowth > tol) reasons.push(`RSS grew ${rssGrowth.toFixed(1)} MiB from the 2nd to the last segment (tolerance ${tol.toFixed(1)} MiB)`);
  } else reasons.push("RSS not readable");
  let lagGrowth: number | null = null;
  if (second.lagP99Ms !== null && last.lagP99Ms !== null) {
    lagGrowth = last.lagP99Ms / Math.max(second.lagP99Ms, LAG_FLOOR_MS);
    if (lagGrowth > LAG_GROWTH_MAX) reasons.push(`event-loop lag p99 grew ${lagGrowth.toFixed(2)}x from the 2nd to the last segment`);
    const p50Growth = (last.lagP50Ms ?? 0) / Math.max(second.lagP50Ms ?? 0, LAG_FLOOR_MS);
    if (p50Growth > LAG_GROWTH_MAX) reasons.push(`event-loop lag p50 grew ${p50Growth.toFixed(2)}x from the 2nd to the last segment`);
  } else reasons.push("event-loop lag not available (no metrics listener?)");
  if (trials.errors > 0) reasons.push(`${trials.errors} errors (first: ${trials.firstError})`);
  const added = last.liveTrials !== null && second.liveTrials !== null ? last.liveTrials - second.liveTrials : null;
  const perTrial = rssGrowth !== null && added !== null && added > 0 ? (rssGrowth * 1024) / added : null;
  return {
    workers: n,
    seconds,
    segmentSeconds: seg,
    samples,
    first,
    second,
    last,
    rssGrowthMiB: rssGrowth,
    rssToleranceMiB: tol,
    lagP99Growth: lagGrowth,
    rssKiBPerAddedTrial: perTrial,
    rotateSeconds: o.soakRotate,
    studiesDeleted: deleted,
    flat: reasons.length === 0,
    reasons,
    trials,
  };
}

async function sampleLoop(
  target: Target & { metricsAddress: string | undefined },
  every: number,
  seconds: number,
  warmup: number,
  out: SoakSample[],
  log: (l: string) => void,
  tick: (elapsedMs: number) => Promise<void>,
): Promise<void> {
  // runPhase opens its window `warmup` s after the client processes have connected, which is about when the first
  // trials complete: wait for those, then the warm-up, then take the baseline (its scrape also resets the lag
  // histogram). Samples are then within a few tens of ms of the measured window.
  const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t)));
  const giveUp = Date.now() + 60_000;
  for (let p = await baseline(target); (p.complete ?? 0) === 0 && p.text !== undefined && Date.now() < giveUp; p = await baseline(target)) await sleep(50);
  await sleep(warmup * 1000);
  let prev = await baseline(target);
  const t0 = Date.now();
  for (let k = 1; (k - 1) * every < seconds - 1e-9; k++) {
    const t = Math.min(k * every, seconds);
    // Deletions of rotated-out studies run between samples (at most one period's worth, well before the next one).
    await tick(Date.now() - t0);
    await sleep(t0 + t * 1000 - Date.now());
    const cur = await baseline(target);
    const dt = (cur.at - prev.at) / 1000;
    const s: SoakSample = {
      t,
      rssMiB: rssMiB(target.daemonPid),
      heapUsedMiB: mib(promValue(cur.text ?? "", "nodejs_heap_size_used_bytes")),
      liveTrials: promValue(cur.text ?? "", "hpod_trials"),
      lagP50Ms: ms(promValue(cur.text ?? "", "nodejs_eventloop_lag_p50_seconds")),
      lagP99Ms: ms(promValue(cur.text ?? "", "nodejs_eventloop_lag_p99_seconds")),
      lagMaxMs: ms(promValue(cur.text ?? "", "nodejs_eventloop_lag_max_seconds")),
      trialsPerSec: cur.complete !== null && prev.complete !== null && dt > 0 ? (cur.complete - prev.complete) / dt : null,
      daemonCores: cur.cpu !== undefined && prev.cpu !== undefined && dt > 0 ? (cur.cpu - prev.cpu) / 1000 / dt : null,
    };
    out.push(s);
    log(
      `  t=${String(t.toFixed(0)).padStart(4)} s  RSS ${fmt(s.rssMiB, 1)} MiB  heap ${fmt(s.heapUsedMiB, 1)} MiB  trials held ${fmt(s.liveTrials, 0)}  lag p50 ${fmt(s.lagP50Ms)} p99 ${fmt(s.lagP99Ms)} max ${fmt(s.lagMaxMs)} ms  ${fmt(s.trialsPerSec, 0)} trials/s  daemon ${fmt(s.daemonCores)} cores`,
    );
    prev = cur;
  }
}

interface Probe {
  at: number;
  text: string | undefined;
  complete: number | null;
  cpu: number | undefined;
}

async function baseline(target: Target & { metricsAddress: string | undefined }): Promise<Probe> {
  const cpu = cpuTimeMs(target.daemonPid);
  const at = Date.now();
  const text = await scrape(target.metricsAddress);
  return { at, text, complete: text ? promValue(text, "hpod_trial_transitions_total", { to: "complete" }) : null, cpu };
}

const fmt = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(d));

export function printSoak(r: SoakResult): void {
  const line = (name: string, s: SegmentMeans): string =>
    `  ${name.padEnd(8)} (${fmt(s.from, 0)}-${fmt(s.to, 0)} s, ${s.samples} samples)  RSS ${fmt(s.rssMiB, 1)} MiB  trials held ${fmt(s.liveTrials, 0)}  lag p50 ${fmt(s.lagP50Ms)} ms  p99 ${fmt(s.lagP99Ms)} ms  ${fmt(s.trialsPerSec, 0)} trials/s`;
  console.log("");
  console.log(`soak summary (segments of ${fmt(r.segmentSeconds, 0)} s${r.segmentSeconds < 60 ? "; shorter than a minute because the run is shorter than 3 minutes" : ""})`);
  console.log(line("first", r.first));
  console.log(line("second", r.second));
  console.log(line("last", r.last));
  const t = r.trials;
  console.log(`  whole window: ${fmt(t.perSecond, 1)} trials/s, Suggest p50/p99 ${fmt(t.latencyMs.suggest?.p50)} / ${fmt(t.latencyMs.suggest?.p99)} ms, Report p50/p99 ${fmt(t.latencyMs.report?.p50)} / ${fmt(t.latencyMs.report?.p99)} ms, errors ${t.errors}, daemon CPU ${fmt(t.daemonCpuMsPerOp, 3)} ms/trial`);
  console.log("  lag: prom-client's monitorEventLoopDelay at 10 ms resolution counts the timer period, so an idle loop reads about 10 ms");
  console.log(`  RSS last - second: ${fmt(r.rssGrowthMiB, 1)} MiB (tolerance ${fmt(r.rssToleranceMiB, 1)} MiB: max(10%, 20 MiB)); lag p99 last / second: ${fmt(r.lagP99Growth)}x (max ${LAG_GROWTH_MAX}x, floor ${LAG_FLOOR_MS} ms)`);
  if (r.rotateSeconds > 0) console.log(`  studies rotated every ${r.rotateSeconds} s, ${r.studiesDeleted} deleted during the soak`);
  else if (r.rssKiBPerAddedTrial !== null)
    console.log(
      `  one study for the whole soak: the daemon keeps every trial in memory, so RSS grows with the data (${fmt(r.rssKiBPerAddedTrial, 2)} KiB per trial added between the 2nd and the last segment); --soak-rotate S bounds the data`,
    );
  console.log(`verdict: ${r.flat ? "flat" : `NOT flat: ${r.reasons.join("; ")}`}`);
}
