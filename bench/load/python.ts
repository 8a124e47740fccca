/**
 * The Python side of the benchmarks: Debian's interpreter with grpcio (and optuna), the generated stubs, and
 * Python client processes (bench/load_worker.py serve) behind the same ClientPool as the grpc-js ones.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ClientPool, Link, type Transport } from "../speed/pool.js";
import type { FromChild } from "../speed/protocol.js";

/** Debian's interpreter: the apt packages (python3-grpcio, python3-optuna) install there, not into a pyenv `python3`. */
export const PYTHON = process.env.HPOD_BENCH_PYTHON ?? "/usr/bin/python3";

// dist/bench/load/python.js (or bench/load/python.ts under vitest) -> the repository root.
const here = fileURLToPath(new URL(".", import.meta.url));
export const REPO_ROOT = here.includes(join("dist", "bench"))
  ? fileURLToPath(new URL("../../../", import.meta.url))
  : fileURLToPath(new URL("../../", import.meta.url));
export const WORKER_PY = join(REPO_ROOT, "bench", "load_worker.py");
export const OPTUNA_PY = join(REPO_ROOT, "bench", "load_optuna.py");

/** Whether `import <module>` works in PYTHON; the error's last line otherwise. */
export function pythonCan(module: string): { ok: true } | { ok: false; why: string } {
  try {
    execFileSync(PYTHON, ["-c", `import ${module}`], { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
    return { ok: true };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    const lines = (err.stderr?.toString() ?? err.message).trim().split("\n");
    return { ok: false, why: `${PYTHON} cannot import ${module}: ${lines[lines.length - 1]}` };
  }
}

export interface PythonEnv {
  env: NodeJS.ProcessEnv;
  /** Where the stubs are, for the header. */
  genDir: string;
  /** Removes stubs generated for this run. */
  cleanup(): void;
}

/**
 * The environment Python workers need: $HPOD_PY_GEN_DIR as given, else examples/python/gen when it holds stubs,
 * else stubs generated now into a temp dir (examples/python/generate.sh) and removed by cleanup().
 */
export function pythonEnv(): PythonEnv {
  const base = { ...process.env, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" };
  const given = process.env.HPOD_PY_GEN_DIR;
  if (given) return { env: base, genDir: given, cleanup: () => undefined };
  const examples = join(REPO_ROOT, "examples", "python", "gen");
  if (existsSync(join(examples, "hpod", "v1", "hpod_service_pb2.py")) && existsSync(join(examples, "hpod", "v1", "diagnostics_service_pb2_grpc.py"))) {
    return { env: base, genDir: examples, cleanup: () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), "hpod-pygen-"));
  const genDir = join(dir, "gen");
  try {
    execFileSync("bash", [join(REPO_ROOT, "examples", "python", "generate.sh"), genDir], { stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`generating the Python stubs failed (examples/python/generate.sh): ${(e as Error).message}`);
  }
  return { env: { ...base, HPOD_PY_GEN_DIR: genDir }, genDir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The ToChild / FromChild messages of bench/speed/protocol.ts as one JSON object per line on stdin / stdout. */
export function lineTransport(proc: ChildProcess): Transport {
  return {
    send: (msg) => void proc.stdin!.write(JSON.stringify(msg) + "\n"),
    onMessage: (cb) =>
      createInterface({ input: proc.stdout! }).on("line", (line) => {
        if (!line.trim()) return;
        try {
          cb(JSON.parse(line) as FromChild);
        } catch {
          cb({ type: "failed", error: `not a JSON message from ${PYTHON}: ${line.slice(0, 200)}` });
        }
      }),
    canSend: () => proc.stdin !== null && proc.stdin.writable && proc.exitCode === null,
  };
}

/** `count` Python client processes (bench/load_worker.py serve); their stderr goes to ours. */
export function startPythonPool(count: number, env: NodeJS.ProcessEnv): ClientPool {
  const links = Array.from({ length: count }, () => {
    const proc = spawn(PYTHON, [WORKER_PY, "serve"], { env, stdio: ["pipe", "pipe", "inherit"] });
    // A Python process that died leaves its stdin closed: writing to it must not crash the coordinator.
    proc.stdin!.on("error", () => undefined);
    return new Link(proc, lineTransport(proc));
  });
  return new ClientPool(links);
}

/** An acknowledged Report of a Python crash worker (bench/load_worker.py crash). */
export interface PythonAck {
  study: string;
  trial: number;
  step: number | "final";
}

export interface PythonCrashEvents {
  ack(a: PythonAck, retried: boolean): void;
  problem(p: string): void;
}

export interface PythonCrashDone {
  workers: number;
  retried: number;
  expired: number;
  stillPending: number;
}

/**
 * K Python workers in one process (bench/load_worker.py crash) for bench/stress/crash-engine.ts: they keep looping
 * across daemon restarts (told each new address), retry unanswered Reports, and report every acknowledged one.
 */
export class PythonCrashWorkers {
  private readonly proc: ChildProcess;
  private doneInfo: PythonCrashDone | undefined;
  private readonly exited: Promise<number | null>;
  private stopping = false;

  constructor(o: { studies: string[]; workers: number; steps: number; env: NodeJS.ProcessEnv }, ev: PythonCrashEvents) {
    this.proc = spawn(PYTHON, [WORKER_PY, "crash", "--studies", o.studies.join(","), "--workers", String(o.workers), "--steps", String(o.steps), "--worker-prefix", "py"], {
      env: o.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.proc.stdin!.on("error", () => undefined);
    let stderr = "";
    this.proc.stderr!.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      if (!line.trim()) return;
      let msg: { ack?: PythonAck; retried?: boolean; problem?: string; done?: PythonCrashDone };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        ev.problem(`python workers: not JSON: ${line.slice(0, 200)}`);
        return;
      }
      if (msg.ack) ev.ack(msg.ack, msg.retried === true);
      else if (msg.problem) ev.problem(`python ${msg.problem}`);
      else if (msg.done) this.doneInfo = msg.done;
    });
    this.exited = new Promise((res) =>
      this.proc.once("close", (code, signal) => {
        if (!this.stopping || code !== 0) ev.problem(`python workers exited (code ${code}, signal ${signal})${this.stopping ? "" : " before they were stopped"}: ${stderr.trim().split("\n").slice(-5).join(" | ")}`);
        res(code);
      }),
    );
  }

  /** The daemon (re)started at this address. */
  address(address: string): void {
    this.proc.stdin!.write(JSON.stringify({ type: "address", address }) + "\n");
  }

  /** Stops the loops; pending Reports get a last try on the current daemon. Resolves with the workers' counters. */
  async stop(timeoutMs = 90_000): Promise<PythonCrashDone | undefined> {
    this.stopping = true;
    this.proc.stdin!.write(JSON.stringify({ type: "stop" }) + "\n");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return this.doneInfo;
  }
}
