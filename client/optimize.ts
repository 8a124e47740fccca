/**
 * optimize(): the worker loop. Runs `concurrency` slots, each asking the
 * daemon for a trial, running the objective on it and reporting the result.
 */
import { status as Status } from "@grpc/grpc-js";

import { TrialState, type Trial } from "./gen/hpod/v1/trial.js";
import { HpodClientError } from "./errors.js";
import type { HpodClient } from "./hpod-client.js";
import { sleep } from "./retry.js";
import { durationFromMs, toValues, TrialRun, type ObjectiveResult, type TrialContext } from "./trial-context.js";
import { TrialPruned } from "./trial-pruned.js";
import { defaultWorkerId, slotWorkerId } from "./worker-id.js";

/** The function being optimised. */
export type ObjectiveFunction = (trial: TrialContext) => Promise<ObjectiveResult> | ObjectiveResult;

/** Options of {@link optimize}. */
export interface OptimizeOptions {
  /**
   * The most trials this call runs, over all slots. The call also ends when
   * the study is done (budget reached, grid exhausted, stopped).
   * @default Infinity (until the study is done)
   */
  trials?: number;
  /**
   * How many trials run at once, each in its own slot with its own worker id.
   * @default 1
   */
  concurrency?: number;
  /**
   * Base worker id; slot `i` asks as `${workerId}/${i}`. Keep it stable
   * across restarts so that a restarted worker gets its RUNNING trials back.
   * @default defaultWorkerId(): HPOD_WORKER_ID, else `${hostname}:${pid}:${random}`
   */
  workerId?: string;
  /**
   * Stops handing out new trials when aborted; running objectives see it
   * through {@link TrialContext.signal} and their results are still reported.
   * @default none
   */
  signal?: AbortSignal;
  /**
   * Interval of automatic heartbeats while an objective runs; 0 disables them.
   * @default a quarter of the study's heartbeat_timeout, between 1 s and 60 s
   */
  heartbeatIntervalMs?: number;
  /**
   * Wait before asking again when the daemon hands out nothing without a
   * `retry_after` (e.g. a paused study).
   * @default 1000
   */
  idleRetryMs?: number;
  /** Called after each trial this call finished. */
  onTrialFinished?: (outcome: TrialOutcome) => void;
}

/** What became of one trial run by {@link optimize}. */
export interface TrialOutcome {
  trialId: number;
  workerId: string;
  /** The trial's state after its last report, as the daemon answered. */
  state: TrialState;
  /** The final values sent (empty when pruned or failed by an error). */
  values: number[];
  /** The objective's error (FAILED) or TrialPruned (PRUNED), when thrown. */
  error?: unknown;
}

/** The result of {@link optimize}. */
export interface OptimizeResult {
  /** Every trial this call ran, in the order they finished. */
  trials: TrialOutcome[];
  /** True when the daemon said the study hands out no more trials. */
  studyDone: boolean;
  /** True when `signal` stopped the call. */
  aborted: boolean;
}

const MIN_HEARTBEAT_MS = 1_000;
const MAX_HEARTBEAT_MS = 60_000;
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10 * 60_000;

function checkCount(name: string, value: number, allowInfinity: boolean): void {
  const ok = (allowInfinity && value === Infinity) || (Number.isInteger(value) && value >= 1);
  if (!ok) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message !== "" ? error.message : error.name;
  return String(error);
}

/** Failures of a report that concern only that trial (it went stale, ...). */
function isTrialLocal(error: unknown): boolean {
  return (
    error instanceof HpodClientError &&
    (error.code === Status.FAILED_PRECONDITION || error.code === Status.ABORTED || error.code === Status.INVALID_ARGUMENT)
  );
}

interface FinalValues {
  values: number[];
  constraintValues: number[];
  metrics: Record<string, number>;
}

function normalizeResult(result: unknown): FinalValues {
  if (typeof result === "number") return { values: [result], constraintValues: [], metrics: {} };
  if (Array.isArray(result) && result.every((v): v is number => typeof v === "number")) {
    return { values: [...result], constraintValues: [], metrics: {} };
  }
  if (typeof result === "object" && result !== null && "values" in result) {
    const r = result as { values: unknown; constraintValues?: unknown; metrics?: unknown };
    const values = typeof r.values === "number" || Array.isArray(r.values) ? normalizeResult(r.values).values : undefined;
    if (values !== undefined) {
      return {
        values,
        constraintValues: Array.isArray(r.constraintValues) ? toValues(r.constraintValues as number[]) : [],
        metrics: typeof r.metrics === "object" && r.metrics !== null ? (r.metrics as Record<string, number>) : {},
      };
    }
  }
  throw new TypeError(`objective returned ${JSON.stringify(result) ?? String(result)}, not a number or number[]`);
}

/**
 * Runs trials of `study` until `trials` were run by this call or the study
 * is done. Each of `concurrency` slots loops: Suggest (count 1, its own
 * worker id) → `objective(trial)` → final Report.
 *
 * - An objective that throws {@link TrialPruned} after a PRUNE decision ends
 *   its trial with nothing more sent (the daemon keeps it PRUNED).
 * - Any other error is reported as `failed` with the error's message, and the
 *   slot goes on with the next trial.
 * - A NaN (or infinite) result is reported as it is; the daemon marks the
 *   trial FAILED.
 *
 * Rejects with an {@link HpodClientError} when the daemon cannot be used
 * (unreachable after retries, study missing, ...) — or with the error of an
 * `onTrialFinished` callback — after the other slots finished their current
 * trial (their objectives see `signal` aborted).
 */
