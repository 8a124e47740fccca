/**
 * The outermost interceptor: gives every call a request id (the client's
 * `x-request-id` when it sends a sane one, else a new one), returns it in the
 * response headers or trailers, counts and times the call for the metrics,
 * and logs one line per call: debug for OK (and a client's cancel), warn for
 * any other status. The line names the method, code, duration, request id,
 * peer and principal, never request metadata (so never a token).
 */
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../log.js";
import { principalOf, setRequestId } from "./call-context.js";

export interface RpcRecorder {
  rpcStarted(): void;
  rpcFinished(path: string, code: string, seconds: number, unary: boolean): void;
}

const REQUEST_ID = "x-request-id";
const SANE_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;
const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);
export const codeName = (code: number): string => CODE_NAMES[code] ?? `CODE_${code}`;

const prefix = randomBytes(4).toString("hex");
let counter = 0;
const newRequestId = (): string => `${prefix}-${(++counter).toString(36)}`;

/** `debugLogs`: log successful calls too (at debug); false skips building their lines. */
export function observeInterceptor(log: Logger, metrics: RpcRecorder | undefined, debugLogs = true): grpc.ServerInterceptor {
  return (method, call) => {
    const started = performance.now();
    const unary = !method.requestStream && !method.responseStream;
    let requestId = "";
    let md: grpc.Metadata | undefined;
    let done = false;
    let headersSent = false;
    metrics?.rpcStarted();
    const finish = (code: number, details: string | undefined): void => {
      if (done) return;
      done = true;
      const seconds = (performance.now() - started) / 1000;
      const name = codeName(code);
      metrics?.rpcFinished(method.path, name, seconds, unary);
      if (!debugLogs && (code === grpc.status.OK || code === grpc.status.CANCELLED)) return;
      const fields: Record<string, unknown> = {
        requestId,
        method: method.path,
        code: name,
        durationMs: Math.round(seconds * 1e6) / 1000,
        peer: call.getPeer(),
      };
      const p = md ? principalOf(md) : undefined;
      if (p && p.via !== "anonymous") fields.principal = p.name;
      // A client that cancels (Ctrl-C on a watch) is not a failure of the call.
      if (code === grpc.status.OK) log.debug("rpc", fields);
      else if (code === grpc.status.CANCELLED) log.debug("rpc cancelled", { ...fields, details });
      else log.warn("rpc failed", { ...fields, details });
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMd) {
            md = metadata;
            const given = metadata.get(REQUEST_ID)[0];
            requestId = typeof given === "string" && SANE_ID.test(given) ? given : newRequestId();
            setRequestId(metadata, requestId);
            nextMd(metadata);
          },
          onCancel() {
            finish(grpc.status.CANCELLED, "cancelled by the client");
          },
        });
      },
      sendMetadata(metadata, next) {
        headersSent = true;
        if (requestId) metadata.set(REQUEST_ID, requestId);
        next(metadata);
      },
      sendStatus(status, next) {
        if (!headersSent && requestId) {
          const trailers = status.metadata ?? new grpc.Metadata();
          trailers.set(REQUEST_ID, requestId);
          next({ ...status, metadata: trailers });
        } else {
          next(status);
        }
        finish(status.code, status.details);
      },
    });
  };
}
