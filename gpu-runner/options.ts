/**
 * The runner's options: flags (`hpo runner --flag`), an optional spec file
 * (`--spec runner.yaml|json`, keys named like the flags, kebab- or
 * snake_case), and the documented defaults. Flags win over the file.
 */
import { availableParallelism, hostname } from "node:os";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

import { parse as parseYaml } from "yaml";

import { GpuDiscoveryError, parseGpuList as parseGpuIds } from "./gpu-discovery.js";

function parseGpuList(text: string): string[] {
  try {
    return parseGpuIds(text);
  } catch (error) {
    if (error instanceof GpuDiscoveryError) throw new RunnerOptionsError(error.message);
    throw error;
  }
}

export interface RunnerOptions {
  /** The study to run trials of. Required. */
  study: string;
  /** The command template (see command-template.ts). Required. */
  command: string;
  /** The daemon, as the runner reaches it. */
  address: string;
  /** HPOD_ADDRESS given to trials. Default: `address`. */
  trialAddress: string;
  /** Default "local". */
  launcher: "local" | "slurm";
  /** "auto" (nvidia-smi when installed, else CPU slots), "none" (CPU slots), or explicit ids. Local only. */
  gpus: "auto" | "none" | string[];
  /** Default 1. */
  trialsPerGpu: number;
  /** Default 1 (Slurm: 0 asks for no GPU). */
  gpusPerTrial: number;
  /** CPU slots (default: the number of cores); with GPUs at most this many slots; Slurm: jobs in flight (default 4). */
  slots: number | undefined;
  /** The most trials this runner starts. Default: unlimited (until the study is done). */
  maxTrials: number;
  /** Base of the slot worker ids `<base>/<slot>`. Default: the host name. */
  workerId: string;
  /** Trial logs go to `<logDir>/<study>/<trial id>/`. Default `./hpod-runs`. */
  logDir: string;
  /** Working directory of trial commands. Default: the runner's. */
  cwd: string;
  /** Extra variables for every trial (`--env K=V`, or an `env` map in the spec file). */
  env: Record<string, string>;
  /** SIGTERM-to-SIGKILL grace when a trial is stopped. Default 10 s. */
  killGraceMs: number;
  /** Per-trial time limit; 0: none. Default 0. */
  trialTimeoutMs: number;
  /** On SIGTERM: how long running trials may go on before they are stopped. Default 60 s. */
  shutdownGraceMs: number;
  /** Heartbeat interval; undefined: the study's heartbeat_timeout / 3. */
  heartbeatMs: number | undefined;
  /** Prometheus endpoint `host:port`; undefined: none. */
  metricsListen: string | undefined;
  /** nvidia-smi polling for the GPU metrics. Default 5 s. */
  gpuPollMs: number;
  /** Slurm: `--partition`. */
  partition: string | undefined;
  /** Slurm: `--time`. */
  slurmTime: string | undefined;
  /** Slurm: `--gres=gpu:N` ("gres", default) or `--gpus=N` ("gpus"). */
  slurmGpuFlag: "gres" | "gpus";
  /** Slurm: further sbatch flags. */
  sbatchArgs: string[];
  /** Slurm: squeue and stdout polling interval. Default 1 s. */
  slurmPollMs: number;
  /** JSON-lines logs instead of text. */
  json: boolean;
}

/** A bad flag or spec file; printed with the runner's usage, exit code 2. */
export class RunnerOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunnerOptionsError";
  }
}

/** node:util parseArgs options of `hpo runner`. */
export const RUNNER_FLAGS = {
  address: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  spec: { type: "string" },
  study: { type: "string" },
  command: { type: "string" },
  launcher: { type: "string" },
  gpus: { type: "string" },
  "trials-per-gpu": { type: "string" },
  "gpus-per-trial": { type: "string" },
  slots: { type: "string" },
  "max-trials": { type: "string" },
  "worker-id": { type: "string" },
  "log-dir": { type: "string" },
  cwd: { type: "string" },
  env: { type: "string", multiple: true },
  "kill-grace-seconds": { type: "string" },
  "trial-timeout": { type: "string" },
  "shutdown-grace-seconds": { type: "string" },
  "heartbeat-seconds": { type: "string" },
  "metrics-listen": { type: "string" },
  "gpu-poll-seconds": { type: "string" },
  "trial-address": { type: "string" },
  partition: { type: "string" },
  time: { type: "string" },
  "slurm-gpu-flag": { type: "string" },
  "sbatch-arg": { type: "string", multiple: true },
  "slurm-poll-seconds": { type: "string" },
} as const;

