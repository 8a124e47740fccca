/** bench/load.ts tables, the bar, and the --json document. */
import { writeFileSync } from "node:fs";
import type { Machine } from "../speed/report.js";
import type { LoadOptions } from "./args.js";
import type { LatPair, LevelRows, Row } from "./level.js";

/** The issue's bar at N=64, durable writes, random sampler. */
export const BAR_N = 64;
export const BAR_TRIALS_PER_S = 2000;
export const BAR_SUGGEST_P99_MS = 50;
const OTHER_LOAD_WARN = 0.2;

const f = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits));
const lat = (p: LatPair | null): string => (p ? `${f(p.p50)} / ${f(p.p99)}` : "-");

/** hpod's trials/s over Optuna's, same sampler and storage, same N (Optuna possibly capped). */
export function ratio(r: Row, level: LevelRows, storage: "journal" | "sqlite"): number | null {
  if (r.kind !== "hpod") return null;
  const opt = level.rows.find((x) => x.kind === "optuna" && x.storage === storage && x.sampler === r.sampler);
  return opt && opt.perSecond > 0 ? r.perSecond / opt.perSecond : opt ? Infinity : null;
}

export interface BarCheck {
  label: string;
  trialsPerSec: number;
  suggestP99Ms: number | null;
  errors: number;
  pass: boolean;
}

export function barChecks(levels: LevelRows[]): BarCheck[] {
  const l = levels.find((x) => x.workers === BAR_N);
  if (!l) return [];
  return l.rows
    .filter((r) => r.kind === "hpod" && r.sampler === "random")
    .map((r) => {
      const p99 = r.suggest?.p99 ?? null;
      return {
        label: r.label,
        trialsPerSec: r.perSecond,
        suggestP99Ms: p99,
        errors: r.errors,
        pass: r.perSecond >= BAR_TRIALS_PER_S && p99 !== null && p99 < BAR_SUGGEST_P99_MS && r.errors === 0,
      };
    });
}

export function printLevelTable(l: LevelRows): void {
  const head = ["row", "procs", "trials/s", "Suggest p50 / p99 ms", "Report p50 / p99 ms", "errors", "CPU ms/trial", "x journal", "x sqlite"];
  const cells = l.rows.map((r) => [
    r.label,
    `${r.procs}${r.capped ? "*" : ""}`,
    f(r.perSecond, 1),
    lat(r.suggest),
    lat(r.report),
    String(r.errors),
    f(r.cpuMsPerTrial, 3) + (r.kind === "optuna" ? "+" : ""),
    r.kind === "hpod" ? fx(ratio(r, l, "journal")) : "",
    r.kind === "hpod" ? fx(ratio(r, l, "sqlite")) : "",
  ]);
  // Without Optuna rows the two ratio columns would only say n/a.
  if (!l.rows.some((r) => r.kind === "optuna")) {
    head.splice(-2);
    for (const c of cells) c.splice(-2);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => "  " + c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
  console.log("");
  console.log(`N = ${l.workers}`);
  console.log(line(head));
  for (const c of cells) console.log(line(c));
  for (const r of l.rows) {
    if (r.errors > 0) console.log(`  ${r.label}: ${r.errors} errors${r.optuna ? ` ${JSON.stringify(r.optuna.errorTypes)}` : ""}; first: ${r.firstError}`);
    if (r.optuna) {
      const o = r.optuna;
      const bits = [`left RUNNING ${o.leftRunning}`, `final states ${JSON.stringify(o.finalStates)}`, `start-up ${f(o.startupSeconds, 1)} s`];
      if (o.processesFailed) bits.push(`${o.processesFailed} processes failed to start`);
      if (o.processesStuck) bits.push(`${o.processesStuck} processes stuck at the end (killed)`);
      if (o.readbackError) bits.push(`read-back failed: ${o.readbackError}`);
      console.log(`  ${r.label}: ${bits.join(", ")}${r.capped ? `; CAPPED: ${r.procs} processes instead of ${l.workers} (--optuna-max-procs)` : ""}`);
    }
    if (r.hpod?.stuckLoops) console.log(`  ${r.label}: ${r.hpod.stuckLoops} loops still busy at the end`);
    if ((r.otherCores ?? 0) > OTHER_LOAD_WARN) console.log(`  warning: other processes kept ${f(r.otherCores)} cores busy during "${r.label}"; its numbers are skewed`);
  }
}

const fx = (x: number | null): string => (x === null ? "n/a" : Number.isFinite(x) ? `${x.toFixed(1)}x` : "inf");

export function printLegend(): void {
  console.log("");
  console.log("trials/s: trials finished in the window / seconds (echo rows: calls/s, their latency in the Suggest column).");
  console.log("Report: every Report call (intermediate and final); Optuna: ask = Suggest, each trial.report and the tell = Report.");
  console.log("CPU ms/trial: daemon utime+stime per trial (echo: per call); '+': Optuna rows, all its processes (no server).");
  console.log("x journal / x sqlite: hpod trials/s over Optuna's, same sampler, same N ('*' procs: Optuna capped below N).");
}

export function printBar(levels: LevelRows[]): void {
  const checks = barChecks(levels);
  console.log("");
  console.log(`bar at N=${BAR_N}, durable writes, random sampler: >= ${BAR_TRIALS_PER_S} trials/s, Suggest p99 < ${BAR_SUGGEST_P99_MS} ms, no error`);
  if (checks.length === 0) console.log("  not run (needs N=64 and the random sampler)");
  for (const c of checks) {
    console.log(`  ${c.label.padEnd(20)} ${f(c.trialsPerSec, 1)} trials/s, Suggest p99 ${f(c.suggestP99Ms)} ms, errors ${c.errors}: ${c.pass ? "PASS" : "FAIL"}`);
  }
}

export function writeLoadJson(path: string, m: Machine, o: LoadOptions, extra: Record<string, unknown>, levels: LevelRows[]): void {
  const doc = { machine: m, options: o, ...extra, levels, bar: barChecks(levels), writtenAt: new Date().toISOString() };
  writeFileSync(path, JSON.stringify(doc, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n");
}