export async function optimize(
  client: HpodClient,
  study: string,
  objective: ObjectiveFunction,
  options: OptimizeOptions = {},
): Promise<OptimizeResult> {
  const maxTrials = options.trials ?? Infinity;
  const concurrency = options.concurrency ?? 1;
  checkCount("trials", maxTrials, true);
  checkCount("concurrency", concurrency, false);
  const baseWorkerId = options.workerId ?? defaultWorkerId();
  const idleRetryMs = options.idleRetryMs ?? 1000;

  const stop = new AbortController();
  const userSignal = options.signal;
  const onUserAbort = (): void => stop.abort(userSignal?.reason);
  if (userSignal?.aborted) stop.abort(userSignal.reason);
  userSignal?.addEventListener("abort", onUserAbort, { once: true });

  const outcomes: TrialOutcome[] = [];
  let reserved = 0;
  let studyDone = false;
  let fatal: { error: unknown } | undefined;

  const fail = (error: unknown): void => {
    fatal ??= { error };
    stop.abort(error);
  };

  let heartbeatMs = options.heartbeatIntervalMs;
  if (heartbeatMs === undefined) {
    let timeout;
    try {
      timeout = (await client.getStudy({ name: study }, { signal: stop.signal })).study?.spec?.heartbeatTimeout;
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
    const timeoutMs =
      timeout !== undefined && (timeout.seconds > 0 || timeout.nanos > 0)
        ? timeout.seconds * 1000 + timeout.nanos / 1e6
        : DEFAULT_HEARTBEAT_TIMEOUT_MS;
    heartbeatMs = Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, timeoutMs / 4));
  }
  const heartbeatIntervalMs = heartbeatMs;

  /** The next trial for `workerId`, or undefined when the slot should end. */
  const nextTrial = async (workerId: string): Promise<Trial | undefined> => {
    while (!stop.signal.aborted && !studyDone) {
      let response;
      try {
        response = await client.suggest({ study, count: 1, workerId }, { signal: stop.signal });
      } catch (error) {
        if (stop.signal.aborted) return undefined;
        throw error;
      }
      const trial = response.trials[0];
      if (trial !== undefined) return trial;
      if (response.studyDone) {
        studyDone = true;
        return undefined;
      }
      const wait = response.retryAfter;
      const waitMs = wait !== undefined && (wait.seconds > 0 || wait.nanos > 0) ? wait.seconds * 1000 + wait.nanos / 1e6 : idleRetryMs;
      try {
        await sleep(waitMs, stop.signal);
      } catch {
        return undefined;
      }
    }
    return undefined;
  };

  const report = async (run: TrialRun, final: FinalValues | { failure: string }): Promise<TrialState> => {
    const base = { study, trialId: run.id, workerId: run.workerId, elapsed: durationFromMs(run.elapsedMs()) };
    const response =
      "failure" in final
        ? await client.report({ ...base, failed: true, failureReason: final.failure })
        : await client.report({ ...base, ...final, final: true });
    return response.trialState;
  };

  const runTrial = async (trial: Trial, workerId: string): Promise<TrialOutcome> => {
    const run = new TrialRun(client, trial, workerId, stop.signal);
    run.startHeartbeats(heartbeatIntervalMs);
    let result: ObjectiveResult | undefined;
    let thrown: { error: unknown } | undefined;
    try {
      result = await objective(run);
    } catch (error) {
      thrown = { error };
    } finally {
      run.stopHeartbeats();
    }
    const outcome: TrialOutcome = { trialId: trial.id, workerId, state: TrialState.TRIAL_STATE_UNSPECIFIED, values: [] };
    if (thrown !== undefined) outcome.error = thrown.error;

    if (thrown !== undefined && run.shouldPrune) {
      // Pruned by the daemon: it already recorded the trial as PRUNED.
      outcome.state = TrialState.TRIAL_STATE_PRUNED;
      return outcome;
    }
    let final: FinalValues | { failure: string };
    if (thrown === undefined) {
      try {
        final = normalizeResult(result);
        outcome.values = final.values;
      } catch (error) {
        outcome.error = error;
        final = { failure: errorMessage(error) };
      }
    } else if (thrown.error instanceof TrialPruned) {
      final = { failure: `objective threw TrialPruned without a PRUNE decision: ${errorMessage(thrown.error)}` };
    } else {
      final = { failure: errorMessage(thrown.error) };
    }
    try {
      outcome.state = await report(run, final);
    } catch (error) {
      if (!isTrialLocal(error)) throw error;
      outcome.error ??= error;
      if (!("failure" in final) && error instanceof HpodClientError && error.code === Status.INVALID_ARGUMENT) {
        // The result itself was refused (e.g. wrong number of values): fail
        // the trial, or the daemon would hand it to this slot again.
        try {
          outcome.state = await report(run, { failure: `result refused by the daemon: ${error.details}` });
        } catch (second) {
          if (!isTrialLocal(second)) throw second;
        }
      }
    }
    return outcome;
  };

  const runSlot = async (slot: number): Promise<void> => {
    const workerId = slotWorkerId(baseWorkerId, slot);
    while (!stop.signal.aborted && !studyDone && reserved < maxTrials) {
      reserved++;
      let trial: Trial | undefined;
      try {
        trial = await nextTrial(workerId);
      } finally {
        if (trial === undefined) reserved--;
      }
      if (trial === undefined) return;
      const outcome = await runTrial(trial, workerId);
      outcomes.push(outcome);
      options.onTrialFinished?.(outcome);
    }
  };

  try {
    await Promise.all(Array.from({ length: concurrency }, (_, slot) => runSlot(slot).catch(fail)));
  } finally {
    userSignal?.removeEventListener("abort", onUserAbort);
  }
  if (fatal !== undefined) throw fatal.error;
  return { trials: outcomes, studyDone, aborted: userSignal?.aborted ?? false };
}
