#!/usr/bin/env node
/**
 * Sample-efficiency benchmark of hpod's samplers on the test functions of
 * bench/data/functions.json (copied from the shared benchmark definitions),
 * optionally next to Optuna 3.1's samplers on the same functions. See
 * bench/README.md ("Quality benchmark").
 *
 * hpod's samplers run in-process and pure: createSampler + compileSpace, then
 * the sequential loop sample -> evaluate -> append a COMPLETE TrialView.
 * Regret = best value found within the budget - the function's optimum.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createSampler, TPE_MULTIVARIATE_BY_DEFAULT, TpeSampler } from "../server/core/samplers/index.js";
import type { Sampler, TrialView } from "../server/core/samplers/sampler.js";
import { compileSpace, type CompiledSpace, type ParameterDef, type ScalarValue } from "../server/core/space.js";

// ---------------------------------------------------------------- definitions

interface ParamSpec {
  name: string;
  type: "float" | "int" | "categorical";
  low?: number;
  high?: number;
  log?: boolean;
  step?: number;
  choices?: (string | number | boolean)[];
}

interface FunctionSpec {
  name: string;
  dim: number;
  params: ParamSpec[];
  optimum: number;
  formula: string;
  constants: Record<string, unknown>;
  checks: { x: Record<string, ScalarValue>; f: number }[];
}

type Point = Record<string, ScalarValue>;
type Objective = (x: Point) => number;

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/bench/ (compiled) or bench/ (source). */
const ROOT = [resolve(HERE, "../.."), resolve(HERE, "..")].find((r) => existsSync(resolve(r, "bench/data/functions.json"))) ?? resolve(HERE, "../..");
const FUNCTIONS_FILE = resolve(ROOT, "bench/data/functions.json");
const OPTUNA_SCRIPT = resolve(ROOT, "bench/optuna_quality.py");
const PYTHON = "/usr/bin/python3";

const num = (x: Point, k: string): number => {
  const v = x[k];
  if (typeof v !== "number") throw new Error(`parameter ${k} is not a number: ${JSON.stringify(v)}`);
  return v;
};
/** x_0 .. x_{d-1} of a point. */
const xs = (x: Point, d: number): number[] => Array.from({ length: d }, (_, i) => num(x, `x${i}`));
const matrix = (c: Record<string, unknown>, k: string): number[][] => c[k] as number[][];
const vector = (c: Record<string, unknown>, k: string): number[] => c[k] as number[];

function hartmann(c: Record<string, unknown>, d: number): Objective {
  const a = matrix(c, "A");
  const p = matrix(c, "P");
  const alpha = vector(c, "alpha");
  return (x) => {
    const v = xs(x, d);
    let s = 0;
    for (let i = 0; i < alpha.length; i++) {
      let inner = 0;
      for (let j = 0; j < d; j++) inner += a[i][j] * (v[j] - p[i][j]) ** 2;
      s += alpha[i] * Math.exp(-inner);
    }
    return -s;
  };
}

/** Each function implemented from its `formula` (and `constants`), by name. */
function implement(f: FunctionSpec): Objective {
  const d = f.dim;
  const base = f.name.replace(/\d+$/, "");
  switch (base) {
    case "branin": {
      const b = 5.1 / (4 * Math.PI ** 2);
      const c = 5 / Math.PI;
      const t = 1 / (8 * Math.PI);
      return (x) => {
        const x0 = num(x, "x0");
        const x1 = num(x, "x1");
        return (x1 - b * x0 ** 2 + c * x0 - 6) ** 2 + 10 * (1 - t) * Math.cos(x0) + 10;
      };
    }
    case "hartmann":
      return hartmann(f.constants, d);
    case "rosenbrock":
      return (x) => {
        const v = xs(x, d);
        let s = 0;
        for (let i = 0; i < d - 1; i++) s += 100 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2;
        return s;
      };
    case "ackley":
      return (x) => {
        const v = xs(x, d);
        let sq = 0;
        let cs = 0;
        for (const t of v) {
          sq += t * t;
          cs += Math.cos(2 * Math.PI * t);
        }
        return -20 * Math.exp(-0.2 * Math.sqrt(sq / d)) - Math.exp(cs / d) + 20 + Math.E;
      };
    case "levy":
      return (x) => {
        const w = xs(x, d).map((t) => 1 + (t - 1) / 4);
        let s = Math.sin(Math.PI * w[0]) ** 2;
        for (let i = 0; i < d - 1; i++) s += (w[i] - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i] + 1) ** 2);
        const last = w[d - 1];
        return s + (last - 1) ** 2 * (1 + Math.sin(2 * Math.PI * last) ** 2);
      };
    case "styblinski_tang":
      return (x) => 0.5 * xs(x, d).reduce((s, t) => s + t ** 4 - 16 * t ** 2 + 5 * t, 0);
    case "rastrigin":
      return (x) => 10 * d + xs(x, d).reduce((s, t) => s + t * t - 10 * Math.cos(2 * Math.PI * t), 0);
    case "six_hump_camel":
      return (x) => {
        const x0 = num(x, "x0");
        const x1 = num(x, "x1");
        return (4 - 2.1 * x0 ** 2 + x0 ** 4 / 3) * x0 ** 2 + x0 * x1 + (-4 + 4 * x1 ** 2) * x1 ** 2;
      };
    case "goldstein_price":
      return (x) => {
        const a = num(x, "x0");
        const b = num(x, "x1");
        const p = 1 + (a + b + 1) ** 2 * (19 - 14 * a + 3 * a ** 2 - 14 * b + 6 * a * b + 3 * b ** 2);
        const q = 30 + (2 * a - 3 * b) ** 2 * (18 - 32 * a + 12 * a ** 2 + 48 * b - 36 * a * b + 27 * b ** 2);
        return p * q;
      };
    case "cat_shifted_sphere": {
      const shift = f.constants.shift as Record<string, number[]>;
      const offset = f.constants.offset as Record<string, number>;
      const weight = f.constants.weight as Record<string, number>;
      return (x) => {
        const k = String(x.variant);
        const sh = shift[k];
        if (sh === undefined) throw new Error(`unknown variant ${k}`);
        let s = 0;
        for (let i = 0; i < 3; i++) s += (num(x, `x${i}`) - sh[i]) ** 2;
        return offset[k] + weight[k] * s;
      };
    }
  }
  throw new Error(`function "${f.name}" has no implementation here (formula: ${f.formula})`);
}

