/**
 * The Slurm launcher: each trial is one batch job (`sbatch --parsable`)
 * running `/bin/sh -c <command>` with the trial's variables exported by a
 * generated script (`<trial dir>/job.sh`). The job writes its stdout and
 * stderr into the trial directory (a file system the runner shares with the
 * compute nodes); the runner follows the stdout file for metric lines.
 *
 * One poller serves every job: each `pollMs` it runs one
 * `squeue --states=all --jobs=<ids>` and, for jobs that ended (or that squeue
 * no longer lists), `scontrol show job -o <id>` for the state and ExitCode.
 * `sbatch --wait` is not used: it polls slowly.
 *
 * Stop: `scancel --signal=TERM --full` (the batch shell forwards it to the
 * trial's whole process group), then after the grace
 * `scancel --signal=USR2 --batch` (the batch shell SIGKILLs the group) and
 * `scancel`; a job still pending is simply cancelled. See batchScript for why
 * the shell relays the signals. A runner handed a trial whose job (named
 * `hpod-<study>-<trial>`, id in `<trial dir>/jobid`) is still queued or
 * running re-attaches to it instead of submitting again.
 *
 * Every command runs with the runner's environment (export SLURM_CONF when
 * the cluster's configuration is not in the default place).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";

import type { Logger } from "../server/log.js";
import { shellQuote } from "./command-template.js";
import { FileTail } from "./file-tail.js";
import type { ExitInfo, LaunchSpec, Launcher, TrialProcess } from "./launcher.js";
import { LineSplitter } from "./metric-lines.js";

export interface SlurmOptions {
  /** `--partition`; default: the cluster's default partition. */
  partition?: string;
  /** `--time` limit in Slurm's format (`10:00`, `1-00:00:00`); default: the partition's. */
  time?: string;
  /** How GPUs are asked for: `--gres=gpu:N` (default) or `--gpus=N`. */
  gpuFlag: "gres" | "gpus";
  /** Further sbatch flags, passed as they are (e.g. `--mem=8G`). */
  sbatchArgs: string[];
  /** Poll interval of squeue and of the stdout files. */
  pollMs: number;
  /** SIGTERM-to-SIGKILL grace, also used by the batch script for leftovers. */
  killGraceMs: number;
}

/** Job states after which a job never runs again. */
export const TERMINAL_STATES = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "PREEMPTED",
  "OUT_OF_MEMORY",
  "BOOT_FAIL",
  "DEADLINE",
  "SPECIAL_EXIT",
  "REVOKED",
]);

export class SlurmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SlurmError";
  }
}

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Slurm command; never rejects (a missing binary is code 127). */
export function slurmCommand(command: string, args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, [...args], { timeout: timeoutMs, encoding: "utf8", maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ code: 0, stdout, stderr });
        return;
      }
      const errno = (error as NodeJS.ErrnoException).code;
      const code = typeof errno === "number" ? errno : errno === "ENOENT" ? 127 : 1;
      resolve({ code, stdout, stderr: stderr || error.message });
    });
  });
}

/** `sbatch --parsable` prints `jobid` or `jobid;cluster`. */
export function parseSbatchOutput(stdout: string): string {
  const id = stdout.trim().split(/\s+/).pop()?.split(";")[0] ?? "";
  if (!/^\d+(_\d+)?$/.test(id)) throw new SlurmError(`sbatch printed no job id: ${JSON.stringify(stdout.trim())}`);
  return id;
}

/** `squeue -h -o %i|%T` lines as a map id -> state. */
export function parseSqueue(stdout: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const [id, state] = line.trim().split("|");
    if (id && state) states.set(id, state);
  }
  return states;
}

