/**
 * Acknowledged means durable: workers report while the daemon is killed with
 * SIGKILL; after a restart on the same directory every acknowledged report is
 * there and no trial id is duplicated. Also: concurrent workers never share a
 * trial.
 */
import { afterAll, describe, expect, it } from "vitest";
import { TrialState, type Trial } from "../../client/gen/hpod/v1/trial.js";
import { removeDir, startDaemon, tempDir } from "../helpers/daemon.js";
import { connect, type TestClient } from "../helpers/grpc-client.js";
import { report, study } from "../helpers/specs.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

interface Ack {
  trial: number;
  step: number | "final";
  value: number;
}

async function listAll(c: TestClient, name: string): Promise<Trial[]> {
  const out: Trial[] = [];
  let token = "";
  do {
    const page = await c.listTrials({ study: name, pageSize: 1000, pageToken: token, states: [], omitIntermediate: false });
    out.push(...page.trials);
    token = page.nextPageToken;
  } while (token);
  return out;
}

/** A worker loop that records only what the daemon acknowledged. */
async function worker(c: TestClient, name: string, id: string, acks: Ack[], stop: { now: boolean }): Promise<void> {
  while (!stop.now) {
    try {
      const s = await c.suggest({ study: name, count: 1, workerId: id });
      const t = s.trials[0];
      if (!t) return;
      const start = t.intermediate.length;
      for (let step = start; step < 5 && !stop.now; step++) {
        const value = t.id * 100 + step;
        await c.report(report(name, t.id, [value], { step, workerId: id }));
        acks.push({ trial: t.id, step, value });
      }
      if (stop.now) return;
      await c.report(report(name, t.id, [t.id], { final: true, workerId: id }));
      acks.push({ trial: t.id, step: "final", value: t.id });
    } catch {
      return; // the daemon is gone; what was acknowledged is recorded
    }
  }
}

describe("crash consistency", () => {
  it("keeps every acknowledged report across repeated SIGKILLs", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const acks: Ack[] = [];
    const seenIds = new Set<number>();
    for (let round = 0; round < 4; round++) {
      const d = await startDaemon({ dataDir });
      const c = connect(d.address);
      if (round === 0) await c.createStudy({ study: study("crash"), loadIfExists: false });
      // Everything acknowledged before this restart must be here now.
      const trials = await listAll(c, "crash");
      checkAcks(trials, acks);
      const ids = trials.map((t) => t.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(ids.map((_, i) => i));
      for (const id of ids) seenIds.add(id);
      const stop = { now: false };
      const loops = Array.from({ length: 8 }, (_, i) => worker(c, "crash", `w${i}`, acks, stop));
      await new Promise((r) => setTimeout(r, 300 + round * 150));
      await d.kill();
      stop.now = true;
      await Promise.all(loops);
      c.close();
    }
    const d = await startDaemon({ dataDir });
    const c = connect(d.address);
    const trials = await listAll(c, "crash");
    checkAcks(trials, acks);
    expect(acks.length).toBeGreaterThan(50);
    expect(new Set(trials.map((t) => t.id)).size).toBe(trials.length);
    c.close();
    expect(await d.stop()).toBe(0);
  });
});

function checkAcks(trials: Trial[], acks: Ack[]): void {
  const byId = new Map(trials.map((t) => [t.id, t]));
  for (const a of acks) {
    const t = byId.get(a.trial);
    expect(t, `trial ${a.trial} lost`).toBeDefined();
    if (a.step === "final") {
      expect(t!.state).toBe(TrialState.TRIAL_STATE_COMPLETE);
      expect(t!.finalMeasurement?.values).toEqual([a.value]);
    } else {
      const m = t!.intermediate.filter((x) => x.step === a.step);
      expect(m, `trial ${a.trial} step ${a.step}`).toHaveLength(1);
      expect(m[0]!.values).toEqual([a.value]);
    }
  }
}

describe("concurrency", () => {
  it("gives 16 concurrent workers distinct trials, never one trial to two workers", async () => {
    const d = await startDaemon();
    dirs.push(d.dataDir);
    const clients = Array.from({ length: 4 }, () => connect(d.address));
    await clients[0]!.createStudy({ study: study("conc", { maxTrials: 320 }), loadIfExists: false });
    const holder = new Map<number, string>();
    const conflicts: string[] = [];
    const loop = async (w: number): Promise<void> => {
      const c = clients[w % clients.length]!;
      const id = `worker-${w}`;
      for (;;) {
        const s = await c.suggest({ study: "conc", count: 1, workerId: id });
        const t = s.trials[0];
        if (!t) {
          if (s.studyDone) return;
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const prev = holder.get(t.id);
        if (prev !== undefined && prev !== id) conflicts.push(`trial ${t.id}: ${prev} and ${id}`);
        holder.set(t.id, id);
        await c.report(report("conc", t.id, [t.id % 7], { step: 0, workerId: id }));
        await c.report(report("conc", t.id, [t.id % 7], { final: true, workerId: id }));
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => loop(w)));
    expect(conflicts).toEqual([]);
    const trials = await listAll(clients[0]!, "conc");
    expect(trials).toHaveLength(320);
    expect(new Set(trials.map((t) => t.id)).size).toBe(320);
    for (const t of trials) {
      expect(t.state).toBe(TrialState.TRIAL_STATE_COMPLETE);
      expect(t.workerId).toBe(holder.get(t.id));
    }
    expect(new Set(trials.map((t) => t.workerId)).size).toBe(16);
    clients.forEach((c) => c.close());
    expect(await d.stop()).toBe(0);
  });
});
