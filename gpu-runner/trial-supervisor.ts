/**
 * One trial from start to end: writes its directory (params.json, the
 * command), starts it through the launcher with the trial's variables, turns
 * its metric lines into Report calls (in order, each step once), keeps its
 * lease alive with heartbeats, stops it on a prune decision, a timeout, a
 * lost lease or a shutdown, and sends the one closing report: the final
 * result (from its final line) or FAILED with the exit code and the tail of
 * stderr. A trial that reported itself over gRPC is left as the daemon has it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { status as Status } from "@grpc/grpc-js";

import { HpodClientError } from "../client/errors.js";
import type { HpodClient } from "../client/hpod-client.js";
import { Decision, TrialState, type Trial } from "../client/gen/hpod/v1/trial.js";
import type { Logger } from "../server/log.js";
import { renderCommand, type CommandTemplate } from "./command-template.js";
import { readFileTail } from "./file-tail.js";
import type { ExitInfo, Launcher, TrialProcess } from "./launcher.js";
import { parseMetricLine, type MetricReport } from "./metric-lines.js";
import type { RunnerOptions } from "./options.js";
import type { RunnerMetrics, TrialOutcomeLabel } from "./runner-metrics.js";
import type { Slot } from "./slots.js";
import { plainParams } from "./trial-params.js";

/** The calls the runner makes (an HpodClient, or a stand-in in tests). */
export type RunnerApi = Pick<HpodClient, "getStudy" | "suggest" | "report" | "heartbeat" | "getTrial">;

/** How much of the end of stderr goes into a failure reason. */
export const STDERR_TAIL_BYTES = 2048;

export type StopReason = "pruned" | "timeout" | "shutdown" | "lost";

export interface TrialEnd {
  outcome: TrialOutcomeLabel;
  reason: string;
  exit?: ExitInfo;
}

export interface SupervisorContext {
  api: RunnerApi;
  launcher: Launcher;
  log: Logger;
  metrics: RunnerMetrics;
  template: CommandTemplate;
  options: Pick<RunnerOptions, "logDir" | "cwd" | "env" | "killGraceMs" | "trialTimeoutMs" | "trialAddress">;
  heartbeatMs: number;
}

const TRANSIENT = new Set<number>([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED]);
/** Codes that mean the trial is no longer this runner's to report. */
const GONE = new Set<number>([Status.FAILED_PRECONDITION, Status.NOT_FOUND]);

function codeOf(error: unknown): number | undefined {
  return error instanceof HpodClientError ? error.code : undefined;
}

