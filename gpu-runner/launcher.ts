/**
 * The launcher contract: starts one trial's command somewhere (a local
 * process group, a Slurm batch job), hands its stdout lines over as they
 * come, reports how it ended, and stops it on request.
 */

export interface LaunchSpec {
  study: string;
  trialId: number;
  /** The rendered shell command, run with /bin/sh -c. */
  command: string;
  /** Variables added to the launcher's environment (HPOD_*, CUDA_VISIBLE_DEVICES, user --env). */
  env: Record<string, string>;
  /** Working directory of the command. */
  cwd: string;
  /** The trial's log directory: the launcher writes `stdout` and `stderr` there. */
  trialDir: string;
  /** GPUs the job asks for (Slurm only; local slots set CUDA_VISIBLE_DEVICES in env). */
  gpus: number;
  /** Called with each stdout line, in order, without its newline. */
  onLine: (line: string) => void;
}

export interface ExitInfo {
  /** The exit status, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it (e.g. "SIGKILL"), or null. */
  signal: string | null;
  /** Extra words from the launcher (a Slurm job state, a spawn error). */
  detail?: string;
}

export interface TrialProcess {
  /** For logs: `pid 1234` or `slurm job 56`. */
  readonly description: string;
  /**
   * Resolves once the command ended and every stdout line was delivered.
   * Never rejects: a failure to start is an ExitInfo with code null and a detail.
   */
  readonly exited: Promise<ExitInfo>;
  /**
   * SIGTERM to everything the trial runs, SIGKILL after `graceMs`; resolves
   * when it is gone (or was force-killed). Safe to call more than once.
   */
  stop(graceMs: number): Promise<void>;
}

export interface Launcher {
  readonly name: "local" | "slurm";
  /**
   * Starts a trial. Before starting, it may clean up what an earlier runner
   * left for the same trial (a local orphan, a Slurm job still running).
   */
  start(spec: LaunchSpec): Promise<TrialProcess>;
  /** Releases what the launcher holds (pollers). */
  close(): void;
}
