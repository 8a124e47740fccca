#!/usr/bin/env node
/**
 * Pruning benchmark: synthetic learning curves (bench/data/curves.json), run
 * in-process against the pure study core (validateNewStudy + buildRuntime),
 * one sequential worker: Suggest -> report steps 1..100 until PRUNE -> final
 * value (unpruned trials only). 100 trials x 20 seeds per (sampler, pruner).
 *
 * Per combination it prints the steps consumed (mean per run and % of no
 * pruning), the median over seeds of the regret of the best trial's NOISELESS
 * y(100) (best trial = best observed final among COMPLETE trials; regret =
 * its noiseless y(100) - the global optimum of the noiseless y(100)), no
 * pruning's median regret when stopped after the same number of steps (per
 * seed), and in how many runs the truly best sampled trial was pruned.
 *
 * With --optuna it also runs bench/optuna_pruning.py (Optuna 3.1 from Debian
 * under /usr/bin/python3, TPE sampler) on the same curves.
 *
 *   npm run build && node dist/bench/pruning.js [--optuna [--optuna-jobs 2]] [--seeds 20] [--trials 100]
 *       [--pruners none,median,...] [--samplers auto,tpe] [--json FILE] [--tune JSON]
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import type { PrunerSpec, Study } from "../server/core/model.js";
import { CurvePruner, type CurveTuning } from "../server/core/pruners/index.js";
import { AVAILABLE_ALGORITHMS, createSampler } from "../server/core/samplers/index.js";
import { compileSpace, type ParameterDef, type Params } from "../server/core/space.js";
import { buildRuntime, validateNewStudy } from "../server/core/study-spec.js";
import { StudyRuntime, type ReportInput } from "../server/core/study-runtime.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const CURVES = join(ROOT, "bench", "data", "curves.json");
const OPTUNA_SCRIPT = join(ROOT, "bench", "optuna_pruning.py");

// ---- the curve suite ----------------------------------------------------------

interface CurveParam {
  name: string;
  type: "float" | "int";
  low: number;
  high: number;
  log: boolean;
}

interface CurveCheck {
  params?: Record<string, number>;
  final?: number;
  a?: number;
  tau?: number;
  y_clean?: Record<string, number>;
  noise_z?: Array<{ seed: number; trial: number; step: number; z: number }>;
  [key: string]: unknown;
}

interface CurveSuite {
  params: CurveParam[];
  max_step: number;
  noise_sd: number;
  optimum_y100: number;
  checks: CurveCheck[];
}

export interface Config {
  lr: number;
  momentum: number;
  batch_size: number;
  weight_decay: number;
}

export function lowbias32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The suite's standard normal noise z(seed, trial, step), bit-exact. */
export function noiseZ(seed: number, trial: number, step: number): number {
  const h0 = lowbias32((seed + 0x9e3779b9) >>> 0);
  const h1 = lowbias32((h0 ^ trial) >>> 0);
  const h2 = lowbias32((h1 ^ step) >>> 0);
  const h3 = lowbias32((h2 ^ 0x68bc21eb) >>> 0);
  const u1 = (h2 + 0.5) / 4294967296;
  const u2 = (h3 + 0.5) / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export function curveTerms(c: Config): { final: number; a: number; tau: number } {
  const u = Math.log10(c.lr);
  const b = Math.log2(c.batch_size);
  const w = Math.log10(c.weight_decay);
  const m = c.momentum;
  const uStar = -2.5 + 0.2 * (b - 6);
  const final = 0.05 + 0.04 * (u - uStar) ** 2 + 0.1 * (m - 0.9) ** 2 + 0.01 * (w + 4) ** 2 + 0.005 * (b - 6) ** 2;
  const tau = Math.max(1, 25 * Math.pow(10, -0.35 * (u + 2)) * (1 - 0.6 * m) * Math.pow(2, 0.2 * (b - 6)));
  const a = 1 + 0.5 * m;
  return { final, a, tau };
}

export function yClean(c: Config, step: number): number {
  const { final, a, tau } = curveTerms(c);
  return final + a * Math.exp(-step / tau);
}

function yNoisy(suite: CurveSuite, c: Config, seed: number, trial: number, step: number): number {
  return yClean(c, step) + suite.noise_sd * noiseZ(seed, trial, step);
}

function close(got: number, want: number, what: string, failures: string[]): void {
  if (!(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)))) failures.push(`${what}: got ${got}, want ${want}`);
}