function message(error: unknown): string {
  if (error instanceof HpodClientError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries a closing report through daemon outages (beyond the SDK's own retries) for up to `budgetMs`. */
async function persist<T>(call: () => Promise<T>, budgetMs = 60_000): Promise<T> {
  const until = Date.now() + budgetMs;
  let delay = 500;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const code = codeOf(error);
      if (code === undefined || !TRANSIENT.has(code) || Date.now() + delay > until) throw error;
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  }
}

function stateName(state: TrialState): string {
  return TrialState[state]?.replace(/^TRIAL_STATE_/, "") ?? String(state);
}

function outcomeOf(state: TrialState): TrialOutcomeLabel {
  switch (state) {
    case TrialState.TRIAL_STATE_COMPLETE:
      return "complete";
    case TrialState.TRIAL_STATE_PRUNED:
      return "pruned";
    case TrialState.TRIAL_STATE_FAILED:
      return "failed";
    default:
      return "lost";
  }
}

function durationOf(ms: number): { seconds: number; nanos: number } {
  const whole = Math.max(0, Math.round(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

function describeExit(info: ExitInfo): string {
  const how = info.code !== null ? `exit code ${info.code}` : info.signal !== null ? `killed by ${info.signal}` : "ended";
  return info.detail !== undefined ? `${how} (${info.detail})` : how;
}

export class TrialSupervisor {
  readonly trialDir: string;
  private readonly log: Logger;
  private proc: TrialProcess | undefined;
  private stopReason: StopReason | undefined;
  private stopMessage = "";
  private stopping: Promise<void> | undefined;
  private startedAt = Date.now();
  /** Steps sent (or already recorded by the daemon when the trial was handed back). */
  private readonly steps = new Set<number>();
  private finalSeen = false;
  /** Step lines not sent because the step was already reported. */
  private skippedSteps = 0;
  private ignoredAfterFinal = 0;
  /** The trial's state after our final report, once acknowledged. */
  private finalState: TrialState | undefined;
  /** The daemon's state as the last heartbeat or report answer gave it. */
  private daemonState: TrialState = TrialState.TRIAL_STATE_RUNNING;
  private reports: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly trial: Trial,
    readonly slot: Slot,
    private readonly ctx: SupervisorContext,
  ) {
    this.trialDir = join(ctx.options.logDir, trial.study, String(trial.id));
    this.log = ctx.log.child({ study: trial.study, trial: trial.id, slot: slot.index });
    for (const m of trial.intermediate) if (m.step !== undefined) this.steps.add(m.step);
  }

  /** Runs the trial to its end; never rejects for trial-level failures. */
  async run(): Promise<TrialEnd> {
    const { trial, slot, ctx } = this;
    const params = plainParams(trial.params);
    const paramsJson = JSON.stringify(params);
    const paramsFile = join(this.trialDir, "params.json");
    const command = renderCommand(ctx.template, params);
    mkdirSync(this.trialDir, { recursive: true });
    writeFileSync(paramsFile, `${JSON.stringify(params, null, 2)}\n`);
    writeFileSync(join(this.trialDir, "command"), `${command}\n`);

    const env: Record<string, string> = {
      PYTHONUNBUFFERED: "1",
      ...ctx.options.env,
      HPOD_PARAMS_JSON: paramsJson,
      HPOD_PARAMS_FILE: paramsFile,
      HPOD_TRIAL_ID: String(trial.id),
      HPOD_STUDY: trial.study,
      HPOD_ADDRESS: ctx.options.trialAddress,
      HPOD_WORKER_ID: slot.workerId,
      HPOD_TRIAL_DIR: this.trialDir,
      HPOD_SLOT: String(slot.index),
    };
    if (slot.cudaVisibleDevices !== undefined) {
      env.CUDA_VISIBLE_DEVICES = slot.cudaVisibleDevices;
      env.CUDA_DEVICE_ORDER = "PCI_BUS_ID";
      env.HPOD_GPU_UUIDS = slot.gpus.map((g) => g.uuid).join(",");
    }

    if (this.stopReason === "shutdown") {
      // Stopped before it started (handed out as the shutdown began): never start it.
      const end = await this.sendFailed(this.stopMessage);
      this.log.info("trial not started", { outcome: end.outcome, reason: end.reason });
      ctx.metrics.trialFinished(end.outcome);
      return end;
    }
    this.startedAt = Date.now();
    this.startHeartbeats();
    ctx.metrics.started.inc();
    ctx.metrics.running.inc();
    try {
      try {
        this.proc = await ctx.launcher.start({
          study: trial.study,
          trialId: trial.id,
          command,
          env,
          cwd: ctx.options.cwd,
          trialDir: this.trialDir,
          gpus: slot.slurmGpus,
          onLine: (line) => this.onLine(line),
        });
      } catch (error) {
        this.stopHeartbeats();
        return await this.failStart(error);
      }
      this.log.info("trial started", {
        command,
        process: this.proc.description,
        ...(slot.cudaVisibleDevices !== undefined ? { cuda_visible_devices: slot.cudaVisibleDevices } : {}),
        ...(this.steps.size > 0 ? { steps_already_recorded: this.steps.size } : {}),
      });
      if (this.stopReason !== undefined) this.stopping ??= this.proc.stop(ctx.options.killGraceMs);
      if (ctx.options.trialTimeoutMs > 0) {
        this.timeoutTimer = setTimeout(
          () => this.stop("timeout", `timed out after ${ctx.options.trialTimeoutMs / 1000} s (--trial-timeout)`),
          ctx.options.trialTimeoutMs,
        );
      }
      const info = await this.proc.exited;
      this.stopHeartbeats();
      clearTimeout(this.timeoutTimer);
      await this.reports;
      await this.stopping;
      const end = await this.finish(info);
      this.log.info("trial ended", {
        outcome: end.outcome,
        reason: end.reason.split("\n")[0],
        exit: describeExit(info),
        ...(this.skippedSteps > 0 ? { skipped_steps: this.skippedSteps } : {}),
      });
      ctx.metrics.trialFinished(end.outcome);
      return end;
    } finally {
      this.stopHeartbeats();
      clearTimeout(this.timeoutTimer);
      ctx.metrics.running.dec();
    }
  }

  /**
   * Stops the trial (SIGTERM to all it runs, SIGKILL after the grace). The
   * first reason wins: "pruned" and "lost" end it with nothing more sent,
   * "timeout" and "shutdown" report it FAILED with `why`.
   */
  stop(reason: StopReason, why: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.stopMessage = why;
    this.log.info("stopping trial", { reason, why });
    if (this.proc !== undefined) this.stopping ??= this.proc.stop(this.ctx.options.killGraceMs);
  }

  /** Whether the trial is being stopped. */
  get stopped(): boolean {
    return this.stopReason !== undefined;
  }

  private onLine(line: string): void {
    const parsed = parseMetricLine(line);
    if (parsed.type === "none") return;
    if (parsed.type === "invalid") {
      this.log.warn("ignoring an invalid metric line", { error: parsed.error, line: line.slice(0, 200) });
      return;
    }
    const report = parsed.report;
    if (this.stopReason === "pruned" || this.stopReason === "lost") return;
    if (this.finalSeen) {
      if (this.ignoredAfterFinal++ === 0) this.log.warn("ignoring metric lines after the final one", { line: line.slice(0, 200) });
      return;
    }
    if (report.kind === "intermediate") {
      const step = report.step as number;
      if (this.steps.has(step)) {
        this.skippedSteps++;
        return;
      }
      this.steps.add(step);
    } else {
      this.finalSeen = true;
    }
    this.reports = this.reports.then(() => this.send(report));
  }

  private async send(report: MetricReport): Promise<void> {
    if (this.stopReason === "pruned" || this.stopReason === "lost") return;
    const { api, metrics } = this.ctx;
    const base = {
      study: this.trial.study,
      trialId: this.trial.id,
      workerId: this.slot.workerId,
      values: report.values,
      constraintValues: report.constraintValues,
      metrics: report.metrics,
      elapsed: durationOf(Date.now() - this.startedAt),
      ...(report.step !== undefined ? { step: report.step } : {}),
    };
    if (report.kind === "final") {
      try {
        const response = await persist(() => api.report({ ...base, final: true }));
        metrics.reported("final");
        this.finalState = response.trialState;
        this.daemonState = response.trialState;
      } catch (error) {
        metrics.reported("final");
        if (codeOf(error) === Status.INVALID_ARGUMENT) {
          // The result itself was refused (e.g. the wrong number of values): fail the trial.
          await this.sendFailed(`result refused by the daemon: ${message(error)}`);
        } else {
          this.log.error("final report failed", { error: message(error) });
          if (GONE.has(codeOf(error) ?? -1)) this.stop("lost", message(error));
        }
      }
      return;
    }
    try {
      const response = await api.report(base);
      metrics.reported("intermediate");
      this.daemonState = response.trialState;
      if (response.decision === Decision.DECISION_PRUNE || response.trialState === TrialState.TRIAL_STATE_PRUNED) {
        this.stop("pruned", response.reason || "pruned");
      } else if (response.trialState !== TrialState.TRIAL_STATE_RUNNING) {
        this.stop("lost", `the daemon has the trial ${stateName(response.trialState)}`);
      }
    } catch (error) {
      metrics.reported("intermediate");
      const code = codeOf(error);
      if (code !== undefined && GONE.has(code)) this.stop("lost", message(error));
      else this.log.warn("intermediate report failed", { step: report.step, error: message(error) });
    }
  }

  private startHeartbeats(): void {
    const ms = this.ctx.heartbeatMs;
    if (!(ms > 0) || !Number.isFinite(ms)) return;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), ms);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.stopReason === "pruned" || this.stopReason === "lost") return;
    this.heartbeatInFlight = true;
    try {
      const response = await this.ctx.api.heartbeat(
        { study: this.trial.study, trialId: this.trial.id, workerId: this.slot.workerId },
        { retry: { maxAttempts: 1 } },
      );
      this.daemonState = response.trialState;
      if (response.decision === Decision.DECISION_PRUNE || response.trialState === TrialState.TRIAL_STATE_PRUNED) {
        this.stop("pruned", response.reason || "pruned");
      } else if (response.trialState === TrialState.TRIAL_STATE_FAILED && this.finalState === undefined) {
        this.stop("lost", "the daemon has the trial FAILED (lease expired, or the trial reported a failure itself)");
      }
    } catch (error) {
      const code = codeOf(error);
      if (code !== undefined && GONE.has(code)) this.stop("lost", message(error));
      else this.log.debug("heartbeat failed", { error: message(error) });
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private async failStart(error: unknown): Promise<TrialEnd> {
    const reason = `could not start the trial: ${message(error)}`;
    this.log.error("trial did not start", { error: message(error) });
    const end = await this.sendFailed(reason);
    this.ctx.metrics.trialFinished(end.outcome);
    return end;
  }

  /** The one FAILED report; a trial that is no longer ours is "lost". */
  private async sendFailed(reason: string): Promise<TrialEnd> {
    try {
      const response = await persist(() =>
        this.ctx.api.report({
          study: this.trial.study,
          trialId: this.trial.id,
          workerId: this.slot.workerId,
          failed: true,
          failureReason: reason,
          elapsed: durationOf(Date.now() - this.startedAt),
        }),
      );
      this.ctx.metrics.reported("failed");
      this.finalState = response.trialState;
      return { outcome: outcomeOf(response.trialState), reason };
    } catch (error) {
      this.ctx.metrics.reported("failed");
      this.log.error("failure report failed", { error: message(error), reason: reason.split("\n")[0] });
      return { outcome: "lost", reason: `${reason} (not recorded: ${message(error)})` };
    }
  }

  private async stderrTail(): Promise<string> {
    const tail = await readFileTail(join(this.trialDir, "stderr"), STDERR_TAIL_BYTES);
    return tail === "" ? "" : `; stderr tail:\n${tail}`;
  }

  private async finish(info: ExitInfo): Promise<TrialEnd> {
    if (this.stopReason === "pruned") return { outcome: "pruned", reason: this.stopMessage, exit: info };
    if (this.stopReason === "lost") return { outcome: "lost", reason: this.stopMessage, exit: info };
    if (this.finalState !== undefined) {
      if (info.code !== 0) this.log.warn("trial ended badly after its final result; the result stands", { exit: describeExit(info) });
      return { outcome: outcomeOf(this.finalState), reason: "", exit: info };
    }
    if (this.stopReason === "timeout" || this.stopReason === "shutdown") {
      return { ...(await this.sendFailed(`${this.stopMessage}${await this.stderrTail()}`)), exit: info };
    }
    if (info.code === 0) {
      // No final line: did the trial report itself?
      let state = this.daemonState;
      try {
        state = (await persist(() => this.ctx.api.getTrial({ study: this.trial.study, trialId: this.trial.id }))).trial?.state ?? state;
      } catch (error) {
        this.log.warn("cannot read the trial back", { error: message(error) });
      }
      if (state !== TrialState.TRIAL_STATE_RUNNING) {
        return { outcome: outcomeOf(state), reason: `reported by the trial itself (${stateName(state)})`, exit: info };
      }
      const reason = 'exit code 0 without a final result: no {"hpod": {"final": ...}} line on stdout and no final report of its own';
      return { ...(await this.sendFailed(`${reason}${await this.stderrTail()}`)), exit: info };
    }
    return { ...(await this.sendFailed(`${describeExit(info)}${await this.stderrTail()}`)), exit: info };
  }
}
