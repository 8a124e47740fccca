/**
 * The long fuzzing run: >= 10,000 generated requests per RPC against a fresh daemon, with two bystander studies
 * compared before and after, and a table of status codes per RPC.
 *
 *   npm run build && node dist/bench/fuzz.js [--per-rpc 10000] [--seed 1] [--concurrency 8]
 *
 * Exits 1 on a crash, any INTERNAL/UNKNOWN answer (printed with the request) or a changed bystander.
 */
import { rmSync } from "node:fs";
import { BYSTANDERS, createBystanders, exportBystanders } from "./stress/bystanders.js";
import { connectStress } from "./stress/client.js";
import { startStressDaemon } from "./stress/daemon.js";
import { formatCounts, healthServing, runFuzz } from "./stress/fuzz-engine.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const perRpc = arg("per-rpc", 10_000);
  const seed = arg("seed", 1);
  const concurrency = arg("concurrency", 8);
  const d = await startStressDaemon();
  const c = connectStress(d.address);
  let ok = true;
  try {
    await createBystanders(c);
    const before = await exportBystanders(c);
    const res = await runFuzz({
      address: d.address,
      perRpc,
      seed,
      protectedNames: BYSTANDERS,
      concurrency,
      progress: (done, total) => process.stderr.write(`  ${done}/${total}\n`),
    });
    console.log(`fuzz: ${res.requests} requests (${perRpc} per RPC) in ${res.seconds.toFixed(1)} s, seed ${seed}, concurrency ${concurrency}`);
    console.log(formatCounts(res));
    if (res.encodeErrors.length) console.log(`requests the generated encoder refused (first ${res.encodeErrors.length}):\n  ${res.encodeErrors.join("\n  ")}`);
    for (const f of res.failures) {
      ok = false;
      console.log(`FAIL ${f.rpc} #${f.index} -> ${f.code}: ${f.details}\n  mutation ${f.mutation}\n  json ${f.requestJson}\n  hex ${f.requestHex}`);
    }
    const alive = d.alive();
    const serving = alive && (await healthServing(d.address));
    console.log(`daemon alive: ${alive}, health SERVING: ${serving}`);
    if (!serving) {
      ok = false;
      console.log(d.logs.slice(-60).join("\n"));
    }
    if (alive) {
      const after = await exportBystanders(c);
      for (const n of BYSTANDERS) {
        const same = after[n] === before[n];
        console.log(`bystander ${n}: ${same ? "unchanged" : "CHANGED"}`);
        if (!same) ok = false;
      }
    }
    const stacks = d.logs.filter((l) => l.includes("unexpected error in handler"));
    if (stacks.length) {
      ok = false;
      console.log(`daemon logged ${stacks.length} unexpected errors:\n${stacks.slice(0, 5).join("\n")}`);
    }
  } finally {
    c.close();
    await d.stop();
    rmSync(d.dataDir, { recursive: true, force: true });
  }
  console.log(ok ? "PASS" : "FAIL");
  process.exit(ok ? 0 : 1);
}

void main();
