/**
 * Retry policy of the SDK: exponential backoff with jitter, applied to
 * UNAVAILABLE (all methods) and DEADLINE_EXCEEDED (idempotent reads only).
 */
import { status as Status } from "@grpc/grpc-js";

import { HpodClientError } from "./errors.js";

/** How failed calls are retried. */
export interface RetryOptions {
  /**
   * Attempts in all, the first one included; 1 disables retries.
   * @default 5
   */
  maxAttempts: number;
  /**
   * Delay before the first retry, in milliseconds.
   * @default 50
   */
  initialBackoffMs: number;
  /**
   * Upper bound of any one delay, in milliseconds.
   * @default 2000
   */
  maxBackoffMs: number;
  /**
   * Factor by which the delay grows after each retry.
   * @default 2
   */
  multiplier: number;
  /**
   * Random spread of each delay as a fraction of it: the delay is drawn
   * uniformly from `[d * (1 - jitter), d * (1 + jitter)]` (then capped at
   * `maxBackoffMs`). 0 gives exact delays.
   * @default 0.2
   */
  jitter: number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 2000,
  multiplier: 2,
  jitter: 0.2,
});

/** Fills in defaults and checks ranges. */
export function resolveRetryOptions(partial: Partial<RetryOptions> | undefined): RetryOptions {
  const r: RetryOptions = { ...DEFAULT_RETRY, ...partial };
  if (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${r.maxAttempts}`);
  }
  if (!(r.initialBackoffMs >= 0)) throw new RangeError(`retry.initialBackoffMs must be >= 0, got ${r.initialBackoffMs}`);
  if (!(r.maxBackoffMs >= 0)) throw new RangeError(`retry.maxBackoffMs must be >= 0, got ${r.maxBackoffMs}`);
  if (!(r.multiplier >= 1)) throw new RangeError(`retry.multiplier must be >= 1, got ${r.multiplier}`);
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new RangeError(`retry.jitter must be in [0, 1], got ${r.jitter}`);
  return r;
}

/**
 * The delay before retry number `retry` (1 for the first retry).
 * `random` returns a value in [0, 1).
 */
export function backoffDelayMs(policy: RetryOptions, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** (retry - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxBackoffMs, base + spread));
}

/** Whether a failure with `code` may be retried for a call of that kind. */
export function isRetryable(code: Status, idempotentRead: boolean): boolean {
  return code === Status.UNAVAILABLE || (idempotentRead && code === Status.DEADLINE_EXCEEDED);
}

/** Resolves after `ms`, or rejects with CANCELLED as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function cancelled(signal: AbortSignal | undefined): HpodClientError {
  return new HpodClientError(Status.CANCELLED, "aborted by the caller", { cause: signal?.reason });
}

export interface RetryContext {
  method: string;
  idempotentRead: boolean;
  policy: RetryOptions;
  signal?: AbortSignal;
  /** Called before each retry's delay (for logging or tests). */
  onRetry?: (info: { method: string; attempt: number; delayMs: number; error: HpodClientError }) => void;
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable status, or
 * the attempts are spent. Every failure comes out as an HpodClientError.
 */
export async function withRetry<T>(ctx: RetryContext, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (raw) {
      const error = HpodClientError.from(raw, ctx.method, n);
      if (n >= ctx.policy.maxAttempts || !isRetryable(error.code, ctx.idempotentRead) || ctx.signal?.aborted) {
        throw error;
      }
      const delayMs = backoffDelayMs(ctx.policy, n, ctx.random);
      ctx.onRetry?.({ method: ctx.method, attempt: n, delayMs, error });
      await sleep(delayMs, ctx.signal);
    }
  }
}
