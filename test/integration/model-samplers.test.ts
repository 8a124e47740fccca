/**
 * Model-based samplers in the daemon: they run in worker threads, parallel
 * workers get distinct legal points, auto records its choice and keeps it
 * across budget changes and restarts, and a failing region is avoided.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type Daemon } from "../helpers/daemon.js";
import { connect, type TestClient } from "../helpers/grpc-client.js";
import { floatParam, intParam, plain, report, study } from "../helpers/specs.js";

let d: Daemon;
let c: TestClient;

beforeAll(async () => {
  d = await startDaemon();
  c = connect(d.address);
});
afterAll(async () => {
  c.close();
  expect(await d.stop()).toBe(0);
});

const params = [floatParam("x", -5, 10), floatParam("y", 0, 15), intParam("n", 1, 8)];
const branin = (x: number, y: number): number =>
  (y - (5.1 / (4 * Math.PI ** 2)) * x ** 2 + (5 / Math.PI) * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;

async function runSequential(name: string, n: number, f: (p: Record<string, number>) => number): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = (await c.suggest({ study: name, count: 1, workerId: "w" })).trials[0]!;
    const p = Object.fromEntries(Object.entries(t.params).map(([k, v]) => [k, plain(v) as number]));
    const v = f(p);
    values.push(v);
    await c.report(report(name, t.id, [v], { final: true, workerId: "w" }));
  }
  return values;
}

describe.each(["tpe", "gp", "cmaes", "genetic"])("%s in the daemon", (algorithm) => {
  it("hands parallel workers distinct legal points and finds a good region", async () => {
    const name = `ms-${algorithm}`;
    await c.createStudy({ study: study(name, { params, algorithm, seed: 5 }), loadIfExists: false });
    const values = await runSequential(name, 25, (p) => branin(p.x!, p.y!) + (p.n! - 3) ** 2 * 0.01);
    const batch = await Promise.all(Array.from({ length: 6 }, (_, i) => c.suggest({ study: name, count: 1, workerId: `p${i}` })));
    const keys = batch.map((b) => JSON.stringify(b.trials[0]!.params));
    expect(new Set(keys).size).toBe(6);
    for (const b of batch) {
      const p = b.trials[0]!.params;
      expect(plain(p.x)).toBeGreaterThanOrEqual(-5);
      expect(plain(p.x)).toBeLessThanOrEqual(10);
      expect(Number.isInteger(plain(p.n))).toBe(true);
    }
    // The function's mean over the box is about 55; a working sampler is far below it.
    expect(Math.min(...values)).toBeLessThan(6);
  });
});

describe("auto", () => {
  it("records its choice, keeps it when max_trials changes and across restarts", async () => {
    const created = await c.createStudy({ study: study("auto-1", { params, algorithm: "", maxTrials: 40 }), loadIfExists: false });
    expect(created.study?.resolvedAlgorithm).toBe("auto:gp");
    const first = (await c.suggest({ study: "auto-1", count: 1, workerId: "w" })).trials[0]!;
    // The first trial is the centre of the space.
    expect(plain(first.params.x)).toBeCloseTo(2.5, 9);
    expect(plain(first.params.y)).toBeCloseTo(7.5, 9);
    const updated = await c.updateStudy({ name: "auto-1", maxTrials: 100_000 });
    expect(updated.study?.resolvedAlgorithm).toBe("auto:gp");
    const noBudget = await c.createStudy({ study: study("auto-2", { params, algorithm: "auto" }), loadIfExists: false });
    expect(noBudget.study?.resolvedAlgorithm).toBe("auto:cmaes");
    c.close();
    expect(await d.stop()).toBe(0);
    d = await startDaemon({ dataDir: d.dataDir });
    c = connect(d.address);
    expect((await c.getStudy({ name: "auto-1" })).study?.resolvedAlgorithm).toBe("auto:gp");
    expect((await c.suggest({ study: "auto-1", count: 1, workerId: "w2" })).trials).toHaveLength(1);
  });
});