/** Verifies the formula and the noise against the suite's checks; throws listing every mismatch. */
export function verifySuite(suite: CurveSuite): number {
  const failures: string[] = [];
  let n = 0;
  for (const chk of suite.checks) {
    if (chk.noise_z) {
      for (const z of chk.noise_z) {
        close(noiseZ(z.seed, z.trial, z.step), z.z, `z(seed ${z.seed}, trial ${z.trial}, step ${z.step})`, failures);
        n++;
      }
      continue;
    }
    if (!chk.params) continue;
    const c = chk.params as unknown as Config;
    const terms = curveTerms(c);
    for (const k of ["final", "a", "tau"] as const) {
      if (typeof chk[k] === "number") {
        close(terms[k], chk[k], `${k} of ${JSON.stringify(c)}`, failures);
        n++;
      }
    }
    for (const [key, val] of Object.entries(chk)) {
      const m = /^y_seed(\d+)_trial(\d+)$/.exec(key);
      if (key === "y_clean" || m) {
        for (const [step, want] of Object.entries(val as Record<string, number>)) {
          const got = m ? yNoisy(suite, c, Number(m[1]), Number(m[2]), Number(step)) : yClean(c, Number(step));
          close(got, want, `${key}[${step}] of ${JSON.stringify(c)}`, failures);
          n++;
        }
      }
    }
  }
  if (failures.length > 0 || n === 0) {
    throw new Error(`curves.json checks FAILED (${failures.length} of ${n}):\n  ${failures.join("\n  ") || "no checks found"}`);
  }
  return n;
}

/**
 * The global minimum of the noiseless y(100): for every integer batch size,
 * weight decay at its optimum (w = -4 lies in range and enters only the final
 * value), then (log10 lr, momentum) by a grid and coordinate-wise golden
 * section refinement within the bounds.
 */
export function optimumY100(suite: CurveSuite): { value: number; at: Config } {
  const P = Object.fromEntries(suite.params.map((p) => [p.name, p])) as Record<string, CurveParam>;
  const lr = P.lr as CurveParam;
  const mom = P.momentum as CurveParam;
  const bs = P.batch_size as CurveParam;
  const wd = P.weight_decay as CurveParam;
  const w = Math.min(Math.max(1e-4, wd.low), wd.high);
  const uLo = Math.log10(lr.low);
  const uHi = Math.log10(lr.high);
  let best = { value: Infinity, at: { lr: 0, momentum: 0, batch_size: 0, weight_decay: w } };
  const f = (u: number, m: number, b: number): number => yClean({ lr: 10 ** u, momentum: m, batch_size: b, weight_decay: w }, suite.max_step);
  const golden = (g: (x: number) => number, lo: number, hi: number): number => {
    const r = (Math.sqrt(5) - 1) / 2;
    let a = lo;
    let b = hi;
    for (let i = 0; i < 100; i++) {
      const x1 = b - r * (b - a);
      const x2 = a + r * (b - a);
      if (g(x1) <= g(x2)) b = x2;
      else a = x1;
    }
    return (a + b) / 2;
  };
  for (let b = bs.low; b <= bs.high; b++) {
    let bu = uLo;
    let bm = mom.low;
    let bv = Infinity;
    for (let i = 0; i <= 40; i++) {
      for (let j = 0; j <= 40; j++) {
        const u = uLo + ((uHi - uLo) * i) / 40;
        const m = mom.low + ((mom.high - mom.low) * j) / 40;
        const v = f(u, m, b);
        if (v < bv) [bu, bm, bv] = [u, m, v];
      }
    }
    for (let it = 0; it < 30; it++) {
      bu = golden((u) => f(u, bm, b), Math.max(uLo, bu - 0.1), Math.min(uHi, bu + 0.1));
      bm = golden((m) => f(bu, m, b), Math.max(mom.low, bm - 0.02), Math.min(mom.high, bm + 0.02));
    }
    bv = f(bu, bm, b);
    if (bv < best.value) best = { value: bv, at: { lr: 10 ** bu, momentum: bm, batch_size: b, weight_decay: w } };
  }
  return best;
}

/** --tune: curve pruner knobs for experiments (not API). */
export type TuneArg = Partial<CurveTuning> & { confidence?: number; startupTrials?: number };

// ---- one run --------------------------------------------------------------------

