#!/usr/bin/env node
/**
 * Suggestion latency of hpod's samplers as the study grows: for each named
 * algorithm and each trial count N, N synthetic COMPLETE trials (random
 * parameters, random values) on a 4-parameter space, then `--suggestions`
 * timed calls of sampler.sample() for new trial ids against that history.
 * With --optuna, Optuna 3.1's ask+tell cost per trial at the same N (in-memory
 * storage) through bench/optuna_speed.py. See bench/README.md ("Sampler speed").
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRng } from "../server/core/rng.js";
import { fromUnit } from "../server/core/samplers/domain-map.js";
import { createSampler } from "../server/core/samplers/index.js";
import type { TrialView } from "../server/core/samplers/sampler.js";
import { compileSpace, type FlatParams } from "../server/core/space.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [resolve(HERE, "../.."), resolve(HERE, "..")].find((r) => existsSync(resolve(r, "bench/optuna_speed.py"))) ?? resolve(HERE, "../..");
const OPTUNA_SCRIPT = resolve(ROOT, "bench/optuna_speed.py");
const PYTHON = "/usr/bin/python3";

/** The benchmark space; bench/optuna_speed.py declares the same four parameters. */
export const SPEED_SPACE = compileSpace({
  parameters: [
    { name: "x", domain: { type: "float", low: -5, high: 5, log: false } },
    { name: "lr", domain: { type: "float", low: 1e-5, high: 1, log: true } },
    { name: "n", domain: { type: "int", low: 1, high: 8, log: false, step: 1 } },
    { name: "act", domain: { type: "categorical", valueKind: "string", choices: ["relu", "gelu", "tanh"] } },
  ],
});

/** N COMPLETE trials with uniform random parameters and values (seeded). */
export function syntheticTrials(n: number, seed = 12345): TrialView[] {
  const rng = createRng(seed, n, 0x53504544);
  const trials: TrialView[] = [];
  for (let id = 0; id < n; id++) {
    const flat: FlatParams = {};
    for (const dim of SPEED_SPACE.dims) flat[dim.name] = fromUnit(rng.next(), dim.domain);
    trials.push({ id, state: "COMPLETE", flat, values: [rng.next()] });
  }
  return trials;
}

interface Options {
  algorithms: string[];
  counts: number[];
  suggestions: number;
  optuna: boolean;
  optunaSamplers: string[];
  optunaSuggestions: number;
  json?: string;
}

const USAGE = `usage: node dist/bench/sampler-speed.js [--algorithms tpe] [--counts 100,1000,10000] [--suggestions 50]
       [--optuna] [--optuna-samplers random,tpe,tpe_multivariate] [--optuna-suggestions 20] [--json out.json]`;

function parseArgs(argv: string[]): Options {
  const o: Options = {
    algorithms: ["tpe"],
    counts: [100, 1000, 10000],
    suggestions: 50,
    optuna: false,
    optunaSamplers: ["random", "tpe", "tpe_multivariate"],
    optunaSuggestions: 20,
  };
  const list = (v: string | undefined): string[] => (v ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  const ints = (v: string | undefined, what: string): number[] => {
    const xs = list(v).map(Number);
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`${what} must be integers >= 0\n${USAGE}`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case "--algorithms":
        o.algorithms = list(next());
        break;
      case "--counts":
        o.counts = ints(next(), "--counts");
        break;
      case "--suggestions":
        o.suggestions = Math.max(1, ints(next(), "--suggestions")[0]);
        break;
      case "--optuna":
        o.optuna = true;
        break;
      case "--optuna-samplers":
        o.optunaSamplers = list(next());
        break;
      case "--optuna-suggestions":
        o.optunaSuggestions = Math.max(1, ints(next(), "--optuna-suggestions")[0]);
        break;
      case "--json":
        o.json = next();
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

/** Nearest-rank percentile. */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

interface Row {
  contender: string;
  trials: number;
  p50: number;
  p90: number;
  mean: number;
  samples: number;
}

function measureHpod(algorithm: string, n: number, suggestions: number): Row {
  const { sampler } = createSampler({ name: algorithm, seed: 7 }, SPEED_SPACE, "algorithm");
  const trials = syntheticTrials(n);
  const call = (id: number): void => {
    const r = sampler.sample({ space: SPEED_SPACE, seed: 7, trialId: id, trials, directions: ["minimize"] });
    if (r.kind !== "params") throw new Error(`${algorithm} answered ${r.kind}`);
  };
  // Warm-up: JIT and any per-space memo, on ids not measured.
  for (let k = 0; k < 5; k++) call(n + suggestions + k);
  const times: number[] = [];
  for (let k = 0; k < suggestions; k++) {
    const t0 = performance.now();
    call(n + k);
    times.push(performance.now() - t0);
  }
  return {
    contender: algorithm,
    trials: n,
    p50: percentile(times, 50),
    p90: percentile(times, 90),
    mean: times.reduce((a, b) => a + b, 0) / times.length,
    samples: times.length,
  };
}

function measureOptuna(o: Options): Row[] {
  const args = [OPTUNA_SCRIPT, "--counts", o.counts.join(","), "--suggestions", String(o.optunaSuggestions), "--samplers", o.optunaSamplers.join(",")];
  const out = execFileSync(PYTHON, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out) as Row[];
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]): string => cells.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join("  ");
  return [line(header), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? "?"}, node ${process.version}`);
  console.log(`space: x float [-5, 5], lr log float [1e-5, 1], n int [1, 8], act categorical (3); synthetic COMPLETE trials`);
  const rows: Row[] = [];
  for (const alg of o.algorithms) {
    for (const n of o.counts) {
      const r = measureHpod(alg, n, o.suggestions);
      rows.push(r);
      console.log(`  ${alg} @ ${n}: p50 ${r.p50.toFixed(3)} ms`);
    }
  }
  if (o.optuna) {
    console.log(`running Optuna (${o.optunaSamplers.join(", ")}), ${o.optunaSuggestions} ask+tell per count ...`);
    rows.push(...measureOptuna(o));
  }
  console.log("\n== suggestion latency (hpod: sampler.sample(); optuna_*: ask+tell per trial, in-memory storage), ms ==");
  console.log(
    table(
      ["contender", "trials", "p50", "p90", "mean", "samples"],
      rows.map((r) => [r.contender, String(r.trials), r.p50.toFixed(3), r.p90.toFixed(3), r.mean.toFixed(3), String(r.samples)]),
    ),
  );
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, rows }, null, 1));
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