export type RunnerFlagName = keyof typeof RUNNER_FLAGS;
/** Raw values: strings, booleans and string lists from flags; anything from a spec file. */
export type RawValues = Partial<Record<RunnerFlagName, unknown>>;

export const DEFAULTS = {
  launcher: "local",
  gpus: "auto",
  trialsPerGpu: 1,
  gpusPerTrial: 1,
  slurmSlots: 4,
  logDir: "./hpod-runs",
  killGraceSeconds: 10,
  shutdownGraceSeconds: 60,
  gpuPollSeconds: 5,
  slurmGpuFlag: "gres",
  slurmPollSeconds: 1,
} as const;

export const RUNNER_USAGE = `Usage: hpo [--address HOST:PORT] runner --study S --command CMD [options]
       hpo runner --spec runner.yaml [options]

Runs trials of a study on this machine's GPUs (or CPU slots), or as Slurm
batch jobs: asks the daemon for trials (one worker id per slot,
<worker-id>/<slot>), fills the parameters into CMD and runs it, turns the
metric lines it prints into reports, stops pruned trials. See docs/RUNNER.md.

Trial:
  --study S                   the study (required)
  --command CMD               command template run with /bin/sh -c; {name} is the
                              parameter's value, shell-quoted (required)
  --spec FILE                 YAML or JSON file with any of these options (keys as
                              the flags, e.g. trials-per-gpu or trials_per_gpu,
                              env: {K: V}, sbatch-arg: [..]); flags win
  --env K=V                   extra variable for every trial (repeatable)
  --cwd DIR                   working directory of trials (default: current)
  --log-dir DIR               trial logs in DIR/<study>/<trial-id>/{stdout,stderr,
                              params.json} (default ./hpod-runs)
  --max-trials N              start at most N trials (default: until the study is done)
  --trial-timeout DURATION    stop a trial after this long and fail it (default: none)
  --kill-grace-seconds N      SIGTERM to SIGKILL grace when stopping a trial (default 10)
  --shutdown-grace-seconds N  on SIGTERM, let running trials finish this long, then
                              stop them and fail them (default 60)
  --heartbeat-seconds N       heartbeat interval (default: heartbeat_timeout / 3)
  --worker-id BASE            worker ids are BASE/<slot> (default: the host name)
  --trial-address HOST:PORT   HPOD_ADDRESS given to trials (default: --address)

Slots:
  --gpus auto|none|LIST       GPUs to use: auto = every GPU nvidia-smi lists (CPU slots
                              when it is not installed), none = CPU slots, or a list of
                              indices/UUIDs such as 0,1,3 (default auto)
  --trials-per-gpu K          trials sharing one GPU (default 1)
  --gpus-per-trial N          GPUs per trial (default 1; Slurm: 0 asks for none)
  --slots N                   CPU slots (default: number of cores); with GPUs at most N
                              slots; with Slurm the jobs in flight (default 4)

Metrics:
  --metrics-listen HOST:PORT  serve Prometheus metrics at /metrics (default: off)
  --gpu-poll-seconds N        nvidia-smi reading interval for the GPU metrics (default 5)

Slurm (--launcher slurm):
  --launcher local|slurm      run trials as local processes (default) or sbatch jobs
  --partition P               sbatch --partition
  --time LIMIT                sbatch --time (e.g. 30:00)
  --slurm-gpu-flag gres|gpus  ask GPUs as --gres=gpu:N (default) or --gpus=N
  --sbatch-arg ARG            further sbatch flag, e.g. --sbatch-arg=--mem=8G (repeatable)
  --slurm-poll-seconds N      squeue and stdout polling interval (default 1)

Global:
  --address HOST:PORT         daemon address (env HPOD_ADDRESS, default 127.0.0.1:50551)
  --json                      logs as JSON lines
  -h, --help                  this help

DURATION: seconds, or a number with s, m or h (90, 1.5, 90s, 10m, 2h).
Exit status: 0 when the study is done, --max-trials were run, or a signal stopped
the runner; 1 when the daemon cannot be used; 2 on a bad option.
`;