export interface BenchFunction {
  spec: FunctionSpec;
  space: CompiledSpace;
  f: Objective;
}

function paramDef(p: ParamSpec): ParameterDef {
  switch (p.type) {
    case "float":
      return {
        name: p.name,
        domain: { type: "float", low: p.low as number, high: p.high as number, log: p.log ?? false, ...(p.step !== undefined ? { step: p.step } : {}) },
      };
    case "int":
      return { name: p.name, domain: { type: "int", low: p.low as number, high: p.high as number, log: p.log ?? false, step: p.step ?? 1 } };
    case "categorical": {
      const choices = p.choices ?? [];
      const first = choices[0];
      const valueKind = typeof first === "string" ? "string" : typeof first === "boolean" ? "bool" : "number";
      return { name: p.name, domain: { type: "categorical", valueKind, choices } };
    }
  }
}

/** Load, implement and verify every function: a check off by more than 1e-6 relative aborts. */
export function loadFunctions(file = FUNCTIONS_FILE): BenchFunction[] {
  const doc = JSON.parse(readFileSync(file, "utf8")) as { functions: FunctionSpec[] };
  return doc.functions.map((spec) => {
    const f = implement(spec);
    for (const c of spec.checks) {
      const got = f(c.x);
      if (!(Math.abs(got - c.f) <= 1e-6 * Math.abs(c.f) + 1e-12)) {
        throw new Error(`${spec.name}: check failed at ${JSON.stringify(c.x)}: got ${got}, expected ${c.f}`);
      }
    }
    return { spec, space: compileSpace({ parameters: spec.params.map(paramDef) }), f };
  });
}

// ---------------------------------------------------------------- running

/**
 * A TPE contender with another number of start-up trials than the default,
 * `tpe@startup=10` (also tpe_independent@, tpe_multivariate@): how the
 * default was chosen (bench/README.md, "TPE start-up trials").
 */
const TPE_STARTUP = /^(tpe|tpe_independent|tpe_multivariate)@startup=(\d+)$/;

function buildSampler(algorithm: string, seed: number, space: CompiledSpace, maxTrials: number): Sampler {
  const m = TPE_STARTUP.exec(algorithm);
  if (m !== null) return new TpeSampler({ multivariate: m[1] === "tpe_multivariate" || (m[1] === "tpe" && TPE_MULTIVARIATE_BY_DEFAULT), nStartupTrials: Number(m[2]) }, algorithm);
  return createSampler({ name: algorithm, seed }, space, "algorithm", { objectives: 1, maxTrials }).sampler;
}

/**
 * Best value after each budget. Samplers never see the budget, so one run of
 * the largest serves all, except `auto`, which is told the budget (as a study's
 * max_trials) and may choose differently for each: it runs once per budget.
 */
