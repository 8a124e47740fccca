/**
 * The runner loop: checks the study and the command template, plans the
 * slots (GPUs, CPU slots or Slurm jobs), serves its metrics, then runs one
 * loop per slot — Suggest with the slot's worker id, supervise the trial,
 * repeat — until the study is done, --max-trials were started, or a shutdown.
 *
 * Shutdown (SIGTERM, or the abort signal): no new trials; running ones may
 * finish for `shutdownGraceMs`, then they are stopped and reported FAILED
 * ("runner shutting down"). A second request skips the rest of the grace.
 */
import { mkdirSync } from "node:fs";
import type { Server } from "node:http";

import { status as Status } from "@grpc/grpc-js";

import { HpodClientError } from "../client/errors.js";
import type { Trial } from "../client/gen/hpod/v1/trial.js";
import type { Logger } from "../server/log.js";
import { checkPlaceholders, parseTemplate, type CommandTemplate } from "./command-template.js";
import { queryNvidiaSmi, selectGpus, type GpuInfo } from "./gpu-discovery.js";
import type { Launcher } from "./launcher.js";
import { LocalLauncher } from "./local-launcher.js";
import { defaultCpuSlots, type RunnerOptions } from "./options.js";
import { RunnerMetrics, serveMetrics, type TrialOutcomeLabel } from "./runner-metrics.js";
import { SlurmLauncher } from "./slurm-launcher.js";
import { describeSlot, planCpuSlots, planGpuSlots, planSlurmSlots, type Slot } from "./slots.js";
import { TrialSupervisor, type RunnerApi } from "./trial-supervisor.js";

/** Heartbeat timeout the daemon applies when the study sets none. */
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10 * 60_000;
const MIN_HEARTBEAT_MS = 100;
/** Wait after Suggest fails with UNAVAILABLE (beyond the SDK's retries). */
const UNAVAILABLE_WAIT_MS = 5_000;

/** A setup problem found before any trial starts (unknown placeholder, bad GPU list, ...). */
export class RunnerSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunnerSetupError";
  }
}

export interface RunnerResult {
  /** Trials started by this runner. */
  started: number;
  outcomes: Record<TrialOutcomeLabel, number>;
  /** The daemon said the study hands out no more trials. */
  studyDone: boolean;
  /** A shutdown request ended the run. */
  shutdown: boolean;
  slots: Slot[];
}

