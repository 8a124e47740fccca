/**
 * `hpo runner --launcher slurm` against a real single-node Slurm 22.05 (from
 * Debian's packages, started by test/helpers/slurm.ts with 4 fake GPUs) and
 * the real daemon: jobs are really submitted with sbatch, tracked with
 * squeue/scontrol, cancelled with scancel, and their stdout files tailed.
 *
 * Skips when Slurm is not installed, unless HPOD_REQUIRE_SLURM=1 (CI), where
 * a missing Slurm fails the test.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Direction, Study, StudySpec } from "../../client/gen/hpod/v1/study.js";
import { TrialState, type Trial } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { slurmSkipReason, startSlurm, type SlurmCluster } from "../helpers/slurm.js";
import { floatParam } from "../helpers/specs.js";
import { startFakeHpod, type FakeHpod } from "../fixtures/runner/fake-hpod.js";
import { groupRunning, killGroup, maxConcurrency, readRecords, spawnRunner, TRIAL_SH, waitUntil } from "../fixtures/runner/spawn-runner.js";

const skipReason = slurmSkipReason();
const required = process.env.HPOD_REQUIRE_SLURM === "1";
if (skipReason !== undefined && !required) console.warn(`skipping the Slurm runner tests: ${skipReason}`);

let slurm: SlurmCluster;
let daemon: Daemon;
let client: HpodClient;
const dirs: string[] = [];
const groups: number[] = [];
const fakes: FakeHpod[] = [];

function dir(): string {
  const d = tempDir("hpod-runner-slurm-");
  dirs.push(d);
  return d;
}

async function createStudy(name: string, maxTrials: number): Promise<void> {
  await client.createStudy({
    study: Study.fromPartial({
      name,
      spec: StudySpec.fromPartial({
        searchSpace: { parameters: [floatParam("x", 0, 1)] },
        objectives: [{ name: "loss", direction: Direction.DIRECTION_MINIMIZE }],
        algorithm: { name: "random", seed: 9 },
        maxTrials,
        heartbeatTimeout: { seconds: 5, nanos: 0 },
      }),
    }),
  });
}

async function trials(study: string): Promise<Trial[]> {
  const out: Trial[] = [];
  for await (const t of client.iterateTrials({ study })) out.push(t);
  return out;
}

async function jobFields(logDir: string, study: string, trial: number): Promise<Record<string, string>> {
  const id = readFileSync(join(logDir, study, String(trial), "jobid"), "utf8").trim();
  const line = await slurm.run("scontrol", ["show", "job", "-o", id]);
  return Object.fromEntries(line.trim().split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

describe.skipIf(skipReason !== undefined && !required)("hpo runner --launcher slurm on a real Slurm", () => {
  beforeAll(async () => {
    if (skipReason !== undefined) throw new Error(`HPOD_REQUIRE_SLURM=1 but ${skipReason}`);
    const started = Date.now();
    [slurm, daemon] = await Promise.all([startSlurm({ gpus: 4 }), startDaemon({ args: ["--lease-sweep-ms", "100"] })]);
    client = new HpodClient({ address: daemon.address });
    console.log(`Slurm (munged, slurmctld, slurmd) and hpod up in ${Date.now() - started} ms`);
  }, 60_000);

  afterAll(async () => {
    groups.forEach(killGroup);
    client?.close();
    await Promise.all([slurm?.stop(), daemon?.stop(), ...fakes.map((f) => f.close())]);
    removeDir(daemon?.dataDir ?? "");
    dirs.forEach(removeDir);
  }, 60_000);

  it("submits, tracks and completes jobs, one fake GPU each from Slurm; a failing job's exit code comes from scontrol", async () => {
    const started = Date.now();
    await createStudy("slurm-ok", 6);
    const out = dir();
    const logDir = dir();
    const runner = spawnRunner(
      daemon.address,
      [
        "--study", "slurm-ok",
        "--command", `sh ${TRIAL_SH} ${out} --param {x} --steps 3 --interval 0.1 --sleep 0.3 --fail-trial 5 7`,
        "--launcher", "slurm", "--slots", "4", "--gpus-per-trial", "1",
        "--slurm-poll-seconds", "0.2", "--log-dir", logDir, "--worker-id", "slurmhost",
        "--time", "5:00", "--partition", "debug", "--sbatch-arg=--comment=hpod-test",
      ],
      slurm.env,
    );
    const { code } = await runner.exited;
    expect(code, `${runner.text.join("\n")}\n${slurm.logs()}`).toBe(0);
    const records = readRecords(out);
    expect(records.map((r) => r.trial)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const r of records) {
      expect(r.cvd, "Slurm sets CUDA_VISIBLE_DEVICES from the gres").toMatch(/^[0-3]$/);
      expect(r.worker).toMatch(/^slurmhost\/[0-3]$/);
      expect(r.paramsFile).toBe(join(logDir, "slurm-ok", String(r.trial), "params.json"));
    }
    const perGpu = maxConcurrency(records.map((r) => ({ key: r.cvd, start: r.startNs, end: r.endNs ?? r.startNs })));
    expect([...perGpu.values()].every((n) => n === 1), JSON.stringify([...perGpu])).toBe(true);
    const all = await trials("slurm-ok");
    for (const t of all) {
      expect(t.intermediate.map((m) => m.step)).toEqual([1, 2, 3]);
      if (t.id === 5) {
        expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
        expect(t.stateReason).toMatch(/^worker reported failure: exit code 7 \(slurm job \d+ FAILED \(NonZeroExitCode\)\); stderr tail:\ntrial 5 fails on purpose with exit code 7$/);
      } else {
        expect(t.state, t.stateReason).toBe(TrialState.TRIAL_STATE_COMPLETE);
        expect(t.finalMeasurement?.values).toEqual([1 + t.id]);
      }
      const job = await jobFields(logDir, "slurm-ok", t.id);
      expect(job.JobName).toBe(`hpod-slurm-ok-${t.id}`);
      expect(job.JobState).toBe(t.id === 5 ? "FAILED" : "COMPLETED");
      expect(job.Comment).toBe("hpod-test");
      expect(job.Partition).toBe("debug");
      expect(job.TresPerNode).toBe("gres:gpu:1");
      expect(job.TimeLimit).toBe("00:05:00");
      expect(job.StdOut).toBe(join(logDir, "slurm-ok", String(t.id), "stdout"));
      expect(readFileSync(job.StdOut, "utf8")).toContain('{"hpod": {"step": 3,');
      expect(existsSync(join(logDir, "slurm-ok", String(t.id), "job.sh"))).toBe(true);
    }
    console.log(`6 Slurm jobs on 4 fake GPUs: ${Date.now() - started} ms`);
  });

  it("cancels a job past --trial-timeout with scancel and fails the trial", async () => {
    await createStudy("slurm-timeout", 1);
    const out = dir();
    const logDir = dir();
    const started = Date.now();
    const runner = spawnRunner(
      daemon.address,
      [
        "--study", "slurm-timeout", "--command", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 60`,
        "--launcher", "slurm", "--slots", "1", "--slurm-poll-seconds", "0.2", "--log-dir", logDir,
        "--trial-timeout", "3", "--kill-grace-seconds", "1", "--slurm-gpu-flag", "gpus",
      ],
      slurm.env,
    );
    expect((await runner.exited).code, runner.text.join("\n")).toBe(0);
    const took = Date.now() - started;
    const [t] = await trials("slurm-timeout");
    expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(t.stateReason).toMatch(/^worker reported failure: timed out after 3 s \(--trial-timeout\)/);
    const [record] = readRecords(out);
    groups.push(record.pgid);
    expect(groupRunning(record.pgid)).toBe(false);
    expect(record.cvd).toMatch(/^[0-3]$/);
    const job = await jobFields(logDir, "slurm-timeout", 0);
    expect(["CANCELLED", "FAILED"]).toContain(job.JobState);
    expect(job.TresPerJob).toBe("gres:gpu:1"); // --gpus=1 (not --gres, which shows as TresPerNode)
    expect(took).toBeLessThan(10_000);
  });

  it("cancels a pruned job (scancel) within the grace and reports nothing more for it", async () => {
    const fake = await startFakeHpod({ trials: 2, heartbeatTimeoutSeconds: 3, pruneAt: (id, step) => id === 0 && step === 2 });
    fakes.push(fake);
    const out = dir();
    const logDir = dir();
    const runner = spawnRunner(
      fake.address,
      [
        "--study", "fake", "--command", `sh ${TRIAL_SH} ${out} --steps 40 --interval 0.1 --ignore-term --child`,
        "--launcher", "slurm", "--slots", "2", "--slurm-poll-seconds", "0.2", "--log-dir", logDir, "--kill-grace-seconds", "1",
      ],
      slurm.env,
    );
    await waitUntil(() => fake.prunedAt.has(0), 30_000, "the PRUNE answer for trial 0");
    const prunedAt = fake.prunedAt.get(0) as number;
    await waitUntil(() => readRecords(out).some((r) => r.trial === 0), 5000, "trial 0's record");
    const record = readRecords(out).find((r) => r.trial === 0);
    if (record === undefined) throw new Error("no record of trial 0");
    groups.push(record.pgid);
    await waitUntil(() => !groupRunning(record.pgid), 10_000, "the pruned job's processes to end");
    const deadAfter = Date.now() - prunedAt;
    // SIGTERM is ignored: scancel --signal=KILL after the 1 s grace (+ squeue polling at 0.2 s)
    expect(deadAfter).toBeLessThan(1000 + 2500);
    expect((await runner.exited).code, runner.text.join("\n")).toBe(0);
    expect(fake.reports.filter((r) => r.request.trialId === 0).map((r) => r.request.step)).toEqual([1, 2]);
    expect(fake.reports.filter((r) => r.request.trialId === 0 && r.at > prunedAt)).toEqual([]);
    const other = fake.reports.filter((r) => r.request.trialId === 1);
    expect(other.map((r) => (r.request.final ? "final" : r.request.step))).toEqual([...Array.from({ length: 40 }, (_, i) => i + 1), "final"]);
    const job = await jobFields(logDir, "fake", 0);
    expect(job.JobState).not.toBe("RUNNING");
    expect(runner.logs.find((l) => l.msg === "trial ended" && l.trial === 0)?.outcome).toBe("pruned");
    console.log(`pruned Slurm job: processes gone ${deadAfter} ms after the PRUNE answer (grace 1 s, SIGTERM ignored)`);
  });

  it("re-attaches to a still running job when a restarted runner is handed its trial back; no step sent twice", async () => {
    await createStudy("slurm-reattach", 1);
    const out = dir();
    const logDir = dir();
    const args = [
      "--study", "slurm-reattach", "--command", `sh ${TRIAL_SH} ${out} --steps 6 --interval 0.4`,
      "--launcher", "slurm", "--slots", "1", "--slurm-poll-seconds", "0.2", "--log-dir", logDir, "--worker-id", "reattach",
    ];
    const first = spawnRunner(daemon.address, args, slurm.env);
    await waitUntil(async () => ((await trials("slurm-reattach"))[0]?.intermediate.length ?? 0) >= 2, 30_000, "two steps reported");
    first.proc.kill("SIGKILL");
    await first.exited;
    const jobId = readFileSync(join(logDir, "slurm-reattach", "0", "jobid"), "utf8").trim();
    const second = spawnRunner(daemon.address, args, slurm.env);
    expect((await second.exited).code, second.text.join("\n")).toBe(0);
    expect(second.logs.some((l) => l.msg === "re-attaching to the trial's slurm job left by an earlier runner" && l.job === jobId)).toBe(true);
    expect(readFileSync(join(logDir, "slurm-reattach", "0", "jobid"), "utf8").trim()).toBe(jobId); // not submitted again
    expect(readRecords(out)).toHaveLength(1); // the job ran once
    const [t] = await trials("slurm-reattach");
    expect(t.state, t.stateReason).toBe(TrialState.TRIAL_STATE_COMPLETE);
    expect(t.intermediate.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const skipped = Number(second.logs.find((l) => l.msg === "trial ended")?.skipped_steps ?? 0);
    expect(skipped).toBeGreaterThanOrEqual(2); // the steps the first runner sent were read again, not sent again
    expect((await jobFields(logDir, "slurm-reattach", 0)).JobState).toBe("COMPLETED");
  });

  it("on SIGTERM cancels pending and running jobs after the shutdown grace and fails their trials", async () => {
    await createStudy("slurm-term", 5);
    const out = dir();
    const logDir = dir();
    const runner = spawnRunner(
      daemon.address,
      [
        "--study", "slurm-term", "--command", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 60`,
        "--launcher", "slurm", "--slots", "5", "--slurm-poll-seconds", "0.2", "--log-dir", logDir,
        "--shutdown-grace-seconds", "0.5", "--kill-grace-seconds", "0.5",
      ],
      slurm.env,
    );
    // 4 GPUs: four jobs run, the fifth waits for a GPU
    await waitUntil(() => readRecords(out).length === 4, 30_000, "four jobs running");
    await waitUntil(async () => (await trials("slurm-term")).length === 5, 10_000, "the fifth trial");
    const pending = (await trials("slurm-term")).find((t) => !readRecords(out).some((r) => r.trial === t.id));
    if (pending === undefined) throw new Error("no pending trial");
    await waitUntil(async () => (await jobFields(logDir, "slurm-term", pending.id).catch(() => ({ JobState: "" }))).JobState === "PENDING", 10_000, "a pending job");
    runner.proc.kill("SIGTERM");
    expect((await runner.exited).code, runner.text.join("\n")).toBe(0);
    for (const t of await trials("slurm-term")) {
      expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
      expect(t.stateReason).toMatch(/^worker reported failure: runner shutting down/);
      const job = await jobFields(logDir, "slurm-term", t.id);
      expect(job.JobState === "CANCELLED" || job.JobState === "FAILED", `job of trial ${t.id}: ${job.JobState}`).toBe(true);
    }
    for (const r of readRecords(out)) {
      groups.push(r.pgid);
      expect(groupRunning(r.pgid)).toBe(false);
    }
  });
});
