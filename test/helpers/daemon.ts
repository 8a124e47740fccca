/**
 * Starts the real daemon (built `dist/server/main.js`) as a child process on
 * 127.0.0.1 with an ephemeral port and a real LevelDB directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const DAEMON_MAIN = join(ROOT, "dist", "server", "main.js");
export const CLI_MAIN = join(ROOT, "dist", "client", "cli", "main.js");

export interface Daemon {
  /** host:port the gRPC server listens on. */
  address: string;
  dataDir: string;
  proc: ChildProcess;
  /** Log lines (stderr) seen so far. */
  logs: string[];
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export function tempDir(prefix = "hpod-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface StartOptions {
  dataDir?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Milliseconds to wait for the listening line. */
  timeoutMs?: number;
  /** "pipe" gives the daemon a stdin pipe (proc.stdin), for --exit-with-stdin. Default "ignore". */
  stdin?: "pipe" | "ignore";
}

export async function startDaemon(opts: StartOptions = {}): Promise<Daemon> {
  const dataDir = opts.dataDir ?? tempDir();
  const args = [DAEMON_MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...(opts.args ?? [])];
  const proc = spawn(process.execPath, args, {
    // Metrics off unless a test asks: parallel daemons would all contend for the default port.
    env: { ...process.env, HPOD_LOG_FORMAT: "json", HPOD_METRICS_LISTEN: "off", ...opts.env },
    stdio: [opts.stdin ?? "ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  const address = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`daemon did not start: ${logs.join("\n")}`)), opts.timeoutMs ?? 15000);
    const rl = createInterface({ input: proc.stderr! });
    rl.on("line", (line) => {
      logs.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; address?: string };
        if (rec.msg === "listening" && rec.address) {
          clearTimeout(timer);
          res(rec.address);
        }
      } catch {
        /* not JSON: keep collecting */
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`daemon exited with ${code} before listening:\n${logs.join("\n")}`));
    });
  });
  proc.stdout!.resume();
  return {
    address,
    dataDir,
    proc,
    logs,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

/** Runs the built `hpo` CLI to completion (no daemon address from the environment). */
export function hpoCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HPOD_ADDRESS: "" } });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    proc.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    proc.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