export function runHpod(algorithm: string, fn: BenchFunction, seed: number, budgets: readonly number[]): number[] {
  if (algorithm === "auto" && budgets.length > 1) return budgets.map((b) => runHpod(algorithm, fn, seed, [b])[0] as number);
  const max = Math.max(...budgets);
  const sampler = buildSampler(algorithm, seed, fn.space, max);
  const trials: TrialView[] = [];
  let best = Number.POSITIVE_INFINITY;
  const bestAt: number[] = [];
  for (let id = 0; id < max; id++) {
    const r = sampler.sample({ space: fn.space, seed, trialId: id, trials, directions: ["minimize"] });
    if (r.kind === "params") {
      const value = fn.f(r.flat);
      if (value < best) best = value;
      trials.push({ id, state: "COMPLETE", flat: r.flat, values: [value] });
    } else if (r.kind === "exhausted") {
      // Nothing left to try: the best stays as it is for the larger budgets.
    }
    bestAt.push(best);
  }
  return budgets.map((b) => bestAt[b - 1]);
}

interface Options {
  budgets: number[];
  seeds: number;
  algorithms: string[];
  functions?: string[];
  optuna: boolean;
  optunaSamplers: string[];
  jobs: number;
  json?: string;
  /** Results of earlier runs (their --json files) to report together with this run's. */
  merge: string[];
}

const OPTUNA_SAMPLERS = ["random", "tpe", "tpe_multivariate", "cmaes", "qmc"];

