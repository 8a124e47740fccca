/**
 * Assembles the gRPC server: the tuning API, diagnostics, health and
 * reflection, with the message-size limit that keeps one bad client from
 * exhausting memory (oversized requests get RESOURCE_EXHAUSTED from grpc-js).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../log.js";
import type { StudyService } from "../study-service.js";
import { diagnosticsHandlers, diagnosticsServiceDefinition } from "./diagnostics-handlers.js";
import { createHealth, HEALTH_SERVICE_NAME, type Health } from "./health.js";
import { createHpodHandlers, hpodServiceDefinition } from "./hpod-handlers.js";
import { addReflectionService } from "./reflection.js";

/** The API's FileDescriptorSet (`npm run generate`), found from src and dist alike. */
export function descriptorSetPath(): string {
  // server/rpc -> repo root; dist/server/rpc -> repo root.
  const here = import.meta.dirname;
  const up = here.includes(`${join("dist", "server")}`) ? ["..", "..", ".."] : ["..", ".."];
  return join(here, ...up, "client", "gen", "hpod.binpb");
}

export const SERVICES = ["hpod.v1.HpodService", "hpod.v1.DiagnosticsService"];

export interface GrpcServerOptions {
  maxMessageBytes: number;
}

export function createGrpcServer(svc: StudyService, log: Logger, opts: GrpcServerOptions): { server: grpc.Server; health: Health } {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": opts.maxMessageBytes,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
  });
  server.addService(hpodServiceDefinition(), createHpodHandlers(svc, log));
  server.addService(diagnosticsServiceDefinition(), diagnosticsHandlers);
  const health = createHealth(SERVICES);
  health.addTo(server);
  addReflectionService(server, readFileSync(descriptorSetPath()), { extraServices: [HEALTH_SERVICE_NAME] });
  return { server, health };
}

/** Binds and returns the bound HOST:PORT; port-in-use and similar become one clear message. */
export function bind(server: grpc.Server, listen: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => {
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