export interface TrialRecord {
  id: number;
  pruned: boolean;
  steps: number;
  /** Observed final value (unpruned trials). */
  observed?: number;
  clean100: number;
  /** The PRUNE reason (pruned trials). */
  reason?: string;
}

export interface RunRecord {
  sampler: string;
  pruner: string;
  seed: number;
  steps: number;
  trials: TrialRecord[];
  ms: number;
}

const ZERO_PRUNER: PrunerSpec = {
  name: "",
  startupTrials: 0,
  warmupSteps: 0,
  intervalSteps: 0,
  percentile: 0,
  patience: 0,
  minResource: 0,
  maxResource: 0,
  reductionFactor: 0,
  brackets: 0,
  confidence: 0,
};

/** hpod pruner configurations of the benchmark (name -> spec). */
export const PRUNER_SPECS: Record<string, Partial<PrunerSpec>> = {
  none: { name: "none" },
  median: { name: "median" },
  percentile25: { name: "percentile", percentile: 25 },
  asha: { name: "asha" },
  hyperband: { name: "hyperband" },
  patience: { name: "patience", patience: 10 },
  curve: { name: "" },
};

function spaceOf(suite: CurveSuite): ParameterDef[] {
  return suite.params.map((p) =>
    p.type === "int"
      ? { name: p.name, domain: { type: "int", low: p.low, high: p.high, log: p.log, step: 1 } }
      : { name: p.name, domain: { type: "float", low: p.low, high: p.high, log: p.log } },
  );
}

function newStudy(suite: CurveSuite, sampler: string, prunerKey: string, seed: number, trials: number): Study {
  const study: Study = {
    name: `curves-${sampler || "auto"}-${prunerKey}-${seed}`,
    namespace: "",
    spec: {
      space: { parameters: spaceOf(suite) },
      objectives: [{ name: "loss", direction: "minimize" }],
      constraints: [],
      algorithm: { name: sampler === "auto" ? "" : sampler, seed },
      pruner: { ...ZERO_PRUNER, ...(PRUNER_SPECS[prunerKey] ?? { name: prunerKey }) },
      maxTrials: trials,
      heartbeatTimeoutMs: 0,
      maxStaleRetries: 0,
    },
    state: "ACTIVE",
    stateReason: "",
    createTime: 0,
    updateTime: 0,
    resolvedAlgorithm: "",
    labels: {},
    nextTrialId: 0,
  };
  validateNewStudy(study);
  return study;
}

export function runOne(
  suite: CurveSuite,
  sampler: string,
  prunerKey: string,
  seed: number,
  nTrials: number,
  tuning?: TuneArg,
): RunRecord {
  const started = performance.now();
  const study = newStudy(suite, sampler, prunerKey, seed, nTrials);
  let now = 1;
  let rt: StudyRuntime;
  if (tuning && prunerKey === "curve") {
    const space = compileSpace(study.spec.space, "study.spec.search_space");
    // The sampler validateNewStudy resolved (auto's choice needs the study's hints).
    const { sampler: s } = createSampler({ ...study.spec.algorithm, name: study.resolvedAlgorithm || study.spec.algorithm.name }, space);
    const { confidence, startupTrials, ...rest } = tuning as TuneArg;
    const pruner = new CurvePruner(
      { startupTrials: startupTrials ?? 5, warmupSteps: 0, intervalSteps: 1, minResource: 0, maxResource: 0, confidence: confidence ?? 0.95 },
      rest,
    );
    rt = new StudyRuntime(study, space, s, pruner, [], now);
  } else {
    rt = buildRuntime(study, [], now);
  }
  const base = (trialId: number): ReportInput => ({
    trialId,
    values: [],
    constraintValues: [],
    metrics: {},
    final: false,
    failed: false,
    failureReason: "",
    workerId: "w",
  });
  const out: TrialRecord[] = [];
  let steps = 0;
  for (let i = 0; i < nTrials; i++) {
    const s = rt.suggest(1, "w", now++);
    const t = s.trials[0];
    if (!t) throw new Error(`run ${study.name}: Suggest gave no trial (${s.reason})`);
    const c = paramsToConfig(t.params);
    let pruned = false;
    let used = 0;
    let last = Number.NaN;
    let reason = "";
    for (let step = 1; step <= suite.max_step; step++) {
      last = yNoisy(suite, c, seed, t.id, step);
      const r = rt.report({ ...base(t.id), step, values: [last] }, now++);
      used++;
      if (r.decision === "PRUNE") {
        pruned = true;
        reason = r.reason;
        break;
      }
    }
    steps += used;
    const rec: TrialRecord = { id: t.id, pruned, steps: used, clean100: yClean(c, suite.max_step) };
    if (pruned) rec.reason = reason;
    else {
      rt.report({ ...base(t.id), final: true, values: [last] }, now++);
      rec.observed = last;
    }
    out.push(rec);
  }
  return { sampler, pruner: prunerKey, seed, steps, trials: out, ms: performance.now() - started };
}

