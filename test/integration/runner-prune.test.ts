/**
 * Pruning and report accounting of `hpo runner`, against an in-process
 * stand-in of HpodService (test/fixtures/runner/fake-hpod.ts) that answers
 * PRUNE for a chosen trial at a chosen step and logs every call exactly. (The
 * real daemon's pruners are exercised by the PyTorch end-to-end test.)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { removeDir, tempDir } from "../helpers/daemon.js";
import { startFakeHpod, type FakeHpod } from "../fixtures/runner/fake-hpod.js";
import { groupExists, groupRunning, killGroup, readRecords, spawnRunner, TRIAL_SH, waitUntil } from "../fixtures/runner/spawn-runner.js";

const dirs: string[] = [];
const fakes: FakeHpod[] = [];
const orphans: number[] = [];

afterAll(async () => {
  orphans.forEach(killGroup);
  await Promise.all(fakes.map((f) => f.close()));
  dirs.forEach(removeDir);
});

function dir(): string {
  const d = tempDir("hpod-runner-prune-");
  dirs.push(d);
  return d;
}

/** Every (trial, kind, step) appears once; returns the reports by trial. */
function expectNoDuplicates(fake: FakeHpod): Map<number, string[]> {
  const byTrial = new Map<number, string[]>();
  for (const { request: r } of fake.reports) {
    const key = r.failed ? "failed" : r.final ? "final" : `step ${r.step}`;
    const list = byTrial.get(r.trialId) ?? [];
    expect(list, `trial ${r.trialId} reported ${key} twice`).not.toContain(key);
    list.push(key);
    byTrial.set(r.trialId, list);
    // the closing report is the last one of its trial
    expect(list.filter((k) => k === "final" || k === "failed").length).toBeLessThanOrEqual(1);
  }
  return byTrial;
}

const GRACE_MS = 600;

describe.each([
  { name: "a trial that ends on SIGTERM", extra: [] as string[], stubborn: false },
  { name: "a trial (and its child) ignoring SIGTERM", extra: ["--ignore-term", "--child"], stubborn: true },
])("prune of $name", ({ extra, stubborn }) => {
  it("stops its whole process group within the grace, sends nothing after the PRUNE, and every other step exactly once", async () => {
    const fake = await startFakeHpod({ trials: 4, heartbeatTimeoutSeconds: 1.5, pruneAt: (id, step) => id === 1 && step === 3 });
    fakes.push(fake);
    const out = dir();
    const logDir = dir();
    const runner = spawnRunner(fake.address, [
      "--study", "fake",
      "--command", `sh ${TRIAL_SH} ${out} --param {x} --steps 30 --interval 0.05 ${extra.join(" ")}`,
      "--log-dir", logDir,
      "--gpus", "none",
      "--slots", "2",
      "--worker-id", "pr",
      "--kill-grace-seconds", String(GRACE_MS / 1000),
    ]);
    await waitUntil(() => fake.prunedAt.has(1), 20_000, "the PRUNE answer for trial 1");
    const prunedAt = fake.prunedAt.get(1) as number;
    await waitUntil(() => readRecords(out).some((r) => r.trial === 1), 5000, "trial 1's record");
    const record = readRecords(out).find((r) => r.trial === 1);
    if (record === undefined) throw new Error("no record of trial 1");
    orphans.push(record.pgid);
    // the runner's pgid file names the same group the trial runs in
    expect(Number(readFileSync(join(logDir, "fake", "1", "pgid"), "utf8"))).toBe(record.pgid);
    await waitUntil(() => !groupRunning(record.pgid), GRACE_MS + 3000, `group ${record.pgid} to stop running`, 5);
    const deadAfter = Date.now() - prunedAt;
    await waitUntil(() => !groupExists(record.pgid), 10_000, `kill -0 -${record.pgid} to fail`, 5);
    const goneAfter = Date.now() - prunedAt;
    console.log(
      `${stubborn ? "SIGTERM-proof" : "plain"} trial: no live process in its group ${deadAfter} ms after the PRUNE answer, ` +
        `kill -0 -pgid fails after ${goneAfter} ms (grace ${GRACE_MS} ms)`,
    );
    // Every process is dead within the grace (plus the runner's reaction time) ...
    expect(deadAfter).toBeLessThan(GRACE_MS + 1000);
    if (stubborn) expect(deadAfter).toBeGreaterThanOrEqual(GRACE_MS - 50); // it needed the SIGKILL
    else expect(deadAfter).toBeLessThan(GRACE_MS);
    // ... and gone from kill -0 once PID 1 reaped the orphaned zombies (slow here: up to ~2 s).
    expect(goneAfter).toBeLessThan(GRACE_MS + 4000);

    const { code } = await runner.exited;
    expect(code, runner.text.join("\n")).toBe(0);
    const byTrial = expectNoDuplicates(fake);
    // trial 1: steps 1..3, then nothing (the runner sends no final or failure for a pruned trial)
    expect(byTrial.get(1)).toEqual(["step 1", "step 2", "step 3"]);
    expect(fake.reports.filter((r) => r.request.trialId === 1 && r.at > prunedAt)).toEqual([]);
    for (const id of [0, 2, 3]) {
      expect(byTrial.get(id)).toEqual([...Array.from({ length: 30 }, (_, i) => `step ${i + 1}`), "final"]);
    }
    const ended = runner.logs.filter((l) => l.msg === "trial ended");
    expect(ended.map((l) => [l.trial, l.outcome]).sort()).toEqual([
      [0, "complete"],
      [1, "pruned"],
      [2, "complete"],
      [3, "complete"],
    ]);
    // heartbeats: every 500 ms (heartbeat_timeout 1.5 s / 3), from the slot's worker id
    expect(fake.heartbeats.length).toBeGreaterThan(0);
    for (const h of fake.heartbeats) expect(h.request.workerId).toBe(fake.trials.get(h.request.trialId)?.workerId);
    expect(new Set(fake.suggests.map((s) => s.workerId))).toEqual(new Set(["pr/0", "pr/1"]));
  });
});

describe("prune through a heartbeat answer", () => {
  it("stops a silent trial once a heartbeat says PRUNE", async () => {
    const fake = await startFakeHpod({ trials: 1, heartbeatTimeoutSeconds: 0.6 });
    fakes.push(fake);
    const out = dir();
    const runner = spawnRunner(fake.address, [
      "--study", "fake",
      "--command", `sh ${TRIAL_SH} ${out} --steps 0 --sleep 30`,
      "--log-dir", dir(),
      "--gpus", "none",
      "--kill-grace-seconds", "0.5",
    ]);
    await waitUntil(() => readRecords(out).length === 1, 10_000, "the trial to start").catch((e: unknown) => {
      throw new Error(`${String(e)}\n${runner.text.join("\n")}\n${runner.logs.map((l) => JSON.stringify(l)).join("\n")}`);
    });
    const t = fake.trials.get(0);
    if (t === undefined) throw new Error("no trial 0");
    t.state = 4; // PRUNED, as another pruner decision (or a user) would make it
    const markedAt = Date.now();
    const { code } = await runner.exited;
    expect(code).toBe(0);
    const [record] = readRecords(out);
    orphans.push(record.pgid);
    expect(groupRunning(record.pgid)).toBe(false);
    expect(Date.now() - markedAt).toBeLessThan(200 + 500 + 1500);
    expect(runner.logs.find((l) => l.msg === "trial ended")?.outcome).toBe("pruned");
    expect(fake.reports).toEqual([]);
  });
});