function str(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new RunnerOptionsError(`--${name} must be a string, got ${JSON.stringify(v)}`);
}

function strList(name: string, v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((item) => str(name, item) ?? "");
  const s = str(name, v);
  return s === undefined ? [] : [s];
}

function int(name: string, v: unknown, min: number): number | undefined {
  const s = str(name, v);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!/^\s*\d+\s*$/.test(s) || !Number.isSafeInteger(n) || n < min) {
    throw new RunnerOptionsError(`--${name} must be an integer >= ${min}, got "${s}"`);
  }
  return n;
}

/** Seconds, or a number with an s/m/h suffix, in milliseconds. */
export function parseDurationMs(name: string, v: unknown, allowZero = true): number | undefined {
  const s = str(name, v);
  if (s === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/.exec(s);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m?.[2] ?? "s"] ?? 1000;
  const ms = m ? Number(m[1]) * scale : NaN;
  if (!Number.isFinite(ms) || (!allowZero && ms <= 0)) {
    throw new RunnerOptionsError(`--${name} must be a duration ${allowZero ? ">= 0" : "> 0"} (seconds, or with s, m, h), got "${s}"`);
  }
  return Math.round(ms);
}

function parseEnv(entries: readonly string[], fromFile: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  if (fromFile !== undefined && fromFile !== null) {
    if (typeof fromFile !== "object" || Array.isArray(fromFile)) {
      for (const entry of strList("env", fromFile)) entries = [entry, ...entries];
    } else {
      for (const [k, v] of Object.entries(fromFile)) env[k] = str(`env.${k}`, v) ?? "";
    }
  }
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new RunnerOptionsError(`--env must be KEY=VALUE, got "${entry}"`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  for (const key of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new RunnerOptionsError(`--env: "${key}" is not a valid variable name`);
  }
  return env;
}

/** Reads a spec file: a YAML or JSON mapping with flag-named keys. */
export function readSpecFile(path: string): RawValues {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new RunnerOptionsError(`--spec ${path}: ${(error as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new RunnerOptionsError(`--spec ${path}: not YAML or JSON: ${(error as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new RunnerOptionsError(`--spec ${path}: must be a mapping of options`);
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(doc)) {
    let key = rawKey.replaceAll("_", "-");
    if (key === "sbatch-args") key = "sbatch-arg";
    if (!Object.hasOwn(RUNNER_FLAGS, key) || key === "spec" || key === "help") {
      throw new RunnerOptionsError(`--spec ${path}: unknown key "${rawKey}" (keys are the flags of hpo runner --help)`);
    }
    out[key] = value;
  }
  return out as RawValues;
}

/**
 * Resolves flags (already parsed) over the spec file over the defaults.
 * `address` is the resolved daemon address (flag, HPOD_ADDRESS, default).
 */
export function resolveRunnerOptions(flags: RawValues, address: string): RunnerOptions {
  const specPath = str("spec", flags.spec);
  const file: RawValues = specPath !== undefined ? readSpecFile(specPath) : {};
  const pick = (name: RunnerFlagName): unknown => (flags[name] !== undefined ? flags[name] : file[name]);

  const study = str("study", pick("study"));
  const command = str("command", pick("command"));
  if (study === undefined || study === "") throw new RunnerOptionsError("--study is required");
  if (command === undefined || command.trim() === "") throw new RunnerOptionsError("--command is required");

  const launcher = str("launcher", pick("launcher")) ?? DEFAULTS.launcher;
  if (launcher !== "local" && launcher !== "slurm") throw new RunnerOptionsError(`--launcher must be local or slurm, got "${launcher}"`);

  const gpusRaw = pick("gpus");
  let gpus: RunnerOptions["gpus"] = DEFAULTS.gpus;
  if (Array.isArray(gpusRaw)) gpus = parseGpuList(strList("gpus", gpusRaw).join(","));
  else {
    const g = str("gpus", gpusRaw);
    if (g !== undefined && g !== "auto") gpus = g === "none" ? "none" : parseGpuList(g);
  }

  const slurmOnly: RunnerFlagName[] = ["partition", "time", "slurm-gpu-flag", "sbatch-arg", "slurm-poll-seconds"];
  if (launcher === "local") {
    const given = slurmOnly.filter((name) => pick(name) !== undefined && !(Array.isArray(pick(name)) && (pick(name) as unknown[]).length === 0));
    if (given.length > 0) throw new RunnerOptionsError(`--${given[0]} applies to --launcher slurm only`);
  } else if (gpusRaw !== undefined && gpus !== "auto") {
    throw new RunnerOptionsError("--gpus applies to --launcher local only: Slurm picks the GPUs (use --gpus-per-trial)");
  }

  const slurmGpuFlag = str("slurm-gpu-flag", pick("slurm-gpu-flag")) ?? DEFAULTS.slurmGpuFlag;
  if (slurmGpuFlag !== "gres" && slurmGpuFlag !== "gpus") throw new RunnerOptionsError(`--slurm-gpu-flag must be gres or gpus, got "${slurmGpuFlag}"`);

  const trialsPerGpu = int("trials-per-gpu", pick("trials-per-gpu"), 1) ?? DEFAULTS.trialsPerGpu;
  const gpusPerTrial = int("gpus-per-trial", pick("gpus-per-trial"), launcher === "slurm" ? 0 : 1) ?? DEFAULTS.gpusPerTrial;
  if (trialsPerGpu > 1 && gpusPerTrial > 1) throw new RunnerOptionsError("--trials-per-gpu and --gpus-per-trial cannot both be above 1");
  if (launcher === "slurm" && trialsPerGpu > 1) throw new RunnerOptionsError("--trials-per-gpu applies to --launcher local only");

  const slots = int("slots", pick("slots"), 1) ?? (launcher === "slurm" ? DEFAULTS.slurmSlots : undefined);
  const metricsListen = str("metrics-listen", pick("metrics-listen"));
  const logDir = resolve(str("log-dir", pick("log-dir")) ?? DEFAULTS.logDir);
  const cwd = resolve(str("cwd", pick("cwd")) ?? process.cwd());

  return {
    study,
    command,
    address,
    trialAddress: str("trial-address", pick("trial-address")) ?? address,
    launcher,
    gpus,
    trialsPerGpu,
    gpusPerTrial,
    slots,
    maxTrials: int("max-trials", pick("max-trials"), 1) ?? Infinity,
    workerId: str("worker-id", pick("worker-id")) || hostname(),
    logDir,
    cwd,
    env: parseEnv(strList("env", flags.env), file.env),
    killGraceMs: parseDurationMs("kill-grace-seconds", pick("kill-grace-seconds")) ?? DEFAULTS.killGraceSeconds * 1000,
    trialTimeoutMs: parseDurationMs("trial-timeout", pick("trial-timeout")) ?? 0,
    shutdownGraceMs: parseDurationMs("shutdown-grace-seconds", pick("shutdown-grace-seconds")) ?? DEFAULTS.shutdownGraceSeconds * 1000,
    heartbeatMs: parseDurationMs("heartbeat-seconds", pick("heartbeat-seconds"), false),
    metricsListen: metricsListen === "" ? undefined : metricsListen,
    gpuPollMs: parseDurationMs("gpu-poll-seconds", pick("gpu-poll-seconds"), false) ?? DEFAULTS.gpuPollSeconds * 1000,
    partition: str("partition", pick("partition")),
    slurmTime: str("time", pick("time")),
    slurmGpuFlag,
    sbatchArgs: [...strList("sbatch-arg", file["sbatch-arg"]), ...strList("sbatch-arg", flags["sbatch-arg"])],
    slurmPollMs: parseDurationMs("slurm-poll-seconds", pick("slurm-poll-seconds"), false) ?? DEFAULTS.slurmPollSeconds * 1000,
    json: flags.json === true || file.json === true,
  };
}

/** CPU slots by default: the number of cores. */
export function defaultCpuSlots(): number {
  return availableParallelism();
}