export interface RunnerDeps {
  api: RunnerApi;
  log: Logger;
  /** The nvidia-smi binary (default "nvidia-smi" on PATH). */
  nvidiaSmi?: string;
  /** Called once the metrics endpoint listens (tests read the port). */
  onMetricsListening?: (address: string) => void;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Runner {
  private readonly metrics = new RunnerMetrics();
  private readonly active = new Set<TrialSupervisor>();
  private readonly wake = new AbortController();
  private stopping = false;
  private graceTimer: NodeJS.Timeout | undefined;
  private studyDone = false;
  private reserved = 0;
  private fatal: { error: unknown } | undefined;
  private readonly outcomes: Record<TrialOutcomeLabel, number> = { complete: 0, pruned: 0, failed: 0, lost: 0 };

  constructor(
    private readonly options: RunnerOptions,
    private readonly deps: RunnerDeps,
  ) {}

  /** The metrics registry (for tests and embedding). */
  get registry(): RunnerMetrics["registry"] {
    return this.metrics.registry;
  }

  /** Runs until the study is done, --max-trials were started, or a shutdown (abort of `signal`). */
  async run(signal?: AbortSignal): Promise<RunnerResult> {
    const { options, deps } = this;
    const log = deps.log;
    const { study } = await deps.api.getStudy({ name: options.study });
    if (study === undefined) throw new RunnerSetupError(`study "${options.study}" not returned by the daemon`);
    const parameterNames = (study.spec?.searchSpace?.parameters ?? []).map((p) => p.name);
    let template: CommandTemplate;
    try {
      template = parseTemplate(options.command);
      checkPlaceholders(template, options.study, parameterNames);
    } catch (error) {
      throw new RunnerSetupError(errorText(error));
    }
    const timeout = study.spec?.heartbeatTimeout;
    const timeoutMs = timeout !== undefined && (timeout.seconds > 0 || timeout.nanos > 0) ? timeout.seconds * 1000 + timeout.nanos / 1e6 : DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const heartbeatMs = options.heartbeatMs ?? Math.max(MIN_HEARTBEAT_MS, Math.floor(timeoutMs / 3));

    const { slots, listed } = await this.planSlots();
    this.metrics.slots.set(slots.length);
    mkdirSync(options.logDir, { recursive: true });

    let server: Server | undefined;
    let gpuTimer: NodeJS.Timeout | undefined;
    const launcher: Launcher =
      options.launcher === "slurm"
        ? new SlurmLauncher(
            { partition: options.partition, time: options.slurmTime, gpuFlag: options.slurmGpuFlag, sbatchArgs: options.sbatchArgs, pollMs: options.slurmPollMs, killGraceMs: options.killGraceMs },
            log,
          )
        : new LocalLauncher(log, options.killGraceMs);
    const onAbort = (): void => this.shutdown();
    try {
      // GPU metrics describe this machine whatever the slots are (CPU slots, Slurm jobs included).
      const readings = listed ?? (await queryNvidiaSmi(deps.nvidiaSmi).catch(() => undefined));
      if (readings !== undefined && readings.length > 0) {
        this.metrics.setGpus(readings);
        gpuTimer = this.pollGpus();
      }
      if (options.metricsListen !== undefined) {
        const served = await serveMetrics(this.metrics.registry, options.metricsListen);
        server = served.server;
        log.info("metrics listening", { metrics_address: served.address });
        deps.onMetricsListening?.(served.address);
      }
      log.info("runner started", {
        study: options.study,
        launcher: options.launcher,
        slots: slots.map(describeSlot),
        heartbeat_ms: heartbeatMs,
        log_dir: options.logDir,
      });

      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) this.shutdown();
      const ctx = { api: deps.api, launcher, log, metrics: this.metrics, template, options, heartbeatMs };
      await Promise.all(slots.map((slot) => this.runSlot(slot, ctx).catch((error: unknown) => this.fail(error))));
    } finally {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(this.graceTimer);
      clearInterval(gpuTimer);
      launcher.close();
      const open = server;
      if (open !== undefined) await new Promise<void>((resolve) => open.close(() => resolve()));
    }
    if (this.fatal !== undefined) throw this.fatal.error;
    const result: RunnerResult = {
      started: this.reserved,
      outcomes: { ...this.outcomes },
      studyDone: this.studyDone,
      shutdown: this.stopping,
      slots,
    };
    log.info("runner finished", { started: result.started, ...result.outcomes, study_done: result.studyDone, shutdown: result.shutdown });
    return result;
  }

  /**
   * Stops taking trials; running ones get the shutdown grace, then are
   * stopped and reported FAILED. Called again: stops them now.
   */
  shutdown(): void {
    if (this.stopping) {
      this.stopAll();
      return;
    }
    this.stopping = true;
    this.wake.abort();
    if (this.active.size === 0) return;
    this.deps.log.info("shutting down: no new trials", { running: this.active.size, grace_ms: this.options.shutdownGraceMs });
    this.graceTimer = setTimeout(() => this.stopAll(), this.options.shutdownGraceMs);
  }

  private stopAll(): void {
    clearTimeout(this.graceTimer);
    for (const sup of this.active) sup.stop("shutdown", "runner shutting down");
  }

  private fail(error: unknown): void {
    this.fatal ??= { error };
    this.deps.log.error("runner stops: the daemon cannot be used", { error: errorText(error) });
    this.shutdown();
  }

