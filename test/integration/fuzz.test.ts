/**
 * Generated requests for every RPC (random and boundary values, wrong wire
 * types, repeated and absent fields, huge varints, deep and huge spaces, raw
 * garbage through a raw channel): the daemon never crashes, never answers
 * INTERNAL or UNKNOWN, and the studies it was not pointed at are unchanged.
 * The long version is bench/fuzz.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BYSTANDERS, createBystanders, exportBystanders } from "../../bench/stress/bystanders.js";
import { connectStress, type StressClient } from "../../bench/stress/client.js";
import { startStressDaemon, type StressDaemon } from "../../bench/stress/daemon.js";
import { formatCounts, healthServing, RPCS, runFuzz } from "../../bench/stress/fuzz-engine.js";
import { removeDir } from "../helpers/daemon.js";

const PER_RPC = Number(process.env.HPOD_FUZZ_PER_RPC ?? 1000);
const SEED = Number(process.env.HPOD_FUZZ_SEED ?? 20261127);

let d: StressDaemon;
let c: StressClient;

beforeAll(async () => {
  d = await startStressDaemon();
  c = connectStress(d.address);
  await createBystanders(c);
});

afterAll(async () => {
  c?.close();
  if (d) {
    await d.stop();
    removeDir(d.dataDir);
  }
});

describe("fuzzing", () => {
  it(`survives ${PER_RPC} generated requests per RPC (seed ${SEED})`, { timeout: 240_000 }, async () => {
    const before = await exportBystanders(c);
    const beforeNoHeartbeats = await exportBystanders(c, true);
    const res = await runFuzz({ address: d.address, perRpc: PER_RPC, seed: SEED, protectedNames: BYSTANDERS, concurrency: 8 });
    if (res.encodeErrors.length) console.log(`encoder refusals (first ${res.encodeErrors.length}):\n${res.encodeErrors.join("\n")}`);
    console.log(`fuzz: ${res.requests} requests in ${res.seconds.toFixed(1)} s (seed ${SEED})\n${formatCounts(res)}`);
    for (const f of res.failures) console.error(`${f.rpc} #${f.index} -> ${f.code}: ${f.details}\n  mutation ${f.mutation}\n  json ${f.requestJson}\n  hex ${f.requestHex}`);
    // The daemon is alive and serving.
    expect(d.alive(), d.logs.slice(-40).join("\n")).toBe(true);
    expect(await healthServing(d.address)).toBe(true);
    // Every RPC was exercised and none said INTERNAL or UNKNOWN.
    for (const rpc of RPCS) {
      const total = Object.values(res.counts[rpc]).reduce((a, b) => a + b, 0);
      expect(total, rpc).toBe(PER_RPC);
    }
    expect(res.failures.map((f) => `${f.rpc} #${f.index} ${f.code} ${f.details}`)).toEqual([]);
    // Nothing reached the "unexpected error" path (which answers INTERNAL).
    expect(d.logs.filter((l) => l.includes("unexpected error in handler"))).toEqual([]);
    // Bystanders untouched.
    const after = await exportBystanders(c);
    for (const n of BYSTANDERS) expect(after[n], n).toBe(before[n]);
    // Still durable and loadable: restart on the same directory and compare again.
    await d.stop();
    d = await startStressDaemon({ dataDir: d.dataDir });
    c.close();
    c = connectStress(d.address);
    const reloaded = await exportBystanders(c, true);
    for (const n of BYSTANDERS) expect(reloaded[n], n).toBe(beforeNoHeartbeats[n]);
  });
});
