/**
 * TrialContext: what an objective function sees of its trial — its id and
 * parameters, intermediate reports with prune decisions, and heartbeats.
 */
import type { Duration } from "./gen/google/protobuf/duration.js";
import { Decision, type Trial, TrialState } from "./gen/hpod/v1/trial.js";
import type { HpodClient } from "./hpod-client.js";
import { TrialParams } from "./params.js";

/** Extra parts of a measurement besides the objective values. */
export interface MeasurementExtras {
  /** One value per study constraint, in order; feasible when all <= 0. */
  constraintValues?: number[];
  /** Further metrics, recorded but not optimised. */
  metrics?: Record<string, number>;
}

/** What an objective may return: the values, alone or with extras. */
export type ObjectiveResult = number | number[] | ({ values: number | number[] } & MeasurementExtras);

/** The trial an objective works on. */
export interface TrialContext {
  /** The trial id (dense per study). */
  readonly id: number;
  /** The study name. */
  readonly study: string;
  /** The worker id this trial is held under. */
  readonly workerId: string;
  /** Typed access to the parameters. */
  readonly params: TrialParams;
  /** The trial as Suggest returned it. */
  readonly trial: Trial;
  /** Aborted when `optimize` is asked to stop; long objectives should watch it. */
  readonly signal: AbortSignal;
  /** Whether the daemon has answered PRUNE to a report or heartbeat. */
  readonly shouldPrune: boolean;
  /**
   * Sends an intermediate value (one per objective) at `step`. Resolves to
   * true when the daemon decided to prune: then throw {@link TrialPruned}.
   */
  report(step: number, value: number | readonly number[], extras?: MeasurementExtras): Promise<boolean>;
  /** Keeps the lease alive now (optimize also does so on a timer); resolves to shouldPrune. */
  heartbeat(): Promise<boolean>;
}

/** A Duration message of a millisecond count. */
export function durationFromMs(ms: number): Duration {
  const whole = Math.max(0, Math.round(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

/** Values of a report as an array. */
export function toValues(value: number | readonly number[]): number[] {
  return typeof value === "number" ? [value] : [...value];
}

/** The running side of a TrialContext, owned by `optimize`. */
export class TrialRun implements TrialContext {
  readonly id: number;
  readonly study: string;
  readonly params: TrialParams;
  readonly startedAt = Date.now();
  private pruned = false;
  private timer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;

  constructor(
    private readonly client: HpodClient,
    readonly trial: Trial,
    readonly workerId: string,
    readonly signal: AbortSignal,
  ) {
    this.id = trial.id;
    this.study = trial.study;
    this.params = new TrialParams(trial.params);
  }

  get shouldPrune(): boolean {
    return this.pruned;
  }

  /** Milliseconds since the objective started. */
  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  async report(step: number, value: number | readonly number[], extras: MeasurementExtras = {}): Promise<boolean> {
    if (!Number.isSafeInteger(step)) throw new RangeError(`step must be an integer, got ${step}`);
    const response = await this.client.report({
      study: this.study,
      trialId: this.id,
      step,
      values: toValues(value),
      constraintValues: extras.constraintValues ?? [],
      metrics: extras.metrics ?? {},
      elapsed: durationFromMs(this.elapsedMs()),
      workerId: this.workerId,
    });
    this.note(response.decision, response.trialState);
    return this.pruned;
  }

  async heartbeat(): Promise<boolean> {
    const response = await this.client.heartbeat({ study: this.study, trialId: this.id, workerId: this.workerId });
    this.note(response.decision, response.trialState);
    return this.pruned;
  }

  /** Sends heartbeats every `intervalMs` until {@link TrialRun.stopHeartbeats}; failures are ignored. */
  startHeartbeats(intervalMs: number): void {
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) return;
    this.timer = setInterval(() => {
      if (this.heartbeatInFlight) return;
      this.heartbeatInFlight = true;
      this.heartbeat()
        .catch(() => undefined)
        .finally(() => (this.heartbeatInFlight = false));
    }, intervalMs);
    this.timer.unref();
  }

  stopHeartbeats(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private note(decision: Decision, state: TrialState): void {
    if (decision === Decision.DECISION_PRUNE || state === TrialState.TRIAL_STATE_PRUNED) this.pruned = true;
  }
}