const USAGE = `usage: node dist/bench/quality.js [--budgets 50,200] [--seeds 10] [--algorithms random,quasi_random,tpe]
       [--functions branin,...] [--optuna] [--optuna-samplers ${OPTUNA_SAMPLERS.join(",")}] [--jobs 1] [--json out.json]
       [--merge earlier.json,...]   (add the contenders of earlier runs with the same budgets, seeds and functions)`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    budgets: [50, 200],
    seeds: 10,
    algorithms: ["random", "quasi_random", "tpe"],
    optuna: false,
    optunaSamplers: OPTUNA_SAMPLERS,
    jobs: 1,
    merge: [],
  };
  const list = (v: string | undefined): string[] => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  const ints = (v: string | undefined, what: string): number[] => {
    const xs = list(v).map(Number);
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${what} must be positive integers\n${USAGE}`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case "--budgets":
        o.budgets = ints(next(), "--budgets").sort((x, y) => x - y);
        break;
      case "--seeds":
        o.seeds = ints(next(), "--seeds")[0];
        break;
      case "--algorithms":
        o.algorithms = list(next());
        break;
      case "--functions":
        o.functions = list(next());
        break;
      case "--optuna":
        o.optuna = true;
        break;
      case "--optuna-samplers":
        o.optunaSamplers = list(next());
        break;
      case "--jobs":
        o.jobs = ints(next(), "--jobs")[0];
        break;
      case "--json":
        o.json = next();
        break;
      case "--merge":
        o.merge = list(next());
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  return o;
}

/** results[contender][function][budget index][seed index] = best value found. */
type Results = Record<string, Record<string, number[][]>>;

function runOptuna(o: Options, fns: BenchFunction[]): Results {
  const args = [
    OPTUNA_SCRIPT,
    "--functions-file",
    FUNCTIONS_FILE,
    "--budgets",
    o.budgets.join(","),
    "--seeds",
    String(o.seeds),
    "--samplers",
    o.optunaSamplers.join(","),
    "--only",
    fns.map((f) => f.spec.name).join(","),
    "--jobs",
    String(o.jobs),
  ];
  const out = execFileSync(PYTHON, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out) as Results;
}

// ---------------------------------------------------------------- reporting

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
};

/** Regrets below this count as this much, so ratios and logs stay finite. */
const REGRET_FLOOR = 1e-12;

const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e4 || a < 1e-3 ? x.toExponential(2) : x.toPrecision(3);
};

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]): string => cells.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join("  ");
  return [line(header), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

interface Summary {
  budget: number;
  medians: Record<string, Record<string, number>>;
  meanRank: Record<string, number>;
  geoMeanVsRandom: Record<string, number>;
  reference: string;
}

function summarise(results: Results, fns: BenchFunction[], budgets: number[]): Summary[] {
  const contenders = Object.keys(results);
  const reference = contenders.includes("random") ? "random" : (contenders.find((c) => c.endsWith("random") && !c.includes("quasi")) ?? contenders[0]);
  return budgets.map((budget, bi) => {
    const medians: Record<string, Record<string, number>> = {};
    for (const fn of fns) {
      medians[fn.spec.name] = {};
      for (const c of contenders) {
        const bests = results[c][fn.spec.name][bi];
        medians[fn.spec.name][c] = Math.max(0, median(bests) - fn.spec.optimum);
      }
    }
    const rankSum: Record<string, number> = Object.fromEntries(contenders.map((c) => [c, 0]));
    const logSum: Record<string, number> = Object.fromEntries(contenders.map((c) => [c, 0]));
    for (const fn of fns) {
      const m = medians[fn.spec.name];
      for (const c of contenders) {
        // Average rank among ties.
        const better = contenders.filter((o) => m[o] < m[c]).length;
        const equal = contenders.filter((o) => m[o] === m[c]).length;
        rankSum[c] += better + (equal + 1) / 2;
        logSum[c] += Math.log(Math.max(m[c], REGRET_FLOOR) / Math.max(m[reference], REGRET_FLOOR));
      }
    }
    return {
      budget,
      medians,
      reference,
      meanRank: Object.fromEntries(contenders.map((c) => [c, rankSum[c] / fns.length])),
      geoMeanVsRandom: Object.fromEntries(contenders.map((c) => [c, Math.exp(logSum[c] / fns.length)])),
    };
  });
}

function print(summaries: Summary[], contenders: string[], fns: BenchFunction[], seeds: number): void {
  for (const s of summaries) {
    console.log(`\n== budget ${s.budget} trials, ${seeds} seeds: median regret (best - optimum) ==`);
    console.log(table(["function", ...contenders], fns.map((fn) => [fn.spec.name, ...contenders.map((c) => fmt(s.medians[fn.spec.name][c]))])));
    console.log(`\n-- budget ${s.budget}: summary over ${fns.length} functions (reference: ${s.reference}) --`);
    console.log(
      table(
        ["contender", "mean rank", `geo-mean regret / ${s.reference}`],
        contenders.map((c) => [c, s.meanRank[c].toFixed(2), s.geoMeanVsRandom[c].toFixed(3)]),
      ),
    );
  }
}

/**
 * Adds the contenders of an earlier run. The bench is deterministic (seeded samplers, fixed functions), so a
 * contender's numbers do not depend on which run computed them; the checks make sure the runs measured the same
 * thing. A contender of this run is never replaced.
 */
function mergeResults(results: Results, file: string, o: Options, fns: BenchFunction[]): void {
  const earlier = JSON.parse(readFileSync(file, "utf8")) as { budgets: number[]; seeds: number; functions: Array<{ name: string }>; results: Results };
  const names = fns.map((f) => f.spec.name);
  if (earlier.seeds !== o.seeds || earlier.budgets.join(",") !== o.budgets.join(",")) {
    throw new Error(`${file}: budgets ${earlier.budgets.join(",")} x ${earlier.seeds} seeds, this run ${o.budgets.join(",")} x ${o.seeds}`);
  }
  const missing = names.filter((n) => !earlier.functions.some((f) => f.name === n));
  if (missing.length) throw new Error(`${file} has no results for ${missing.join(", ")}`);
  const added: string[] = [];
  for (const [contender, perFn] of Object.entries(earlier.results)) {
    if (contender in results) continue;
    results[contender] = Object.fromEntries(names.map((n) => [n, perFn[n] as number[][]]));
    added.push(contender);
  }
  console.log(`merged from ${file}: ${added.join(", ") || "nothing new"}`);
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  let fns = loadFunctions();
  console.log(`functions: ${fns.length} loaded from ${FUNCTIONS_FILE}, every check within 1e-6 relative`);
  if (o.functions) {
    const wanted = new Set(o.functions);
    const unknown = o.functions.filter((n) => !fns.some((f) => f.spec.name === n));
    if (unknown.length) throw new Error(`unknown functions: ${unknown.join(", ")}`);
    fns = fns.filter((f) => wanted.has(f.spec.name));
  }
  const results: Results = {};
  for (const alg of o.algorithms) {
    // Fail before running anything when the name is unknown.
    buildSampler(alg, 1, fns[0].space, 0);
    const t0 = performance.now();
    results[alg] = {};
    for (const fn of fns) {
      const perBudget: number[][] = o.budgets.map(() => []);
      for (let s = 1; s <= o.seeds; s++) {
        runHpod(alg, fn, s, o.budgets).forEach((v, bi) => perBudget[bi].push(v));
      }
      results[alg][fn.spec.name] = perBudget;
    }
    console.log(`ran ${alg}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (o.optuna) {
    const t0 = performance.now();
    const optuna = runOptuna(o, fns);
    for (const [k, v] of Object.entries(optuna)) results[k] = v;
    console.log(`ran Optuna (${Object.keys(optuna).join(", ")}): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (const file of o.merge) mergeResults(results, file, o, fns);
  const contenders = Object.keys(results);
  const summaries = summarise(results, fns, o.budgets);
  print(summaries, contenders, fns, o.seeds);
  if (o.json) {
    writeFileSync(
      o.json,
      JSON.stringify({ budgets: o.budgets, seeds: o.seeds, functions: fns.map((f) => ({ name: f.spec.name, optimum: f.spec.optimum })), results, summaries }, null, 1),
    );
    console.log(`\nwrote ${o.json}`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
