#!/usr/bin/env node
/**
 * `hpod`: the daemon's entry point. Start-up order matters: the store is
 * opened (and its lock taken) before the port is bound, so a second daemon on
 * the same data directory fails without ever accepting a call.
 */
import { ConfigError, isLoopback, loadConfig, parseListen, SERVE_USAGE, type DaemonConfig } from "./config.js";
import { startOpsServer, type OpsServer } from "./http/ops-server.js";
import { createLogger, type Logger } from "./log.js";
import { HpodMetrics, serviceSource } from "./metrics/metrics.js";
import { tokenCommand } from "./rpc/auth/token-cli.js";
import { TokensFileError, TokenStore } from "./rpc/auth/tokens.js";
import { serverCredentials } from "./rpc/credentials.js";
import { bind, createGrpcServer } from "./rpc/grpc-server.js";
import { Store, StoreOpenError } from "./store/store.js";
import { SamplerPool } from "./sampler-pool.js";
import { StudyService } from "./study-service.js";
import { VERSION } from "./version.js";

const USAGE = `usage: hpod <command> [options]

commands:
  serve      run the daemon (see hpod serve --help)
  token      create bearer tokens (see hpod token --help)
  version    print the version

${SERVE_USAGE}`;

/** A start-up failure with a message for the operator (no stack). */
class StartupError extends Error {}

/**
 * Refuses a listener that other machines can reach with neither TLS nor
 * authentication, unless --insecure; warns loudly when it allows one.
 */
function checkExposure(cfg: DaemonConfig, log: Logger): void {
  const grpcOpen = !isLoopback(parseListen(cfg.listen).host) && cfg.tlsCert === undefined && cfg.tokensFile === undefined;
  const metricsOpen =
    cfg.metricsListen !== "" && !isLoopback(parseListen(cfg.metricsListen).host) && cfg.metricsTlsCert === undefined && cfg.metricsAuth === "none";
  const open = [...(grpcOpen ? [`gRPC on ${cfg.listen}`] : []), ...(metricsOpen ? [`metrics on ${cfg.metricsListen}`] : [])];
  if (open.length === 0) return;
  if (!cfg.insecure) {
    throw new StartupError(
      `refusing to listen on a non-loopback address with neither TLS nor authentication (${open.join(", ")}); ` +
        "configure --tls-cert/--tls-key or --tokens-file (--metrics-tls-cert or --metrics-auth token for metrics), or pass --insecure",
    );
  }
  log.warn("INSECURE: listening on a non-loopback address with neither TLS nor authentication; anyone who can reach it can read and change every study", {
    listeners: open,
  });
}

