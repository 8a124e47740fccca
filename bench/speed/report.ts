/** Human-readable tables and the --json document. */
import { writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import type { LevelResult, PhaseResult } from "./measure.js";
import type { Summary } from "./stats.js";

export const BAR_LATENCY_MAX = 3;
export const BAR_THROUGHPUT_MIN = 0.5;
/** Cores of unrelated load above which a level's numbers are flagged as unreliable. */
const OTHER_LOAD_WARN = 0.2;

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  platform: string;
  kernel: string;
  node: string;
}

export interface RunInfo {
  address: string;
  daemonPid: number | null;
  dataDir: string | null;
  dataDirFs: string;
  warmupSeconds: number;
  seconds: number;
  workers: number[];
  workersPerConnection: number;
}

export interface Bars {
  latencyAtN1: { value: number; max: number; pass: boolean } | null;
  throughputAtN64: { value: number; min: number; pass: boolean } | null;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    memGiB: totalmem() / 2 ** 30,
    platform: `${process.platform} ${process.arch}`,
    kernel: release(),
    node: process.version,
  };
}

const f = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits));
const pair = (s: Summary | undefined): string => `${f(s?.p50)} / ${f(s?.p99)}`;
const row = (label: string, value: string): string => `  ${label.padEnd(44)}${value}`;

export function printHeader(m: Machine, r: RunInfo): void {
  console.log("hpod speed benchmark");
  console.log(`machine  ${m.cpus} cpus (${m.cpuModel}), ${m.memGiB.toFixed(1)} GiB, ${m.platform}, kernel ${m.kernel}, node ${m.node}`);
  console.log(`daemon   ${r.address}, pid ${r.daemonPid ?? "unknown"}, data dir ${r.dataDir ?? "(external)"} on ${r.dataDirFs}; every acknowledged mutation is fsync'ed`);
  console.log(`run      workers ${r.workers.join(",")}; ${r.workersPerConnection} workers per connection; per phase ${r.warmupSeconds} s warm-up + ${r.seconds} s measured`);
  console.log(`note     client processes and the daemon share the same CPUs; load average before the run ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

function cpuLine(p: PhaseResult, unit: string): string {
  return `${f(p.daemonCpuMsPerOp, 3)} ms/${unit}, sys ${f(p.daemonSysCpuMsPerOp, 3)}  (cores busy: daemon ${f(p.daemonCores)}, clients ${f(p.clientCores)}, other ${f(p.otherCores)})`;
}

export function printLevel(l: LevelResult): void {
  const t = l.trials;
  const e = l.echo;
  console.log("");
  console.log(`N = ${l.workers}  (${l.clientProcs} client process${l.clientProcs === 1 ? "" : "es"}, ${l.connections} connection${l.connections === 1 ? "" : "s"}, study ${l.study})`);
  console.log(row("trials/s", f(t.perSecond, 1)));
  console.log(row("Suggest p50 / p99 ms", pair(t.latencyMs.suggest)));
  console.log(row("Report p50 / p99 ms", pair(t.latencyMs.report)));
  console.log(row("round trip (Suggest+Report) p50 / p99 ms", pair(t.latencyMs.roundTrip)));
  console.log(row("echo calls/s", f(e.perSecond, 1)));
  console.log(row("echo p50 / p99 ms", pair(e.latencyMs.echo)));
  console.log(row("daemon CPU per trial", cpuLine(t, "trial")));
  console.log(row("daemon CPU per echo call", cpuLine(e, "call")));
  console.log(row("CPU per trial / CPU per echo call", f((t.daemonCpuMsPerOp ?? NaN) / (e.daemonCpuMsPerOp ?? NaN), 1)));
  console.log(row("errors (trials / echo)", `${t.errors} / ${e.errors}${t.firstError || e.firstError ? `  first: ${t.firstError || e.firstError}` : ""}`));
  const other = Math.max(t.otherCores ?? 0, e.otherCores ?? 0);
  if (other > OTHER_LOAD_WARN) console.log(`  warning: other processes kept ${f(other)} cores busy during this level; its numbers are skewed`);
  if (t.stuckLoops || e.stuckLoops) console.log(row("loops still busy at the end", `${t.stuckLoops} / ${e.stuckLoops}`));
  const lat = l.ratios.roundTripP50OverTwoEchoP50;
  const thr = l.ratios.trialsPerSecOverHalfEchoPerSec;
  console.log(row("round-trip p50 / (2 x echo p50)", `${f(lat)}${l.workers === 1 ? `   bar <= ${BAR_LATENCY_MAX}: ${verdict(lat <= BAR_LATENCY_MAX)}` : ""}`));
  console.log(row("trials/s / (echo calls/s / 2)", `${f(thr)}${l.workers === 64 ? `   bar >= ${BAR_THROUGHPUT_MIN}: ${verdict(thr >= BAR_THROUGHPUT_MIN)}` : ""}`));
}

const verdict = (ok: boolean): string => (ok ? "PASS" : "FAIL");

export function bars(levels: LevelResult[]): Bars {
  const n1 = levels.find((l) => l.workers === 1);
  const n64 = levels.find((l) => l.workers === 64);
  return {
    latencyAtN1: n1 ? { value: n1.ratios.roundTripP50OverTwoEchoP50, max: BAR_LATENCY_MAX, pass: n1.ratios.roundTripP50OverTwoEchoP50 <= BAR_LATENCY_MAX } : null,
    throughputAtN64: n64
      ? { value: n64.ratios.trialsPerSecOverHalfEchoPerSec, min: BAR_THROUGHPUT_MIN, pass: n64.ratios.trialsPerSecOverHalfEchoPerSec >= BAR_THROUGHPUT_MIN }
      : null,
  };
}

export function printSummary(levels: LevelResult[]): void {
  const cols = ["N", "trials/s", "rt p50 ms", "echo/s", "echo p50 ms", "rt/(2*echo)", "trials/(echo/2)", "CPU ms/trial", "CPU ms/echo"];
  const widths = cols.map((c) => Math.max(c.length, 8));
  const line = (cells: string[]): string => "  " + cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log("");
  console.log("summary");
  console.log(line(cols));
  for (const l of levels) {
    console.log(
      line([
        String(l.workers),
        f(l.trials.perSecond, 1),
        f(l.trials.latencyMs.roundTrip?.p50),
        f(l.echo.perSecond, 1),
        f(l.echo.latencyMs.echo?.p50),
        f(l.ratios.roundTripP50OverTwoEchoP50),
        f(l.ratios.trialsPerSecOverHalfEchoPerSec),
        f(l.trials.daemonCpuMsPerOp, 3),
        f(l.echo.daemonCpuMsPerOp, 3),
      ]),
    );
  }
  const b = bars(levels);
  console.log("bars");
  console.log(`  N=1:  round-trip p50 / (2 x echo p50) <= ${BAR_LATENCY_MAX}: ${b.latencyAtN1 ? `${f(b.latencyAtN1.value)} ${verdict(b.latencyAtN1.pass)}` : "not run"}`);
  console.log(`  N=64: trials/s / (echo calls/s / 2) >= ${BAR_THROUGHPUT_MIN}: ${b.throughputAtN64 ? `${f(b.throughputAtN64.value)} ${verdict(b.throughputAtN64.pass)}` : "not run"}`);
}

export function writeJson(path: string, m: Machine, r: RunInfo, levels: LevelResult[]): void {
  // JSON has no NaN: a ratio that could not be computed becomes null.
  const doc = { machine: m, run: r, levels, bars: bars(levels), writtenAt: new Date().toISOString() };
  writeFileSync(path, JSON.stringify(doc, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n");
}
