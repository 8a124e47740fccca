/**
 * The one place domain errors become gRPC statuses. Anything that is not an
 * HpodError is a bug: it is logged with its stack and answered INTERNAL.
 */
import * as grpc from "@grpc/grpc-js";
import { HpodError } from "../core/errors.js";
import type { Logger } from "../log.js";

export function toStatus(e: unknown, log: Logger, method: string): Partial<grpc.StatusObject> {
  if (e instanceof HpodError) return { code: e.code as number as grpc.status, details: e.message };
  log.error("unexpected error in handler", { method, error: (e as Error)?.stack ?? String(e) });
  return { code: grpc.status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}` };
}