async function serve(cfg: DaemonConfig, log: Logger): Promise<void> {
  log.info("starting", { version: VERSION, listen: cfg.listen, dataDir: cfg.dataDir, pid: process.pid });
  // Signals are taken from the first moment: a SIGTERM that arrives while the
  // store opens must still close it cleanly, not kill the process mid-write.
  let stop: ((signal: string) => void) | undefined;
  let early: string | undefined;
  const onSignal = (signal: string): void => (stop ? stop(signal) : void (early ??= signal));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  if (cfg.exitWithStdin) {
    // EOF on the pipe means the parent is gone (or closed it on purpose).
    process.stdin.once("end", () => onSignal("stdin closed"));
    process.stdin.once("error", () => onSignal("stdin closed"));
    process.stdin.resume();
  }
  let reload: (() => void) | undefined;
  process.on("SIGHUP", () => (reload ? reload() : log.warn("SIGHUP ignored: still starting")));

  let tokens: TokenStore | undefined;
  let creds: ReturnType<typeof serverCredentials>;
  try {
    tokens = cfg.tokensFile !== undefined ? TokenStore.load(cfg.tokensFile) : undefined;
    creds = serverCredentials(cfg.tlsCert && cfg.tlsKey ? { certFile: cfg.tlsCert, keyFile: cfg.tlsKey, clientCaFile: cfg.tlsClientCa } : undefined);
  } catch (e) {
    throw new StartupError((e as Error).message);
  }
  checkExposure(cfg, log);
  if (tokens) log.info("bearer tokens required", { tokensFile: cfg.tokensFile, tokens: tokens.size });

  const metrics = cfg.metricsListen !== "" ? new HpodMetrics({ perStudy: cfg.metricsPerStudy }) : undefined;
  const store = await Store.open(cfg.dataDir, metrics ? { onCommit: metrics.onCommit, onWrite: metrics.onWrite } : {});
  const pool = cfg.samplerThreads === 0 ? undefined : new SamplerPool(log, {
        niceness: cfg.samplerNiceness,
        ...(cfg.samplerThreads === undefined ? {} : { threads: cfg.samplerThreads }),
      });
  const svc = await StudyService.open(store, log, { leaseSweepMs: cfg.leaseSweepMs, pool, ...(metrics ? { observer: metrics } : {}) });
  metrics?.attach(serviceSource(svc, cfg.dataDir));
  let serving = false;
  let ops: OpsServer | undefined;
  const closeAll = async (): Promise<void> => {
    await ops?.close();
    await svc.close();
    await store.close();
    await pool?.close();
  };
  if (metrics) {
    let probed = { at: 0, error: undefined as string | undefined };
    try {
      ops = await startOpsServer({
        listen: parseListen(cfg.metricsListen, "metrics listen"),
        metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
        readiness: {
          check: async () => {
            if (!serving) return "the gRPC server is not serving";
            if (!svc.writable) return "the store refuses writes after a failed write";
            // A synced write at most every 5 s proves the disk still takes writes.
            if (Date.now() - probed.at > 5000) {
              probed = { at: Date.now(), error: await store.probe().then(() => undefined, (e: unknown) => `the store cannot be written: ${(e as Error).message}`) };
            }
            return probed.error;
          },
        },
        ...(cfg.metricsTlsCert && cfg.metricsTlsKey ? { tls: { certFile: cfg.metricsTlsCert, keyFile: cfg.metricsTlsKey } } : {}),
        ...(cfg.metricsAuth === "token" && tokens ? { authorize: (t: string) => "principal" in tokens.verify(t) } : {}),
        log,
      });
      log.info("metrics listening", { address: ops.address, url: `${ops.scheme}://${ops.address}/metrics`, perStudy: cfg.metricsPerStudy });
    } catch (e) {
      if (!cfg.metricsListenDefaulted) {
        await closeAll();
        throw new StartupError((e as Error).message);
      }
      // The default address is best effort (another hpod may hold it); an
      // address that was asked for must bind.
      log.error(`${(e as Error).message}; metrics, /healthz and /readyz are off (set --metrics-listen)`);
    }
  }
  const { server, health } = createGrpcServer(svc, log, {
    maxMessageBytes: cfg.maxMessageBytes,
    maxPendingPerClient: cfg.maxPendingPerClient,
    requireClientCert: creds.mode === "mtls",
    reflection: cfg.reflection,
    debugLogs: cfg.logLevel === "debug",
    store,
    ...(tokens ? { tokens } : {}),
    ...(metrics ? { metrics } : {}),
  });
  let address: string;
  try {
    address = await bind(server, cfg.listen, creds.credentials);
  } catch (e) {
    await closeAll();
    throw e;
  }
  serving = true;
  reload = () => {
    try {
      creds.reload();
      const n = tokens?.reload();
      log.info("SIGHUP: reloaded", { ...(n !== undefined ? { tokens: n } : {}), tls: creds.mode });
    } catch (e) {
      const why = e instanceof TokensFileError ? e.message : (e as Error).message;
      log.error("SIGHUP: reload failed; the previous tokens and certificates stay in force", { error: why });
    }
  };

  let stopping = false;
  stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    serving = false;
    log.info("shutting down: draining in-flight calls", { signal, drainTimeoutMs: cfg.drainTimeoutMs });
    health.setAllNotServing();
    svc.hub.end(undefined, "shutdown");
    const force = setTimeout(() => {
      log.warn("drain timeout reached; cancelling remaining calls");
      server.forceShutdown();
    }, cfg.drainTimeoutMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      void (ops ? ops.close() : Promise.resolve())
        .then(() => svc.close())
        .then(() => store.close())
        .then(() => pool?.close())
        .then(() => {
          log.info("stopped cleanly");
          process.exit(0);
        })
        .catch((e: unknown) => {
          log.error("error while closing the store", { error: (e as Error).message });
          process.exit(1);
        });
    });
  };
  if (early) {
    stop(early);
    return;
  }
  log.info("listening", { address, tls: creds.mode, auth: tokens ? "tokens" : creds.mode === "mtls" ? "client certificates" : "none", dataDir: cfg.dataDir, studies: svc.studyCount, version: VERSION });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "version" || command === "--version") {
    process.stdout.write(`hpod ${VERSION}\n`);
    return 0;
  }
  if (command === "token") {
    return tokenCommand(rest, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
  }
  if (command !== "serve") {
    process.stderr.write(command === undefined || command === "help" || command === "--help" || command === "-h" ? USAGE : `hpod: unknown command "${command}"\n\n${USAGE}`);
    return command === undefined || command === "help" || command === "--help" || command === "-h" ? 0 : 2;
  }
  let cfg: DaemonConfig;
  try {
    cfg = loadConfig(rest);
  } catch (e) {
    if (e instanceof ConfigError && e.message === "help") {
      process.stdout.write(SERVE_USAGE);
      return 0;
    }
    process.stderr.write(`hpod: ${(e as Error).message}\n\n${SERVE_USAGE}`);
    return 2;
  }
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  try {
    await serve(cfg, log);
    return -1;
  } catch (e) {
    const known = e instanceof StoreOpenError || e instanceof StartupError || (e as Error).message.startsWith("cannot listen");
    log.error(known ? (e as Error).message : "start-up failed", known ? {} : { error: (e as Error).stack });
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`hpod: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
