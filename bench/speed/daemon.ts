/**
 * The daemon under test: started as its own process (as in production) on a
 * fresh temp data dir, and its CPU time read from /proc so the cost per call
 * can be separated from the client's.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

// dist/bench/speed/daemon.js -> dist/server/main.js
const DAEMON_MAIN = fileURLToPath(new URL("../../server/main.js", import.meta.url));
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;
const LOG_TAIL = 50;

export interface DaemonHandle {
  address: string;
  /** undefined when an external daemon's pid was not given. */
  pid: number | undefined;
  dataDir: string | undefined;
  /** host:port of the metrics listener when started with `metrics: true`. */
  metricsAddress?: string;
  logTail(): string[];
  /** SIGTERM (SIGKILL after a timeout) and remove the data dir; no-op for an external daemon. */
  stop(): Promise<number | null>;
}

export function externalDaemon(address: string, pid: number | undefined): DaemonHandle {
  return { address, pid, dataDir: undefined, logTail: () => [], stop: async () => null };
}

/**
 * Runs `body` against the daemon and stops it afterwards, however `body`
 * ends: on an error the daemon's log tail is printed first; a SIGINT or
 * SIGTERM stops it too (exit 130), so Ctrl-C leaves no daemon or temp dir.
 */
export async function withDaemon(daemon: DaemonHandle, body: () => Promise<void>, cleanup?: () => void): Promise<void> {
  const onSignal = (): void => void daemon.stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await body();
  } catch (e) {
    const tail = daemon.logTail();
    if (tail.length) console.error(`daemon log tail:\n${tail.join("\n")}`);
    throw e;
  } finally {
    const code = await daemon.stop();
    cleanup?.();
    if (code !== null && code !== 0) console.error(`daemon exited with code ${code}`);
  }
}

export interface StartOptions {
  /** Metrics listener on a free loopback port (its address in `metricsAddress`); default: the daemon's default. */
  metrics?: boolean;
  /** Extra daemon flags. */
  args?: string[];
  /** Temp dir prefix (default "hpod-speed-"). */
  prefix?: string;
}

export async function startDaemon(o: StartOptions = {}): Promise<DaemonHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), o.prefix ?? "hpod-speed-"));
  const extra = [...(o.metrics ? ["--metrics-listen", "127.0.0.1:0"] : []), ...(o.args ?? [])];
  const proc = spawn(process.execPath, [DAEMON_MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--exit-with-stdin", ...extra], {
    env: { ...process.env, HPOD_LOG_FORMAT: "json" },
    // A stdin pipe the daemon watches: it stops when the bench dies, however it dies.
    stdio: ["pipe", "ignore", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((res) => proc.once("exit", (code) => res(code)));
  let address: string;
  const seen: { metrics?: string } = {};
  try {
    address = await waitListening(proc, logs, exited, seen);
  } catch (e) {
    proc.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  return {
    address,
    pid: proc.pid,
    dataDir,
    ...(seen.metrics !== undefined ? { metricsAddress: seen.metrics } : {}),
    logTail: () => logs.slice(),
    stop: async () => {
      const code = await terminate(proc, exited);
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * Resolves with the address from the "listening" log line. The reader stays
 * attached afterwards: a stderr pipe nobody drains would block the daemon.
 */
function waitListening(proc: ChildProcess, logs: string[], exited: Promise<number | null>, seen: { metrics?: string }): Promise<string> {
  return new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`daemon did not start within ${START_TIMEOUT_MS} ms:\n${logs.join("\n")}`)), START_TIMEOUT_MS);
    createInterface({ input: proc.stderr! }).on("line", (line) => {
      logs.push(line);
      if (logs.length > LOG_TAIL) logs.shift();
      const m = listeningAddress(line, "metrics listening");
      if (m) seen.metrics = m;
      const addr = listeningAddress(line);
      if (addr) {
        clearTimeout(timer);
        res(addr);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`daemon exited with ${code} before listening:\n${logs.join("\n")}`));
    });
  });
}

function listeningAddress(line: string, msg = "listening"): string | undefined {
  try {
    const rec = JSON.parse(line) as { msg?: unknown; address?: unknown };
    return rec.msg === msg && typeof rec.address === "string" ? rec.address : undefined;
  } catch {
    return undefined;
  }
}

async function terminate(proc: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

let clockTicks: number | undefined;

/** USER_HZ: /proc reports CPU time in these ticks (almost always 100). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface CpuTimes {
  userMs: number;
  systemMs: number;
}

/** utime and stime of all threads of a process, or undefined when unreadable (not Linux, gone). */
export function cpuTimes(pid: number | undefined): CpuTimes | undefined {
  if (pid === undefined) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; fields after
  // the last ')' start at field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [user, system] = [Number(fields[11]), Number(fields[12])];
  if (!Number.isFinite(user) || !Number.isFinite(system)) return undefined;
  return { userMs: (user * 1000) / ticksPerSecond(), systemMs: (system * 1000) / ticksPerSecond() };
}

export function cpuTimeMs(pid: number | undefined): number | undefined {
  const t = cpuTimes(pid);
  return t && t.userMs + t.systemMs;
}

/**
 * CPU time all processes on the machine spent busy, in ms: what is left after
 * subtracting the daemon and the clients is other load that skews the run.
 */
export function machineBusyMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync("/proc/stat", "utf8");
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal ...; guest time is already inside user.
  const [user, nice, system, , , irq, softirq, steal] = stat.split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const ticks = user + nice + system + irq + softirq + (steal ?? 0);
  return Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond() : undefined;
}

/** The file system type of a directory (fsync cost depends on it), e.g. "ext2/ext3", "tmpfs", "overlayfs". */
export function fsType(dir: string | undefined): string {
  if (dir === undefined) return "unknown";
  try {
    return execFileSync("stat", ["-f", "-c", "%T", dir], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
