/**
 * `hpo runner` against the real daemon: setup errors before any trial,
 * failures (exit code + stderr tail, missing final, timeout), trials that
 * report themselves, heartbeats, SIGTERM shutdown, a runner killed with
 * SIGKILL (the daemon's leases hand its trials back) and a restarted runner
 * reclaiming its trial. Trials are CPU slots (--gpus none).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Direction, Study, StudySpec } from "../../client/gen/hpod/v1/study.js";
import { TrialState, type Trial } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { STDERR_TAIL_BYTES } from "../../gpu-runner/trial-supervisor.js";
import { CLI_MAIN, removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { floatParam } from "../helpers/specs.js";
import {
  groupExists,
  groupRunning,
  killGroup,
  readRecords,
  SELF_REPORT,
  spawnRunner,
  TRIAL_SH,
  waitUntil,
} from "../fixtures/runner/spawn-runner.js";

let daemon: Daemon;
let client: HpodClient;
const dirs: string[] = [];
const groups: number[] = [];

beforeAll(async () => {
  daemon = await startDaemon({ args: ["--lease-sweep-ms", "100"] });
  client = new HpodClient({ address: daemon.address });
});

afterAll(async () => {
  groups.forEach(killGroup);
  client?.close();
  await daemon?.stop();
  removeDir(daemon?.dataDir ?? "");
  dirs.forEach(removeDir);
});

function dir(): string {
  const d = tempDir("hpod-runner-life-");
  dirs.push(d);
  return d;
}

async function createStudy(name: string, maxTrials: number, heartbeatTimeoutSeconds = 10): Promise<void> {
  await client.createStudy({
    study: Study.fromPartial({
      name,
      spec: StudySpec.fromPartial({
        searchSpace: { parameters: [floatParam("x", 0, 1)] },
        objectives: [{ name: "loss", direction: Direction.DIRECTION_MINIMIZE }],
        algorithm: { name: "random", seed: 3 },
        maxTrials,
        heartbeatTimeout: { seconds: Math.floor(heartbeatTimeoutSeconds), nanos: Math.round((heartbeatTimeoutSeconds % 1) * 1e9) },
      }),
    }),
  });
}

async function trials(study: string): Promise<Trial[]> {
  const out: Trial[] = [];
  for await (const t of client.iterateTrials({ study })) out.push(t);
  return out;
}

/** Runs a runner to its end with CPU slots; returns it. */
async function runToEnd(study: string, command: string, extra: string[] = []): Promise<ReturnType<typeof spawnRunner>> {
  const runner = spawnRunner(daemon.address, ["--study", study, "--command", command, "--log-dir", dir(), "--gpus", "none", "--slots", "1", ...extra]);
  await runner.exited;
  return runner;
}

describe("setup errors", () => {
  it("names an unknown placeholder and starts no trial", async () => {
    await createStudy("bad-template", 3);
    const runner = await runToEnd("bad-template", "python train.py --lr {lr} --x {x}");
    expect(await runner.exited).toEqual({ code: 2, signal: null });
    expect(runner.text.join("\n")).toBe(
      'hpo runner: --command: unknown placeholder {lr}: study "bad-template" has the parameters x (write {{ and }} for literal braces)',
    );
    expect(await trials("bad-template")).toEqual([]);
  });

  it("fails with NOT_FOUND for a missing study, and with usage for a missing --command", async () => {
    const missing = await runToEnd("no-such-study", "true");
    expect((await missing.exited).code).toBe(1);
    expect(missing.text[0]).toMatch(/^hpo runner: NOT_FOUND: /);
    const usage = spawnRunner(daemon.address, ["--study", "x"]);
    expect((await usage.exited).code).toBe(2);
    expect(usage.text[0]).toBe("hpo runner: --command is required");
  });
});

