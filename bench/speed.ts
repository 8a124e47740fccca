#!/usr/bin/env node
/**
 * Speed benchmark of hpod: trials/s and Suggest/Report latency against a real
 * daemon with durable writes, next to DiagnosticsService/Echo through the same
 * server and the same client arrangement, which is the reference the
 * project's bars divide by. See bench/README.md.
 *
 * The same file is both the coordinator and, with --child, a client process
 * (forked by the coordinator).
 */
import { fileURLToPath } from "node:url";
import { benchMain } from "./speed/main.js";
import { parseArgs, USAGE, type Options } from "./speed/args.js";
import { externalDaemon, fsType, startDaemon, withDaemon, type DaemonHandle } from "./speed/daemon.js";
import { measureLevel, type LevelResult } from "./speed/measure.js";
import { machine, printHeader, printLevel, printSummary, writeJson, type RunInfo } from "./speed/report.js";

const SCRIPT = fileURLToPath(import.meta.url);

async function coordinate(opts: Options): Promise<void> {
  const daemon: DaemonHandle = opts.address ? externalDaemon(opts.address, opts.daemonPid) : await startDaemon();
  await withDaemon(daemon, async () => {
    const m = machine();
    const info = runInfo(daemon, opts);
    printHeader(m, info);
    const levels: LevelResult[] = [];
    for (const n of opts.workers) {
      const level = await measureLevel({ address: daemon.address, daemonPid: daemon.pid }, n, opts, SCRIPT);
      printLevel(level);
      levels.push(level);
    }
    printSummary(levels);
    if (opts.json) {
      writeJson(opts.json, m, info, levels);
      console.log(`\nwrote ${opts.json}`);
    }
  });
}

function runInfo(d: DaemonHandle, o: Options): RunInfo {
  return {
    address: d.address,
    daemonPid: d.pid ?? null,
    dataDir: d.dataDir ?? null,
    dataDirFs: fsType(d.dataDir),
    warmupSeconds: o.warmup,
    seconds: o.seconds,
    workers: o.workers,
    workersPerConnection: o.workersPerChannel,
  };
}

benchMain("speed", USAGE, parseArgs, coordinate);
