/**
 * The daemon as a child process for the stress tools (bench/*.ts and the
 * stress tests): a given or fresh data dir, extra flags, SIGKILL, and every
 * stderr line kept so a crash's stack can be shown.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

// bench/stress/daemon.ts (vitest) or dist/bench/stress/daemon.js -> the built server.
const here = fileURLToPath(new URL(".", import.meta.url));
export const DAEMON_MAIN = here.includes(`${join("dist", "bench")}`)
  ? fileURLToPath(new URL("../../server/main.js", import.meta.url))
  : fileURLToPath(new URL("../../dist/server/main.js", import.meta.url));

export interface StressDaemon {
  address: string;
  dataDir: string;
  proc: ChildProcess;
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export function freshDir(prefix = "hpod-stress-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startStressDaemon(opts: { dataDir?: string; args?: string[]; timeoutMs?: number } = {}): Promise<StressDaemon> {
  const dataDir = opts.dataDir ?? freshDir();
  // No metrics listener: its fixed default port would clash between daemons running side by side.
  const proc = spawn(process.execPath, [DAEMON_MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--metrics-listen", "off", "--exit-with-stdin", ...(opts.args ?? [])], {
    env: { ...process.env, HPOD_LOG_FORMAT: "json" },
    // A stdin pipe the daemon watches: it stops when the bench dies, however it dies.
    stdio: ["pipe", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once("exit", (code, signal) => res({ code, signal })));
  proc.stdout!.resume();
  const rl = createInterface({ input: proc.stderr! });
  const address = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      rej(new Error(`daemon did not start:\n${logs.slice(-30).join("\n")}`));
    }, opts.timeoutMs ?? 60_000);
    rl.on("line", (line) => {
      if (logs.length > 20_000) logs.splice(0, 10_000);
      logs.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: string; address?: string };
        if (rec.msg === "listening" && rec.address) {
          clearTimeout(timer);
          res(rec.address);
        }
      } catch {
        /* not JSON */
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`daemon exited (${code ?? signal}) before listening:\n${logs.slice(-30).join("\n")}`));
    });
  });
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
  return {
    address,
    dataDir,
    proc,
    logs,
    exited,
    alive,
    stop: async () => {
      if (alive()) proc.kill("SIGTERM");
      const t = setTimeout(() => alive() && proc.kill("SIGKILL"), 20_000);
      const r = await exited;
      clearTimeout(t);
      return r.code;
    },
    kill: async () => {
      if (alive()) proc.kill("SIGKILL");
      await exited;
    },
  };
}