describe("trial failures", () => {
  it("marks a non-zero exit FAILED with the exit code and the last ~2 KB of stderr", async () => {
    await createStudy("fail-exit", 1);
    await runToEnd("fail-exit", `sh ${TRIAL_SH} ${dir()} --steps 1 --exit 3 --no-final --stderr-bytes 6000`);
    const [t] = await trials("fail-exit");
    expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(t.stateReason).toMatch(/^worker reported failure: exit code 3; stderr tail:\nstderr line \d+ of trial 0\n/);
    expect(t.stateReason).toMatch(/stderr line 2\d\d of trial 0$/); // the last line (6000 bytes: lines 0..2xx)
    expect(t.stateReason).not.toContain("stderr line 0 of");
    const tail = t.stateReason.slice(t.stateReason.indexOf("\n") + 1);
    expect(tail.length).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
    expect(tail.length).toBeGreaterThan(STDERR_TAIL_BYTES - 100);
    expect(t.intermediate.map((m) => m.step)).toEqual([1]);
  });

  it("fails a trial that exits 0 without a final result", async () => {
    await createStudy("fail-nofinal", 1);
    await runToEnd("fail-nofinal", `sh ${TRIAL_SH} ${dir()} --steps 2 --no-final`);
    const [t] = await trials("fail-nofinal");
    expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(t.stateReason).toContain('exit code 0 without a final result: no {"hpod": {"final": ...}} line');
  });

  it("stops a trial past --trial-timeout (its whole group) and fails it", async () => {
    await createStudy("fail-timeout", 1);
    const out = dir();
    const started = Date.now();
    await runToEnd("fail-timeout", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 30 --child`, ["--trial-timeout", "0.8", "--kill-grace-seconds", "0.5"]);
    const took = Date.now() - started;
    const [t] = await trials("fail-timeout");
    expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
    expect(t.stateReason).toMatch(/^worker reported failure: timed out after 0\.8 s \(--trial-timeout\)/);
    const [record] = readRecords(out);
    groups.push(record.pgid);
    expect(groupRunning(record.pgid)).toBe(false);
    expect(took).toBeLessThan(5000);
  });
});

describe("trials that talk to the daemon themselves", () => {
  it("leaves a trial that reported itself (HPOD_ADDRESS, HPOD_STUDY, HPOD_TRIAL_ID, HPOD_WORKER_ID) as it reported", async () => {
    await createStudy("self", 2);
    const runner = await runToEnd("self", `${process.execPath} ${SELF_REPORT} ${CLI_MAIN.replace(/cli\/main\.js$/, "index.js")}`);
    expect((await runner.exited).code).toBe(0);
    for (const t of await trials("self")) {
      const x = t.params.x.kind?.value as number;
      expect(t.state).toBe(TrialState.TRIAL_STATE_COMPLETE);
      expect(t.finalMeasurement?.values[0]).toBeCloseTo(x * x, 12);
      expect(t.intermediate.map((m) => m.step)).toEqual([1]);
    }
    const ended = runner.logs.filter((l) => l.msg === "trial ended");
    expect(ended.map((l) => l.reason)).toEqual(["reported by the trial itself (COMPLETE)", "reported by the trial itself (COMPLETE)"]);
  });

  it("keeps the lease of a long silent trial alive with heartbeats (timeout 1 s, trial 2.5 s)", async () => {
    await createStudy("heartbeat", 1, 1);
    const runner = await runToEnd("heartbeat", `sh ${TRIAL_SH} ${dir()} --steps 0 --sleep 2.5`);
    expect((await runner.exited).code).toBe(0);
    const [t] = await trials("heartbeat");
    expect(t.state, t.stateReason).toBe(TrialState.TRIAL_STATE_COMPLETE);
    expect(runner.logs.find((l) => l.msg === "runner started")?.heartbeat_ms).toBe(333);
  });
});

describe("shutdown", () => {
  it("on SIGTERM takes no new trial, then after the grace stops the running ones and fails them as 'runner shutting down'", async () => {
    await createStudy("term-stop", 6);
    const out = dir();
    const runner = spawnRunner(daemon.address, [
      "--study", "term-stop", "--command", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 30`,
      "--log-dir", dir(), "--gpus", "none", "--slots", "2",
      "--shutdown-grace-seconds", "0.5", "--kill-grace-seconds", "0.5",
    ]);
    await waitUntil(() => readRecords(out).length === 2, 10_000, "two trials to start");
    const sent = Date.now();
    runner.proc.kill("SIGTERM");
    const { code } = await runner.exited;
    const took = Date.now() - sent;
    expect(code).toBe(0);
    expect(took).toBeLessThan(3000);
    const all = await trials("term-stop");
    expect(all).toHaveLength(2);
    for (const t of all) {
      expect(t.state).toBe(TrialState.TRIAL_STATE_FAILED);
      expect(t.stateReason).toBe("worker reported failure: runner shutting down");
    }
    for (const r of readRecords(out)) {
      groups.push(r.pgid);
      expect(groupRunning(r.pgid)).toBe(false);
    }
    console.log(`SIGTERM with 0.5 s grace: runner exited after ${took} ms`);
  });

  it("on SIGTERM lets running trials finish within the grace and starts no new one", async () => {
    await createStudy("term-drain", 6);
    const out = dir();
    const runner = spawnRunner(daemon.address, [
      "--study", "term-drain", "--command", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 1`,
      "--log-dir", dir(), "--gpus", "none", "--slots", "2", "--shutdown-grace-seconds", "20",
    ]);
    await waitUntil(() => readRecords(out).length === 2, 10_000, "two trials to start");
    runner.proc.kill("SIGTERM");
    expect((await runner.exited).code).toBe(0);
    const all = await trials("term-drain");
    expect(all.map((t) => t.state)).toEqual([TrialState.TRIAL_STATE_COMPLETE, TrialState.TRIAL_STATE_COMPLETE]);
  });
});

describe("a runner that dies", () => {
  it("killed with SIGKILL: the daemon marks its trials stale after heartbeat_timeout; nothing is reported twice", async () => {
    await createStudy("killed", 4, 1);
    const out = dir();
    const runner = spawnRunner(daemon.address, [
      "--study", "killed", "--command", `sh ${TRIAL_SH} ${out} --steps 100 --interval 0.1`,
      "--log-dir", dir(), "--gpus", "none", "--slots", "2",
    ]);
    await waitUntil(async () => (await trials("killed")).filter((t) => t.intermediate.length >= 2).length === 2, 10_000, "two trials reporting");
    runner.proc.kill("SIGKILL");
    const killedAt = Date.now();
    await runner.exited;
    const records = readRecords(out);
    records.forEach((r) => groups.push(r.pgid));
    const staleAfter = await waitUntil(
      async () => (await trials("killed")).every((t) => t.state === TrialState.TRIAL_STATE_FAILED),
      10_000,
      "both trials to go stale",
    );
    const all = await trials("killed");
    expect(all).toHaveLength(2);
    for (const t of all) {
      expect(t.stateReason).toMatch(/^stale: no heartbeat from worker "[^"]+\/[01]" for \d+ s$/);
      const steps = t.intermediate.map((m) => m.step);
      expect(new Set(steps).size).toBe(steps.length);
      expect(steps).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
    }
    // stale after heartbeat_timeout (1 s) from the last heartbeat or report, swept every 100 ms
    expect(staleAfter).toBeLessThan(3000);
    // the orphaned trials die at their next output line (SIGPIPE: the runner held the pipes)
    const orphansGone = await waitUntil(() => records.every((r) => !groupRunning(r.pgid)), 5000, "the orphans to die");
    console.log(`runner SIGKILL: trials stale ${staleAfter} ms later (heartbeat_timeout 1 s); orphaned trials dead after ${orphansGone} ms`);
    expect(Date.now() - killedAt).toBeLessThan(8000);
  });

  it("restarted with the same worker id: stops the orphan left running, re-runs the trial, sends no step twice", async () => {
    await createStudy("restart", 1, 30);
    const out = dir();
    const logDir = dir();
    const args = [
      "--study", "restart", "--command", `sh ${TRIAL_SH} ${out} --steps 2 --first-sleep 60`,
      "--log-dir", logDir, "--gpus", "none", "--slots", "1", "--worker-id", "host-r",
    ];
    const first = spawnRunner(daemon.address, args);
    await waitUntil(async () => (await trials("restart"))[0]?.intermediate.length === 2, 10_000, "steps 1 and 2 reported");
    const [orphan] = readRecords(out);
    groups.push(orphan.pgid);
    first.proc.kill("SIGKILL");
    await first.exited;
    expect(groupRunning(orphan.pgid)).toBe(true); // silent: no SIGPIPE yet

    const second = spawnRunner(daemon.address, args);
    const { code } = await second.exited;
    expect(code, second.text.join("\n")).toBe(0);
    expect(second.logs.some((l) => l.msg === "stopping the trial's process group left by an earlier runner" && l.pgid === orphan.pgid)).toBe(true);
    expect(groupRunning(orphan.pgid)).toBe(false);
    const [t] = await trials("restart");
    expect(t.state, t.stateReason).toBe(TrialState.TRIAL_STATE_COMPLETE);
    expect(t.workerId).toBe("host-r/0");
    expect(t.intermediate.map((m) => m.step)).toEqual([1, 2]);
    const started = second.logs.find((l) => l.msg === "trial started");
    expect(started?.steps_already_recorded).toBe(2);
    expect(second.logs.find((l) => l.msg === "trial ended")?.skipped_steps).toBe(2);
    expect(groupExists(orphan.pgid) && groupRunning(orphan.pgid)).toBe(false);
  });
});
