/**
 * grpc-js answers INTERNAL when a request cannot be deserialised, and the
 * generated decoders throw on malformed bytes (and on int64 values past 2^53).
 * Wrapping each request deserialiser turns that into a marker the handler
 * answers with INVALID_ARGUMENT.
 */
import type { ServiceDefinition } from "@grpc/grpc-js";

const DECODE_FAILED = Symbol("decode-failed");

export interface DecodeFailure {
  [DECODE_FAILED]: string;
}

export function isDecodeFailure(x: unknown): x is DecodeFailure {
  return typeof x === "object" && x !== null && DECODE_FAILED in x;
}

export function decodeFailureMessage(x: DecodeFailure): string {
  return x[DECODE_FAILED];
}

export function withSafeDeserializers<S extends ServiceDefinition>(def: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(def)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (buf: Buffer): unknown => {
        try {
          return decode(buf);
        } catch (e) {
          const failure: DecodeFailure = { [DECODE_FAILED]: (e as Error).message };
          return failure;
        }
      },
    };
  }
  return out as S;
}
