/**
 * At most N unary calls in flight per client, so one client cannot starve the
 * others: the next one gets RESOURCE_EXHAUSTED at once. A client is its
 * principal when it authenticated (all its connections together), else its
 * connection (peer address and port). Streams (WatchStudy, health Watch) are
 * subscriptions, not requests, and are not counted; health checks never are.
 */
import * as grpc from "@grpc/grpc-js";
import { principalOf } from "./call-context.js";

export interface LimitsOptions {
  maxPendingPerClient: number;
}

export class PendingLimiter {
  private readonly pending = new Map<string, number>();
  constructor(readonly max: number) {}

  tryAcquire(key: string): boolean {
    const n = this.pending.get(key) ?? 0;
    if (n >= this.max) return false;
    this.pending.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.pending.get(key) ?? 1) - 1;
    if (n <= 0) this.pending.delete(key);
    else this.pending.set(key, n);
  }

  /** Clients with calls in flight. */
  get clients(): number {
    return this.pending.size;
  }
}

export function limitsInterceptor(limiter: PendingLimiter): grpc.ServerInterceptor {
  return (method, call) => {
    if (method.requestStream || method.responseStream || method.path.startsWith("/grpc.health.v1.")) return new grpc.ServerInterceptingCall(call);
    let key: string | undefined;
    const release = (): void => {
      if (key === undefined) return;
      limiter.release(key);
      key = undefined;
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMd) {
            const p = principalOf(metadata);
            const k = p && p.via !== "anonymous" ? `principal:${p.name}` : `peer:${call.getPeer()}`;
            if (!limiter.tryAcquire(k)) {
              call.sendStatus({
                code: grpc.status.RESOURCE_EXHAUSTED,
                details: `too many calls in flight from this client (limit ${limiter.max}); retry after some complete`,
                metadata: new grpc.Metadata(),
              });
              return;
            }
            key = k;
            nextMd(metadata);
          },
          onCancel: release,
        });
      },
      sendStatus(status, next) {
        release();
        next(status);
      },
    });
  };
}