  private async planSlots(): Promise<{ slots: Slot[]; listed: GpuInfo[] | undefined }> {
    const { options, deps } = this;
    const base = options.workerId;
    if (options.launcher === "slurm") return { slots: planSlurmSlots(base, options.slots ?? 4, options.gpusPerTrial), listed: undefined };
    try {
      if (options.gpus === "none") return { slots: planCpuSlots(base, options.slots ?? defaultCpuSlots()), listed: undefined };
      let listed: GpuInfo[] | undefined;
      if (options.gpus === "auto") {
        listed = await queryNvidiaSmi(deps.nvidiaSmi);
        if (listed === undefined || listed.length === 0) {
          deps.log.info(listed === undefined ? "nvidia-smi not found: CPU slots" : "nvidia-smi lists no GPU: CPU slots");
          return { slots: planCpuSlots(base, options.slots ?? defaultCpuSlots()), listed: undefined };
        }
      } else {
        listed = await queryNvidiaSmi(deps.nvidiaSmi).catch((error: unknown) => {
          deps.log.warn("nvidia-smi failed: using the --gpus list as given, without GPU metrics", { error: errorText(error) });
          return undefined;
        });
        if (listed === undefined) deps.log.warn("nvidia-smi not found: using the --gpus list as given, without GPU metrics");
      }
      const gpus = selectGpus(options.gpus === "auto" ? undefined : options.gpus, listed);
      const slots = planGpuSlots({ workerIdBase: base, gpus, trialsPerGpu: options.trialsPerGpu, gpusPerTrial: options.gpusPerTrial, maxSlots: options.slots });
      return { slots, listed };
    } catch (error) {
      throw new RunnerSetupError(errorText(error));
    }
  }

  private pollGpus(): NodeJS.Timeout {
    let warned = false;
    let inFlight = false;
    const timer = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      queryNvidiaSmi(this.deps.nvidiaSmi)
        .then((gpus) => {
          if (gpus !== undefined) this.metrics.setGpus(gpus);
          warned = false;
        })
        .catch((error: unknown) => {
          if (!warned) this.deps.log.warn("nvidia-smi failed; GPU metrics keep their last reading", { error: errorText(error) });
          warned = true;
        })
        .finally(() => (inFlight = false));
    }, this.options.gpuPollMs);
    timer.unref();
    return timer;
  }

  private async runSlot(slot: Slot, ctx: ConstructorParameters<typeof TrialSupervisor>[2]): Promise<void> {
    while (!this.stopping && !this.studyDone && this.reserved < this.options.maxTrials) {
      this.reserved++;
      let trial: Trial | undefined;
      try {
        trial = await this.nextTrial(slot);
      } finally {
        if (trial === undefined) this.reserved--;
      }
      if (trial === undefined) return;
      const sup = new TrialSupervisor(trial, slot, ctx);
      if (this.stopping) {
        // Handed out while the shutdown began: fail it rather than start it.
        sup.stop("shutdown", "runner shutting down (before the trial started)");
      }
      this.active.add(sup);
      try {
        const end = await sup.run();
        this.outcomes[end.outcome]++;
      } finally {
        this.active.delete(sup);
      }
    }
  }

  /** The slot's next trial, or undefined when the slot should end. */
  private async nextTrial(slot: Slot): Promise<Trial | undefined> {
    const { api, log } = this.deps;
    while (!this.stopping && !this.studyDone) {
      let response;
      try {
        response = await api.suggest({ study: this.options.study, count: 1, workerId: slot.workerId }, { signal: this.wake.signal });
      } catch (error) {
        if (this.stopping || this.studyDone) return undefined;
        if (error instanceof HpodClientError && error.code === Status.UNAVAILABLE) {
          log.warn("the daemon is unavailable; asking again", { slot: slot.index, wait_ms: UNAVAILABLE_WAIT_MS, error: error.message });
          await sleep(UNAVAILABLE_WAIT_MS, this.wake.signal);
          continue;
        }
        throw error;
      }
      const trial = response.trials[0];
      if (trial !== undefined) return trial;
      if (response.studyDone) {
        if (!this.studyDone) log.info("the study hands out no more trials", { reason: response.reason });
        this.studyDone = true;
        this.wake.abort();
        return undefined;
      }
      const wait = response.retryAfter;
      const waitMs = wait !== undefined && (wait.seconds > 0 || wait.nanos > 0) ? wait.seconds * 1000 + wait.nanos / 1e6 : 1000;
      await sleep(waitMs, this.wake.signal);
    }
    return undefined;
  }
}
