#!/usr/bin/env node
/**
 * Load benchmark of hpod (see bench/README.md, "load.ts"): at N = 1, 8, 64, 256 concurrent workers, trials/s and
 * Suggest/Report latency of grpc-js and Python (grpcio) workers with durable writes and the random and TPE samplers,
 * next to a bare Echo RPC and to Optuna 3.1 doing the same loop with N processes on its journal-file and SQLite
 * storages, all measured in the same run. `--soak SECONDS` instead runs N workers for a long window and watches
 * the daemon's RSS and event-loop lag.
 *
 * The same file is, with --child, a grpc-js client process (bench/speed's, forked by the coordinator).
 */
import { fileURLToPath } from "node:url";
import { benchMain } from "./speed/main.js";
import { loadavg } from "node:os";
import { fsType, startDaemon, withDaemon, type DaemonHandle } from "./speed/daemon.js";
import { machine } from "./speed/report.js";
import { parseLoadArgs, pythonProcsFor, USAGE, type LoadOptions } from "./load/args.js";
import { clientProcsFor } from "./speed/args.js";
import { runLevel, type LevelRows } from "./load/level.js";
import { printBar, printLegend, printLevelTable, writeLoadJson } from "./load/report.js";
import { PYTHON, pythonCan, pythonEnv, type PythonEnv } from "./load/python.js";
import { printSoak, runSoak } from "./load/soak.js";

const SCRIPT = fileURLToPath(import.meta.url);

async function coordinate(o: LoadOptions): Promise<void> {
  // Python and Optuna are checked before the daemon starts, so a missing package is said once, up front.
  let py: PythonEnv | undefined;
  if (o.soak === undefined && o.clients.includes("python")) {
    const can = pythonCan("grpc");
    if (can.ok) py = pythonEnv();
    else {
      console.log(`note     Python clients skipped: ${can.why}`);
      o.clients = o.clients.filter((c) => c !== "python");
    }
  }
  if (o.soak === undefined && o.optuna.length > 0) {
    const can = pythonCan("optuna");
    if (!can.ok) {
      console.log(`note     Optuna skipped: ${can.why} (apt-get install -y python3-optuna)`);
      o.optuna = [];
    }
  }
  // The metrics listener on a free port: the soak reads the event-loop lag there, and the load run keeps the
  // daemon as it runs in production (metrics on).
  const daemon: DaemonHandle = await startDaemon({ metrics: true, prefix: "hpod-load-" });
  const m = machine();
  await withDaemon(
    daemon,
    async () => {
      console.log(o.soak !== undefined ? "hpod soak" : "hpod load benchmark");
      console.log(`machine  ${m.cpus} cpus (${m.cpuModel}), ${m.memGiB.toFixed(1)} GiB, kernel ${m.kernel}, node ${m.node}`);
      console.log(`daemon   ${daemon.address}, pid ${daemon.pid}, metrics ${daemon.metricsAddress ?? "off"}, data dir on ${fsType(daemon.dataDir)}; every acknowledged mutation is fsync'ed`);
      console.log(`note     clients, Optuna and the daemon share the same ${m.cpus} CPUs; load average before the run ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
      const target = { address: daemon.address, daemonPid: daemon.pid, metricsAddress: daemon.metricsAddress };
      if (o.soak !== undefined) {
        const n = o.workers[0];
        console.log(`run      soak: ${n} grpc-js workers in ${clientProcsFor(n, o)} processes, random sampler, ${o.warmup} s warm-up + ${o.soak} s; a sample every ${o.sampleEvery} s`);
        const r = await runSoak(target, o, SCRIPT, (l) => console.log(l));
        printSoak(r);
        if (o.json) writeLoadJson(o.json, m, o, { soak: r }, []);
      } else {
        const trial = o.intermediate > 0 ? `Suggest + ${o.intermediate} intermediate Reports + final Report` : "Suggest + final Report";
        console.log(`run      workers ${o.workers.join(",")}; samplers ${o.samplers.join(",")}; clients ${o.clients.join(",") || "(none)"}; Optuna ${o.optuna.join(",") || "off"}; per phase ${o.warmup} s warm-up + ${o.seconds} s measured`);
        console.log(`         a trial = ${trial}; ${o.workersPerChannel} workers per connection; Python ${PYTHON}${py ? `, stubs ${py.genDir}` : ""}`);
        const levels: LevelRows[] = [];
        for (const n of o.workers) {
          console.log(`\nN = ${n}: grpc-js ${clientProcsFor(n, o)} processes, Python ${pythonProcsFor(n, o)} processes, Optuna ${Math.min(n, o.optunaMaxProcs)} processes${n > o.optunaMaxProcs && o.optuna.length ? ` (CAPPED from ${n} by --optuna-max-procs)` : ""}`);
          const level = await runLevel(n, o, { target, script: SCRIPT, pythonEnv: py?.env, log: (l) => console.log(l) });
          printLevelTable(level);
          levels.push(level);
        }
        printLegend();
        printBar(levels);
        if (o.json) writeLoadJson(o.json, m, o, {}, levels);
      }
      if (o.json) console.log(`\nwrote ${o.json}`);
    },
    () => py?.cleanup(),
  );
}

benchMain("load", USAGE, parseLoadArgs, coordinate);
