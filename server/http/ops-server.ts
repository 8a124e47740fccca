/**
 * The operations HTTP listener, apart from the gRPC port:
 *   GET /metrics   Prometheus text format from the daemon's own registry
 *                  (optionally behind a bearer token from the tokens file)
 *   GET /healthz   200 while the process runs
 *   GET /readyz    200 when the store is open and writable and gRPC serves;
 *                  503 with the reason otherwise
 * Plain HTTP or HTTPS (--metrics-tls-cert/--metrics-tls-key).
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.js";

export interface Readiness {
  /** undefined when ready, else why not. */
  check(): Promise<string | undefined>;
}

export interface OpsServerOptions {
  listen: { host: string; port: number };
  metrics: () => Promise<{ contentType: string; body: string }>;
  readiness: Readiness;
  tls?: { certFile: string; keyFile: string };
  /** When set, /metrics needs `Authorization: Bearer <token>` that this accepts. */
  authorize?: (token: string) => boolean;
  log: Logger;
}

export interface OpsServer {
  /** HOST:PORT actually bound. */
  address: string;
  scheme: "http" | "https";
  close(): Promise<void>;
}

const text = (res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(body);
};

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handle(req, res).catch((e: unknown) => {
      opts.log.error("metrics listener: request failed", { path: req.url, error: (e as Error).message });
      if (!res.headersSent) text(res, 500, "internal error\n");
      else res.destroy();
    });
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      text(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
      return;
    }
    switch (path) {
      case "/healthz":
        text(res, 200, "ok\n");
        return;
      case "/readyz": {
        const why = await opts.readiness.check();
        text(res, why === undefined ? 200 : 503, why === undefined ? "ready\n" : `not ready: ${why}\n`);
        return;
      }
      case "/metrics": {
        if (opts.authorize) {
          const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
          if (!m || !opts.authorize(m[1] as string)) {
            text(res, 401, "a valid bearer token is required\n", { "www-authenticate": 'Bearer realm="hpod metrics"' });
            return;
          }
        }
        const { contentType, body } = await opts.metrics();
        res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : body);
        return;
      }
      default:
        text(res, 404, "not found: try /metrics, /healthz or /readyz\n");
    }
  };

  const server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, handler)
    : http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const hostPort = `${opts.listen.host}:${opts.listen.port}`;
      reject(new Error(`cannot listen on ${hostPort} for metrics: ${e.code === "EADDRINUSE" ? "address already in use" : e.message}`));
    };
    server.once("error", onError);
    server.listen(opts.listen.port, opts.listen.host.replace(/^\[(.*)\]$/, "$1"), () => {
      server.off("error", onError);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  return {
    address: `${host}:${a.port}`,
    scheme: opts.tls ? "https" : "http",
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
