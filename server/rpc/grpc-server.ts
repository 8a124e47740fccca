/**
 * Assembles the gRPC server: the tuning API, diagnostics, health and
 * reflection, with the message-size limit that keeps one bad client from
 * exhausting memory (oversized requests get RESOURCE_EXHAUSTED from grpc-js).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import type { Store } from "../store/store.js";
import type { StudyService } from "../study-service.js";
import { adminServiceDefinition, createAdminHandlers } from "./admin-handlers.js";
import { withNamespaceChecks } from "./auth/authorize.js";
import type { ReflectionMode } from "./auth/policy.js";
import type { TokenStore } from "./auth/tokens.js";
import { diagnosticsHandlers, diagnosticsServiceDefinition } from "./diagnostics-handlers.js";
import { createHealth, HEALTH_SERVICE_NAME, type Health } from "./health.js";
import { createHpodHandlers, hpodServiceDefinition } from "./hpod-handlers.js";
import { authInterceptor } from "./interceptors/auth.js";
import { limitsInterceptor, PendingLimiter } from "./interceptors/limits.js";
import { observeInterceptor, type RpcRecorder } from "./interceptors/observe.js";
import { addReflectionService } from "./reflection.js";

/** The API's FileDescriptorSet (`npm run generate`), found from src and dist alike. */
export function descriptorSetPath(): string {
  // server/rpc -> repo root; dist/server/rpc -> repo root.
  const here = import.meta.dirname;
  const up = here.includes(`${join("dist", "server")}`) ? ["..", "..", ".."] : ["..", ".."];
  return join(here, ...up, "client", "gen", "hpod.binpb");
}

export const SERVICES = ["hpod.v1.HpodService", "hpod.v1.DiagnosticsService", "hpod.v1.AdminService"];

export interface GrpcServerOptions {
  maxMessageBytes: number;
  /** Unary calls in flight per client before RESOURCE_EXHAUSTED. Default 256. */
  maxPendingPerClient?: number;
  /** Bearer tokens; undefined: calls need none. */
  tokens?: TokenStore;
  /** Calls need a verified client certificate (the credentials must be mTLS ones). */
  requireClientCert?: boolean;
  /** off: not served; open: no authentication; auth (default): like any read call. */
  reflection?: ReflectionMode;
  /** RPC counts and latencies. */
  metrics?: RpcRecorder;
  /** Log every call (at debug), not only failed ones. Default true. */
  debugLogs?: boolean;
  /** For AdminService (Backup); without it the service is not served. */
  store?: Store;
}

/**
 * Interceptors, outermost first: observe (request id, log line, metrics; sees
 * every refusal), auth (only when tokens or mTLS are on), limits.
 */
export function createGrpcServer(svc: StudyService, log: Logger, opts: GrpcServerOptions): { server: grpc.Server; health: Health } {
  const authOn = opts.tokens !== undefined || opts.requireClientCert === true;
  const reflection = opts.reflection ?? "auth";
  const interceptors: grpc.ServerInterceptor[] = [observeInterceptor(log, opts.metrics, opts.debugLogs ?? true)];
  if (authOn) interceptors.push(authInterceptor({ tokens: opts.tokens, requireClientCert: opts.requireClientCert === true, reflection }));
  interceptors.push(limitsInterceptor(new PendingLimiter(opts.maxPendingPerClient ?? 256)));
  const server = new grpc.Server({
    "grpc.max_receive_message_length": opts.maxMessageBytes,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    interceptors,
  });
  const hpod = createHpodHandlers(svc, log);
  server.addService(
    hpodServiceDefinition(),
    authOn
      ? withNamespaceChecks(hpod, {
          namespaceOf: (name) => {
            try {
              return svc.getStudy(name).namespace;
            } catch {
              return undefined;
            }
          },
        })
      : hpod,
  );
  server.addService(diagnosticsServiceDefinition(), diagnosticsHandlers);
  if (opts.store) server.addService(adminServiceDefinition(), createAdminHandlers(opts.store, log));
  const health = createHealth(opts.store ? SERVICES : SERVICES.filter((s) => s !== "hpod.v1.AdminService"));
  health.addTo(server);
  if (reflection !== "off") addReflectionService(server, readFileSync(descriptorSetPath()), { extraServices: [HEALTH_SERVICE_NAME] });
  return { server, health };
}

/** Binds and returns the bound HOST:PORT; port-in-use and similar become one clear message. */
export function bind(server: grpc.Server, listen: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<string> {
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, credentials, (err, port) => {
      if (err) {
        const inUse = /EADDRINUSE|address already in use/i.test(err.message);
        reject(new Error(`cannot listen on ${listen}: ${inUse ? "address already in use (is another hpod running?)" : err.message}`));
        return;
      }
      const host = listen.slice(0, listen.lastIndexOf(":"));
      resolve(`${host}:${port}`);
    });
  });
}