/** The `Key=Value` fields of one `scontrol show job -o` line (values without spaces). */
export function parseScontrolJob(line: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const token of line.trim().split(/\s+/)) {
    const eq = token.indexOf("=");
    if (eq > 0) fields[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return fields;
}

function signalName(n: number): string {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : `signal ${n}`;
}

/** ExitInfo of a finished job from its scontrol fields: `ExitCode=<status>:<signal>`. */
export function exitInfoOf(jobId: string, fields: Record<string, string>): ExitInfo {
  const state = (fields.JobState ?? "UNKNOWN").split("+")[0];
  const [status, sig] = (fields.ExitCode ?? "").split(":").map(Number);
  const reason = fields.Reason && fields.Reason !== "None" ? ` (${fields.Reason})` : "";
  const detail = `slurm job ${jobId} ${state}${reason}`;
  if (Number.isInteger(sig) && sig > 0) return { code: null, signal: signalName(sig), detail };
  if (Number.isInteger(status)) {
    // A job that did not complete but exited 0 (e.g. TIMEOUT) must not read as a success.
    if (status === 0 && state !== "COMPLETED") return { code: null, signal: null, detail };
    return { code: status, signal: null, detail };
  }
  return { code: null, signal: null, detail };
}

/** Signal the batch shell turns into SIGKILL for the trial's process group. */
export const KILL_GROUP_SIGNAL = "USR2";

/**
 * The batch script. It exports the trial's variables and runs the command in
 * a session and process group of its own (`setsid`, util-linux), in the
 * background, waiting for it so that it can act on signals meanwhile:
 *
 * - SIGTERM (scancel --signal=TERM, a Slurm time limit) goes on to the trial's
 *   whole process group — also to processes that outlived their parent and
 *   were re-parented to init, which Slurm's proctrack/linuxproc loses track
 *   of (a plain scancel would leave them running);
 * - SIGUSR2 (sent by the runner once the grace is over) becomes SIGKILL for
 *   the group.
 *
 * When the command has ended, processes left in its group get SIGTERM, then
 * SIGKILL after the kill grace, so the job ends only when all of them are
 * gone. The script exits with the command's status (128+N when signal N
 * ended it).
 */
export function batchScript(spec: LaunchSpec, killGraceMs: number): string {
  const ticks = Math.max(1, Math.ceil(killGraceMs / 100));
  const lines = [
    "#!/bin/sh",
    `# hpod trial ${spec.trialId} of study ${spec.study}, written by hpo runner`,
    ...Object.entries(spec.env)
      .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      .map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `setsid -w /bin/sh -c ${shellQuote(spec.command)} </dev/null &`,
    "child=$!",
    `trap 'kill -TERM -"$child" 2>/dev/null' TERM`,
    `trap 'kill -KILL -"$child" 2>/dev/null' ${KILL_GROUP_SIGNAL}`,
    'wait "$child"; status=$?',
    // wait returns early (>128) when a trapped signal arrives: wait again until the command is gone.
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
    'if kill -0 -"$child" 2>/dev/null; then',
    '  kill -TERM -"$child" 2>/dev/null',
    "  n=0",
    `  while kill -0 -"$child" 2>/dev/null && [ "$n" -lt ${ticks} ]; do sleep 0.1; n=$((n + 1)); done`,
    '  kill -KILL -"$child" 2>/dev/null',
    "fi",
    'exit "$status"',
    "",
  ];
  return lines.join("\n");
}

export function jobName(study: string, trialId: number): string {
  return `hpod-${study}-${trialId}`;
}

interface Watch {
  jobId: string;
  tail: FileTail;
  splitter: LineSplitter;
  state: string;
  missingPolls: number;
  done: boolean;
  resolve: (info: ExitInfo) => void;
}

const ACTIVE_STATES = new Set(["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "SIGNALING", "STAGE_OUT"]);

export class SlurmLauncher implements Launcher {
  readonly name = "slurm";
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  constructor(
    private readonly options: SlurmOptions,
    private readonly log: Logger,
  ) {}

  async start(spec: LaunchSpec): Promise<TrialProcess> {
    mkdirSync(spec.trialDir, { recursive: true });
    const stdoutPath = join(spec.trialDir, "stdout");
    const stderrPath = join(spec.trialDir, "stderr");
    const name = jobName(spec.study, spec.trialId);

    let jobId = await this.activeEarlierJob(spec.trialDir, name);
    if (jobId !== undefined) {
      this.log.warn("re-attaching to the trial's slurm job left by an earlier runner", { study: spec.study, trial: spec.trialId, job: jobId });
    } else {
      const script = join(spec.trialDir, "job.sh");
      writeFileSync(script, batchScript(spec, this.options.killGraceMs), { mode: 0o755 });
      const args = ["--parsable", `--job-name=${name}`, `--output=${stdoutPath}`, `--error=${stderrPath}`, `--chdir=${spec.cwd}`];
      if (this.options.partition !== undefined) args.push(`--partition=${this.options.partition}`);
      if (spec.gpus > 0) args.push(this.options.gpuFlag === "gpus" ? `--gpus=${spec.gpus}` : `--gres=gpu:${spec.gpus}`);
      if (this.options.time !== undefined) args.push(`--time=${this.options.time}`);
      args.push(...this.options.sbatchArgs, script);
      const result = await slurmCommand("sbatch", args);
      if (result.code !== 0) throw new SlurmError(`sbatch failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
      jobId = parseSbatchOutput(result.stdout);
      writeFileSync(join(spec.trialDir, "jobid"), `${jobId}\n`);
    }

    const id = jobId;
    const splitter = new LineSplitter(spec.onLine);
    let resolveExit!: (info: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((resolve) => (resolveExit = resolve));
    const watch: Watch = {
      jobId: id,
      tail: new FileTail(stdoutPath, (chunk) => splitter.push(chunk)),
      splitter,
      state: "PENDING",
      missingPolls: 0,
      done: false,
      resolve: resolveExit,
    };
    this.watches.set(id, watch);
    this.schedule(0);

    let stopping: Promise<void> | undefined;
    return {
      description: `slurm job ${id}`,
      exited,
      stop: (graceMs: number): Promise<void> => {
        stopping ??= this.stopJob(watch, exited, graceMs);
        return stopping;
      },
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async stopJob(watch: Watch, exited: Promise<ExitInfo>, graceMs: number): Promise<void> {
    const id = watch.jobId;
    if (watch.done) return;
    if (watch.state === "PENDING") {
      await slurmCommand("scancel", [id]);
    } else {
      // The batch shell forwards SIGTERM to the trial's whole process group.
      await slurmCommand("scancel", ["--signal=TERM", "--full", id]);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
      const ended = await Promise.race([exited.then(() => true), graceOver]);
      clearTimeout(timer);
      if (!ended) {
        // The batch shell turns SIGUSR2 into SIGKILL for the group; then Slurm's own cancel.
        await slurmCommand("scancel", [`--signal=${KILL_GROUP_SIGNAL}`, "--batch", id]);
        await slurmCommand("scancel", [id]);
      }
    }
    this.schedule(0);
    let cap: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((resolve) => (cap = setTimeout(resolve, 30_000)))]);
    clearTimeout(cap);
  }

  /** The id of a still active job of this trial from an earlier runner, if any. */
  private async activeEarlierJob(trialDir: string, name: string): Promise<string | undefined> {
    let id: string;
    try {
      id = readFileSync(join(trialDir, "jobid"), "utf8").trim();
    } catch {
      return undefined;
    }
    if (!/^\d+$/.test(id)) return undefined;
    const result = await slurmCommand("scontrol", ["show", "job", "-o", id]);
    if (result.code !== 0) return undefined;
    const fields = parseScontrolJob(result.stdout);
    const state = (fields.JobState ?? "").split("+")[0];
    return fields.JobName === name && ACTIVE_STATES.has(state) ? id : undefined;
  }

  private schedule(delayMs: number): void {
    if (this.closed || this.polling) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delayMs);
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    if (this.watches.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.watches.keys()];
      const result = await slurmCommand("squeue", ["--noheader", "--states=all", `--jobs=${ids.join(",")}`, "--format=%i|%T"]);
      const states = result.code === 0 ? parseSqueue(result.stdout) : new Map<string, string>();
      if (result.code !== 0 && ids.length > 1) this.log.warn("squeue failed", { error: result.stderr.trim() });
      for (const watch of [...this.watches.values()]) {
        try {
          await watch.tail.poll();
        } catch (error) {
          this.log.warn("cannot read the job's stdout file", { job: watch.jobId, error: String(error) });
        }
        const state = states.get(watch.jobId);
        if (state !== undefined) {
          watch.state = state;
          watch.missingPolls = 0;
        }
        if (state === undefined || TERMINAL_STATES.has(state)) await this.checkEnded(watch, state === undefined);
      }
    } finally {
      this.polling = false;
      if (this.watches.size > 0) this.schedule(this.options.pollMs);
    }
  }

  private async checkEnded(watch: Watch, missing: boolean): Promise<void> {
    const result = await slurmCommand("scontrol", ["show", "job", "-o", watch.jobId]);
    let info: ExitInfo | undefined;
    if (result.code === 0) {
      const fields = parseScontrolJob(result.stdout);
      const state = (fields.JobState ?? "").split("+")[0];
      if (TERMINAL_STATES.has(state)) info = exitInfoOf(watch.jobId, fields);
      else watch.state = state || watch.state;
    } else if (missing && ++watch.missingPolls >= 3) {
      info = { code: null, signal: null, detail: `slurm job ${watch.jobId} vanished (squeue and scontrol no longer know it)` };
    }
    if (info === undefined) return;
    await watch.tail.poll().catch(() => undefined);
    watch.splitter.end();
    watch.done = true;
    this.watches.delete(watch.jobId);
    watch.resolve(info);
  }
}
