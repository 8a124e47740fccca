/**
 * The one error type the SDK throws for failed calls: a gRPC status with its
 * code, the daemon's message and the method that failed.
 */
import { Metadata, status as Status, type ServiceError } from "@grpc/grpc-js";

/** gRPC status code names, indexed by code number. */
const CODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Status)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .map(([name, code]) => [code, name]),
);

/** The canonical name of a gRPC status code, e.g. `NOT_FOUND` for 5. */
export function statusName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

/** Is `value` a grpc-js ServiceError (an Error carrying a status code)? */
export function isServiceError(value: unknown): value is ServiceError {
  return (
    value instanceof Error &&
    typeof (value as Partial<ServiceError>).code === "number" &&
    typeof (value as Partial<ServiceError>).details === "string"
  );
}

/** A failed hpod call. `message` reads `CODE_NAME: details`. */
export class HpodClientError extends Error {
  /** The gRPC status code (`status.NOT_FOUND`, ...). */
  readonly code: Status;
  /** The status name, e.g. `NOT_FOUND`. */
  readonly codeName: string;
  /** The daemon's message; it names the offending field for bad requests. */
  readonly details: string;
  /** Trailing metadata of the failed call (empty when there was none). */
  readonly metadata: Metadata;
  /** The RPC that failed, e.g. `GetStudy`; empty for local failures. */
  readonly method: string;
  /** How many attempts were made (more than one after retries). */
  readonly attempts: number;

  constructor(
    code: Status,
    details: string,
    options: { method?: string; metadata?: Metadata; attempts?: number; cause?: unknown } = {},
  ) {
    super(`${statusName(code)}: ${details}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HpodClientError";
    this.code = code;
    this.codeName = statusName(code);
    this.details = details;
    this.metadata = options.metadata ?? new Metadata();
    this.method = options.method ?? "";
    this.attempts = options.attempts ?? 1;
  }

  /** Wraps a grpc-js ServiceError (or any other thrown value, as UNKNOWN). */
  static from(error: unknown, method = "", attempts = 1): HpodClientError {
    if (error instanceof HpodClientError) return error;
    if (isServiceError(error)) {
      return new HpodClientError(error.code, error.details, {
        method,
        metadata: error.metadata,
        attempts,
        cause: error,
      });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new HpodClientError(Status.UNKNOWN, message, { method, attempts, cause: error });
  }
}
