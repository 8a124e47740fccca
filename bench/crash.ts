/**
 * Crash consistency harness: 32 workers (Suggest / intermediate Reports / final Report), 8 of them Python (grpcio)
 * workers, on 4 studies, the daemon SIGKILLed at random moments 20 times in a row and restarted on the same data
 * directory (the last kills during a create/fill/delete churn of many studies), heartbeat timeout 2 s and
 * --lease-sweep-ms 100.
 *
 *   npm run build && node dist/bench/crash.js [--kills 20] [--workers 32] [--python-workers 8] [--churn-kills 5] [--seed 1]
 *
 * --python-workers K (of --workers) needs /usr/bin/python3 with grpcio; without it the default 8 falls back to 0
 * with a note, an explicit K fails.
 *
 * Exits 1 when anything acknowledged is lost, duplicated, stuck RUNNING, or a churned study is half there.
 */
import { rmSync } from "node:fs";
import { formatCrash, runCrash } from "./stress/crash-engine.js";
import { freshDir } from "./stress/daemon.js";
import { pythonCan } from "./load/python.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const dataDir = freshDir("hpod-crash-");
  const t0 = Date.now();
  let pythonWorkers = arg("python-workers", 8);
  if (!process.argv.includes("--python-workers")) {
    const can = pythonCan("grpc");
    if (!can.ok) {
      console.log(`note: no Python workers (${can.why})`);
      pythonWorkers = 0;
    }
  }
  try {
    const f = await runCrash({
      dataDir,
      kills: arg("kills", 20),
      workers: arg("workers", 32),
      studies: 4,
      steps: 5,
      seed: arg("seed", 1),
      minRunMs: 200,
      maxRunMs: 2000,
      churnKills: arg("churn-kills", 5),
      pythonWorkers,
      log: (l) => console.log(l),
    });
    console.log(`\n${formatCrash(f)}\nwall time ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const ok = f.problems.length === 0 && f.lost === 0 && f.duplicateTrialIds === 0 && f.duplicateSteps === 0 && f.stuckRunning === 0 && f.churnHalf === 0 && f.churnLost === 0 && f.wrongValue === 0;
    console.log(ok ? "PASS" : "FAIL");
    process.exitCode = ok ? 0 : 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main();
