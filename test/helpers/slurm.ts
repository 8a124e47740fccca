/**
 * A real single-node Slurm for tests, from Debian's packages (slurmctld,
 * slurmd, slurm-client, munge; .ci/install-runner-deps.sh), started without
 * systemd in a temp directory as /work/shared/NOTES.md describes:
 *
 * - its own munged (key, socket in a 0755 directory, pid file);
 * - slurm.conf with GresTypes=gpu and a node with Gres=gpu:N whose gres.conf
 *   File= entries are symlinks to /dev/null (fake GPUs: Slurm then sets
 *   CUDA_VISIBLE_DEVICES per job), SchedulerParameters=batch_sched_delay=0,
 *   SlurmdParameters=config_overrides with CPUs=16 (GPUs, not the 2 real
 *   cores, limit concurrency), MailProg=/bin/true, proctrack/linuxproc,
 *   task/none, accounting_storage/none; ports of its own;
 * - `slurmctld -c -i -f CONF` and `slurmd -f CONF`; ready once sinfo shows the
 *   node idle.
 *
 * Every process that calls Slurm needs SLURM_CONF: use `env`. `stop()` ends
 * the three daemons by their pid files.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { hostname } from "node:os";
import { join } from "node:path";

import { removeDir, tempDir } from "./daemon.js";

export interface SlurmCluster {
  dir: string;
  conf: string;
  /** SLURM_CONF (and PATH) for processes that call Slurm. */
  env: Record<string, string>;
  nodeName: string;
  gpus: number;
  /** Runs a Slurm command with SLURM_CONF set; resolves to its stdout. */
  run(command: string, args: string[]): Promise<string>;
  /** The daemons' log files, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const TOOLS = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "munged", "mungekey"];

/** The Slurm tools that are missing (empty when a cluster can be started). */
export function missingSlurmTools(): string[] {
  return TOOLS.filter((tool) => {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore", env: { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } });
      return false;
    } catch {
      return true;
    }
  });
}

/** Whether Slurm can be started here: tools present and running as root (slurmd needs it). */
export function slurmSkipReason(): string | undefined {
  const missing = missingSlurmTools();
  if (missing.length > 0) return `Slurm is not installed (missing ${missing.join(", ")}; run .ci/install-runner-deps.sh)`;
  if (process.getuid?.() !== 0) return "the Slurm test cluster needs root (slurmd)";
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: timeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function pidOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopByPidFile(file: string): Promise<void> {
  const pid = pidOf(file);
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

/** SIGKILLs what still runs with this cluster's SLURM_CONF (slurmstepd, job processes). */
function killLeftovers(conf: string): void {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(`SLURM_CONF=${conf}`)) process.kill(Number(name), "SIGKILL");
    } catch {
      /* gone, or not ours */
    }
  }
}

export interface SlurmStartOptions {
  /** Fake GPUs on the node (default 4). */
  gpus?: number;
  /** KillWait: seconds between a cancel's SIGTERM and SIGKILL (default 2). */
  killWaitSeconds?: number;
}

export async function startSlurm(o: SlurmStartOptions = {}): Promise<SlurmCluster> {
  const gpus = o.gpus ?? 4;
  const dir = tempDir("hpod-slurm-");
  chmodSync(dir, 0o755);
  const nodeName = hostname().split(".")[0];
  for (const sub of ["munge", "spool", "state", "log", "dev"]) mkdirSync(join(dir, sub), { mode: 0o755 });
  chmodSync(join(dir, "munge"), 0o755);
  for (let i = 0; i < gpus; i++) symlinkSync("/dev/null", join(dir, "dev", `nvidia${i}`));
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const socket = join(dir, "munge", "munge.sock");
  const conf = join(dir, "slurm.conf");
  writeFileSync(
    conf,
    [
      "ClusterName=hpodtest",
      `SlurmctldHost=${nodeName}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      "JobAcctGatherType=jobacct_gather/none",
      "SchedulerType=sched/backfill",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "SchedulerParameters=batch_sched_delay=0",
      "SlurmdParameters=config_overrides",
      "MailProg=/bin/true",
      "GresTypes=gpu",
      "ReturnToService=2",
      "MinJobAge=300",
      `KillWait=${o.killWaitSeconds ?? 2}`,
      `NodeName=${nodeName} NodeAddr=127.0.0.1 CPUs=16 Gres=gpu:${gpus} State=UNKNOWN`,
      `PartitionName=debug Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "gres.conf"), `AutoDetect=off\nNodeName=${nodeName} Name=gpu File=${join(dir, "dev")}/nvidia[0-${gpus - 1}]\n`);

  const env: Record<string, string> = { SLURM_CONF: conf, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` };
  const fullEnv = { ...process.env, ...env };
  const cluster: SlurmCluster = {
    dir,
    conf,
    env,
    nodeName,
    gpus,
    run: (command, args) => run(command, args, fullEnv),
    logs: () =>
      ["slurmctld.log", "slurmd.log", "munged.log"]
        .map((f) => join(dir, "log", f))
        .filter((f) => existsSync(f))
        .map((f) => `== ${f}\n${readFileSync(f, "utf8").split("\n").slice(-30).join("\n")}`)
        .join("\n"),
    stop: async () => {
      // Cancel every job first, so no slurmstepd outlives its slurmd.
      await run("scancel", ["--full", "--signal=KILL", "--state=RUNNING", "--user=root"], fullEnv, 5000).catch(() => "");
      await run("scancel", ["--user=root"], fullEnv, 5000).catch(() => "");
      await Promise.all([stopByPidFile(join(dir, "slurmd.pid")), stopByPidFile(join(dir, "slurmctld.pid"))]);
      await stopByPidFile(join(dir, "munge.pid"));
      killLeftovers(conf);
      removeDir(dir);
    },
  };
  try {
    const key = join(dir, "munge.key");
    await run("mungekey", ["--create", `--keyfile=${key}`], fullEnv);
    chmodSync(key, 0o400);
    await run(
      "munged",
      ["--force", `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${join(dir, "munge.pid")}`, `--log-file=${join(dir, "log", "munged.log")}`, `--seed-file=${join(dir, "munge.seed")}`],
      fullEnv,
    );
    await run("slurmctld", ["-c", "-i", "-f", conf], fullEnv);
    await run("slurmd", ["-f", conf], fullEnv);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const state = await run("sinfo", ["--noheader", "--Node", "--format=%T"], fullEnv).catch(() => "");
      if (/^idle/m.test(state.trim())) break;
      if (Date.now() > deadline) throw new Error(`the Slurm node did not become idle (sinfo: ${state.trim() || "?"})\n${cluster.logs()}`);
      await sleep(100);
    }
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
