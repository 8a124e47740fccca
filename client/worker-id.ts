/**
 * Stable worker ids. The daemon uses the worker id for idempotency: a worker
 * that asks again while it holds a RUNNING trial gets that trial back.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

let processWorkerId: string | undefined;

/**
 * The worker id of this process: `HPOD_WORKER_ID` when set, else
 * `${hostname}:${pid}:${random}`, created once per process and reused after.
 */
export function defaultWorkerId(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.HPOD_WORKER_ID;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return fromEnv.trim();
  processWorkerId ??= `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  return processWorkerId;
}

/** The worker id of one concurrent slot of a worker: `${base}/${slot}`. */
export function slotWorkerId(base: string, slot: number): string {
  if (!Number.isInteger(slot) || slot < 0) throw new RangeError(`slot must be an integer >= 0, got ${slot}`);
  return `${base}/${slot}`;
}
