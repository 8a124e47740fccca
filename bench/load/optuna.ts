/** One Optuna phase: bench/load_optuna.py with P processes on a fresh journal file or SQLite database. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Summary } from "../speed/stats.js";
import { OPTUNA_PY, PYTHON } from "./python.js";
import type { Sampler, Storage } from "./args.js";

/** A latency summary from Python: null where there were no samples. */
export type PySummary = { [K in keyof Summary]: number | null };

/** What bench/load_optuna.py prints. */
export interface OptunaResult {
  storage: Storage;
  sampler: Sampler;
  procs: number;
  seconds: number;
  startupSeconds: number;
  completed: number;
  perSecond: number;
  asked: number;
  errors: number;
  errorTypes: Record<string, number>;
  firstError: string;
  processesFailed: number;
  processesStuck: number;
  latencyMs: { ask: PySummary; tell: PySummary; roundTrip: PySummary };
  cpuMs: number;
  cpuCores: number | null;
  cpuMsPerTrial: number | null;
  finalStates: Record<string, number>;
  leftRunning: number;
  readbackError: string;
  storageBytes: number | null;
}

export interface OptunaPhase {
  storage: Storage;
  sampler: Sampler;
  procs: number;
  warmup: number;
  seconds: number;
  intermediate: number;
}

/** Start-up of up to a few hundred forked processes plus the window plus the read-back, with room to spare. */
const SLACK_MS = 240_000;

export async function runOptuna(p: OptunaPhase): Promise<OptunaResult> {
  const dir = mkdtempSync(join(tmpdir(), `hpod-load-optuna-${p.storage}-`));
  try {
    const args = [OPTUNA_PY, "--storage", p.storage, "--sampler", p.sampler, "--procs", String(p.procs), "--warmup", String(p.warmup), "--seconds", String(p.seconds), "--intermediate", String(p.intermediate), "--dir", dir];
    const proc = spawn(PYTHON, args, { env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (b: Buffer) => (out += b.toString()));
    proc.stderr.on("data", (b: Buffer) => {
      err += b.toString();
      if (err.length > 20_000) err = err.slice(-10_000);
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), (p.warmup + p.seconds) * 1000 + SLACK_MS);
    const code = await new Promise<number | null>((res) => proc.once("exit", (c) => res(c)));
    clearTimeout(timer);
    const line = out.trim().split("\n").pop() ?? "";
    if (code !== 0 || !line.startsWith("{")) throw new Error(`bench/load_optuna.py (${p.storage}, ${p.procs} procs) exited ${code}:\n${err.slice(-3000)}`);
    return JSON.parse(line) as OptunaResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
