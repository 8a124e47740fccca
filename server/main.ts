#!/usr/bin/env node
/**
 * `hpod`: the daemon's entry point. Start-up order matters: the store is
 * opened (and its lock taken) before the port is bound, so a second daemon on
 * the same data directory fails without ever accepting a call.
 */
import { ConfigError, loadConfig, SERVE_USAGE, type DaemonConfig } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { bind, createGrpcServer } from "./rpc/grpc-server.js";
import { Store, StoreOpenError } from "./store/store.js";
import { SamplerPool } from "./sampler-pool.js";
import { StudyService } from "./study-service.js";
import { VERSION } from "./version.js";

const USAGE = `usage: hpod <command> [options]

commands:
  serve      run the daemon (see hpod serve --help)
  version    print the version

${SERVE_USAGE}`;

async function serve(cfg: DaemonConfig, log: Logger): Promise<void> {
  log.info("starting", { version: VERSION, listen: cfg.listen, dataDir: cfg.dataDir, pid: process.pid });
  // Signals are taken from the first moment: a SIGTERM that arrives while the
  // store opens must still close it cleanly, not kill the process mid-write.
  let stop: ((signal: string) => void) | undefined;
  let early: string | undefined;
  const onSignal = (signal: string): void => (stop ? stop(signal) : void (early ??= signal));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));

  const store = await Store.open(cfg.dataDir);
  const pool = new SamplerPool(log);
  const svc = await StudyService.open(store, log, { leaseSweepMs: cfg.leaseSweepMs, pool });
  const { server, health } = createGrpcServer(svc, log, { maxMessageBytes: cfg.maxMessageBytes });
  let address: string;
  try {
    address = await bind(server, cfg.listen);
  } catch (e) {
    await svc.close();
    await store.close();
    await pool.close();
    throw e;
  }

  let stopping = false;
  stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down: draining in-flight calls", { signal, drainTimeoutMs: cfg.drainTimeoutMs });
    health.setAllNotServing();
    svc.hub.end(undefined, "shutdown");
    const force = setTimeout(() => {
      log.warn("drain timeout reached; cancelling remaining calls");
      server.forceShutdown();
    }, cfg.drainTimeoutMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      void svc
        .close()
        .then(() => store.close())
        .then(() => pool.close())
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
  log.info("listening", { address, dataDir: cfg.dataDir, studies: svc.studyCount, version: VERSION });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "version" || command === "--version") {
    process.stdout.write(`hpod ${VERSION}\n`);
    return 0;
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
    const known = e instanceof StoreOpenError || (e as Error).message.startsWith("cannot listen");
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