function paramsToConfig(p: Params): Config {
  return { lr: p.lr as number, momentum: p.momentum as number, batch_size: p.batch_size as number, weight_decay: p.weight_decay as number };
}

// ---- metrics --------------------------------------------------------------------

/** The regret of the best observed COMPLETE trial among the first `budget` steps (Infinity: all). */
export function regretOf(run: RunRecord, optimum: number, budget = Infinity): number {
  let used = 0;
  let best: TrialRecord | undefined;
  for (const t of run.trials) {
    used += t.steps;
    if (used > budget) break;
    if (t.observed !== undefined && (!best || t.observed < (best.observed as number))) best = t;
  }
  return best ? best.clean100 - optimum : Number.NaN;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export interface Row {
  engine: "hpod" | "optuna";
  sampler: string;
  pruner: string;
  runs: number;
  totalSteps: number;
  meanSteps: number;
  stepsPct: number;
  medianRegret: number;
  noPruneSameSteps: number;
  truthPruned: number;
  msPerRun: number;
}

export function summarise(engine: Row["engine"], runs: RunRecord[], baseline: Map<number, RunRecord>, optimum: number): Row {
  const steps = runs.map((r) => r.steps);
  const full = runs.length > 0 ? (runs[0] as RunRecord).trials.length * 100 : 1;
  const same = runs.map((r) => {
    const b = baseline.get(r.seed);
    return b ? regretOf(b, optimum, r.steps) : Number.NaN;
  });
  const truthPruned = runs.filter((r) => {
    let best: TrialRecord | undefined;
    for (const t of r.trials) if (!best || t.clean100 < best.clean100) best = t;
    return best?.pruned === true;
  }).length;
  const meanSteps = steps.reduce((a, b) => a + b, 0) / Math.max(1, steps.length);
  return {
    engine,
    sampler: runs[0]?.sampler ?? "",
    pruner: runs[0]?.pruner ?? "",
    runs: runs.length,
    totalSteps: steps.reduce((a, b) => a + b, 0),
    meanSteps,
    stepsPct: (100 * meanSteps) / full,
    medianRegret: median(runs.map((r) => regretOf(r, optimum))),
    noPruneSameSteps: median(same),
    truthPruned,
    msPerRun: runs.reduce((a, r) => a + r.ms, 0) / Math.max(1, runs.length),
  };
}

function printTable(rows: Row[]): void {
  const head = ["engine", "sampler", "pruner", "total steps", "steps/run", "% of none", "median regret", "none, same steps", "best pruned", "ms/run"];
  const body = rows.map((r) => [
    r.engine,
    r.sampler,
    r.pruner,
    String(r.totalSteps),
    r.meanSteps.toFixed(0),
    `${r.stepsPct.toFixed(1)}%`,
    r.medianRegret.toFixed(4),
    r.pruner === "none" || r.pruner === "nop" ? "-" : r.noPruneSameSteps.toFixed(4),
    `${r.truthPruned}/${r.runs}`,
    r.msPerRun.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const b of body) console.log(line(b));
}

/** The bars, for the default sampler with the default pruner. */
function printBars(rows: Row[]): void {
  const def = rows.find((r) => r.engine === "hpod" && r.sampler === "auto" && r.pruner === "curve");
  if (!def) return;
  const check = (ok: boolean, what: string): string => `${ok ? "PASS" : "FAIL"}  ${what}`;
  console.log("\nbars (default sampler, default pruner):");
  console.log(check(def.stepsPct <= 35, `steps ${def.stepsPct.toFixed(1)}% of no pruning (<= 35%)`));
  console.log(check(def.medianRegret <= 0.02, `median regret ${def.medianRegret.toFixed(4)} (<= 0.02)`));
  console.log(
    check(def.medianRegret < def.noPruneSameSteps, `lower than no pruning given the same steps: ${def.medianRegret.toFixed(4)} < ${def.noPruneSameSteps.toFixed(4)}`),
  );
}

// ---- command line -----------------------------------------------------------------

interface Options {
  seeds: number;
  trials: number;
  pruners: string[];
  samplers: string[];
  optuna: boolean;
  optunaPruners: string[];
  optunaJobs: number;
  json?: string;
  tuning?: TuneArg;
}

function parse(argv: string[]): Options {
  const tpe = (AVAILABLE_ALGORITHMS as readonly string[]).includes("tpe");
  const o: Options = {
    seeds: 20,
    trials: 100,
    pruners: Object.keys(PRUNER_SPECS),
    samplers: tpe ? ["auto", "tpe"] : ["auto"],
    optuna: false,
    optunaPruners: ["nop", "median", "sha", "hyperband"],
    optunaJobs: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--seeds") o.seeds = Number(val());
    else if (flag === "--trials") o.trials = Number(val());
    else if (flag === "--pruners") o.pruners = val().split(",");
    else if (flag === "--samplers") o.samplers = val().split(",");
    else if (flag === "--optuna") o.optuna = true;
    else if (flag === "--optuna-pruners") o.optunaPruners = val().split(",");
    else if (flag === "--optuna-jobs") o.optunaJobs = Number(val());
    else if (flag === "--json") o.json = val();
    else if (flag === "--tune") o.tuning = JSON.parse(val()) as TuneArg;
    else throw new Error(`unknown option ${flag}`);
  }
  for (const s of o.samplers) {
    if (s !== "auto" && !(AVAILABLE_ALGORITHMS as readonly string[]).includes(s)) throw new Error(`sampler "${s}" is not available`);
  }
  if (!o.pruners.includes("none")) o.pruners.unshift("none");
  return o;
}

function main(): void {
  const o = parse(process.argv.slice(2));
  const suite = JSON.parse(readFileSync(CURVES, "utf8")) as CurveSuite;
  const nChecks = verifySuite(suite);
  const opt = optimumY100(suite);
  if (Math.abs(opt.value - suite.optimum_y100) > 1e-9) {
    throw new Error(`optimum of y100 ${opt.value} differs from curves.json optimum_y100 ${suite.optimum_y100}`);
  }
  console.log(`curves.json: ${nChecks} checks pass; optimum of noiseless y(100) = ${opt.value.toFixed(6)} at ${JSON.stringify(opt.at)}`);
  console.log(`${o.trials} trials x ${suite.max_step} steps, seeds 1..${o.seeds}, one sequential worker; TPE available: ${(AVAILABLE_ALGORITHMS as readonly string[]).includes("tpe")}`);
  const seeds = Array.from({ length: o.seeds }, (_, i) => i + 1);
  const rows: Row[] = [];
  const all: RunRecord[] = [];
  for (const sampler of o.samplers) {
    const baseline = new Map<number, RunRecord>();
    for (const p of o.pruners) {
      const runs = seeds.map((seed) => runOne(suite, sampler, p, seed, o.trials, p === "curve" ? o.tuning : undefined));
      if (p === "none") for (const r of runs) baseline.set(r.seed, r);
      all.push(...runs);
      const row = summarise("hpod", runs, baseline, opt.value);
      rows.push(row);
      process.stderr.write(`${sampler}/${p}: ${row.meanSteps.toFixed(0)} steps/run, regret ${row.medianRegret.toFixed(4)}\n`);
    }
  }
  if (o.optuna) {
    const res = spawnSync(
      "/usr/bin/python3",
      [
        OPTUNA_SCRIPT,
        ...["--curves", CURVES, "--seeds", String(o.seeds), "--trials", String(o.trials)],
        ...["--pruners", o.optunaPruners.join(","), "--jobs", String(o.optunaJobs)],
      ],
      { encoding: "utf8", maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "inherit"] },
    );
    if (res.status !== 0) throw new Error(`optuna_pruning.py exited with ${res.status}`);
    const runs = JSON.parse(res.stdout) as RunRecord[];
    const baseline = new Map<number, RunRecord>(runs.filter((r) => r.pruner === "nop").map((r) => [r.seed, r]));
    for (const p of o.optunaPruners) {
      const mine = runs.filter((r) => r.pruner === p);
      if (mine.length) rows.push(summarise("optuna", mine, baseline, opt.value));
    }
    all.push(...runs);
  }
  console.log("");
  printTable(rows);
  printBars(rows);
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ optimum: opt.value, rows, runs: all }, null, 1));
    console.log(`\nwrote ${o.json}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main();
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
