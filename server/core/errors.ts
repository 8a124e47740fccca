/**
 * The one error type of the domain. Codes are gRPC status numbers, so the rpc
 * layer maps them without a table, but nothing here imports gRPC.
 */
export const Code = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

export class HpodError extends Error {
  readonly code: Code;
  /** Dotted path of the offending request field, when one is to blame. */
  readonly field: string | undefined;

  constructor(code: Code, message: string, field?: string) {
    super(field !== undefined ? `${field}: ${message}` : message);
    this.name = "HpodError";
    this.code = code;
    this.field = field;
  }
}

export const invalid = (field: string, message: string): HpodError =>
  new HpodError(Code.INVALID_ARGUMENT, message, field);
export const notFound = (message: string, field?: string): HpodError =>
  new HpodError(Code.NOT_FOUND, message, field);
export const precondition = (message: string, field?: string): HpodError =>
  new HpodError(Code.FAILED_PRECONDITION, message, field);
