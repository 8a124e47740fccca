/**
 * The local launcher: each trial is `/bin/sh -c <command>` in its own process
 * group (spawned detached), its stdout and stderr piped through the runner
 * into `<trial dir>/stdout` and `<trial dir>/stderr`.
 *
 * Because the output goes through pipes, a trial whose runner died is ended
 * by SIGPIPE (Python: BrokenPipeError) at its next output line. The group id
 * is written to `<trial dir>/pgid`; a runner handed the same trial again
 * (a restart with the same worker id) stops that group first, after checking
 * in /proc that it really runs this trial (HPOD_STUDY and HPOD_TRIAL_ID).
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from "node:fs";
import { join } from "node:path";

import type { Logger } from "../server/log.js";
import type { ExitInfo, LaunchSpec, Launcher, TrialProcess } from "./launcher.js";
import { LineSplitter } from "./metric-lines.js";
import { groupAlive, groupHasEnv, terminateGroup } from "./process-group.js";

/** How long to wait for the output pipes to close once the group is gone. */
const PIPE_CLOSE_CAP_MS = 5_000;

function closeFile(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) resolve();
    else stream.end(() => resolve());
  });
}

export class LocalLauncher implements Launcher {
  readonly name = "local";

  constructor(
    private readonly log: Logger,
    /** Grace for leftovers: orphans of an earlier runner, background processes after the main one exited. */
    private readonly killGraceMs: number,
  ) {}

  async start(spec: LaunchSpec): Promise<TrialProcess> {
    mkdirSync(spec.trialDir, { recursive: true });
    await this.reclaimOrphan(spec);

    const stdoutFile = createWriteStream(join(spec.trialDir, "stdout"));
    const stderrFile = createWriteStream(join(spec.trialDir, "stderr"));
    const child = spawn("/bin/sh", ["-c", spec.command], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = child.pid;
    const splitter = new LineSplitter(spec.onLine);
    child.stdout.on("data", (chunk: Buffer) => {
      stdoutFile.write(chunk);
      splitter.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => stderrFile.write(chunk));

    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once("error", (error) => {
        // Spawn failures (a missing cwd, ...): no 'exit' follows.
        if (pid === undefined) resolve({ code: null, signal: null, detail: `could not start: ${error.message}` });
      });
      child.once("exit", (code, signal) => resolve({ code, signal }));
    }).then(async (info) => {
      if (pid !== undefined && groupAlive(pid)) {
        // The main process ended but something it started lives on in its group.
        this.log.info("stopping processes left in the trial's group", { study: spec.study, trial: spec.trialId, pgid: pid });
        await terminateGroup(pid, this.killGraceMs);
      }
      let cap: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (cap = setTimeout(resolve, PIPE_CLOSE_CAP_MS)))]);
      clearTimeout(cap);
      child.stdout.destroy();
      child.stderr.destroy();
      splitter.end();
      await Promise.all([closeFile(stdoutFile), closeFile(stderrFile)]);
      return info;
    });

    if (pid !== undefined) writeFileSync(join(spec.trialDir, "pgid"), `${pid}\n`);
    let stopping: Promise<void> | undefined;
    return {
      description: pid === undefined ? "process (not started)" : `pid ${pid}`,
      exited,
      stop: (graceMs: number): Promise<void> => {
        if (pid === undefined) return Promise.resolve();
        stopping ??= terminateGroup(pid, graceMs).then(() => undefined);
        return stopping;
      },
    };
  }

  close(): void {}

  /** Stops a group an earlier runner left running this same trial. */
  private async reclaimOrphan(spec: LaunchSpec): Promise<void> {
    let pgid: number;
    try {
      pgid = Number(readFileSync(join(spec.trialDir, "pgid"), "utf8").trim());
    } catch {
      return;
    }
    if (!Number.isSafeInteger(pgid) || pgid <= 1) return;
    if (!groupHasEnv(pgid, { HPOD_STUDY: spec.study, HPOD_TRIAL_ID: String(spec.trialId) })) return;
    this.log.warn("stopping the trial's process group left by an earlier runner", { study: spec.study, trial: spec.trialId, pgid });
    await terminateGroup(pgid, this.killGraceMs);
  }
}
