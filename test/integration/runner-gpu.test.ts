/**
 * GPU slots of `hpo runner` against the real daemon, with a stand-in
 * nvidia-smi on PATH that lists 4 fake GPUs (no physical GPU exists here).
 * The training command is test/fixtures/runner/trial.sh, which records the
 * CUDA_VISIBLE_DEVICES, worker id and start/end times it ran with.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Direction, Study, StudySpec } from "../../client/gen/hpod/v1/study.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { installFakeNvidiaSmi, type FakeNvidiaSmi } from "../helpers/fake-nvidia-smi.js";
import { floatParam, intParam } from "../helpers/specs.js";
import { maxConcurrency, readRecords, spawnRunner, TRIAL_SH, waitUntil, type TrialRecord } from "../fixtures/runner/spawn-runner.js";

let daemon: Daemon;
let client: HpodClient;
let fake: FakeNvidiaSmi;
const dirs: string[] = [];

beforeAll(async () => {
  daemon = await startDaemon({ args: ["--lease-sweep-ms", "100"] });
  client = new HpodClient({ address: daemon.address });
  fake = installFakeNvidiaSmi(4);
});

afterAll(async () => {
  client?.close();
  await daemon?.stop();
  removeDir(daemon?.dataDir ?? "");
  fake?.remove();
  dirs.forEach(removeDir);
});

async function createStudy(name: string, maxTrials: number): Promise<void> {
  await client.createStudy({
    study: Study.fromPartial({
      name,
      spec: StudySpec.fromPartial({
        searchSpace: { parameters: [floatParam("x", 0, 1), intParam("n", 1, 100)] },
        objectives: [{ name: "loss", direction: Direction.DIRECTION_MINIMIZE }],
        algorithm: { name: "random", seed: 5 },
        maxTrials,
        heartbeatTimeout: { seconds: 5, nanos: 0 },
      }),
    }),
  });
}

function dir(): string {
  const d = tempDir("hpod-runner-gpu-");
  dirs.push(d);
  return d;
}

const intervalsByGpu = (records: TrialRecord[]): Array<{ key: string; start: bigint; end: bigint }> =>
  records.flatMap((r) => r.cvd.split(",").map((gpu) => ({ key: gpu, start: r.startNs, end: r.endNs ?? r.startNs })));

async function expectAllComplete(study: string, count: number, steps: number): Promise<void> {
  const trials = [];
  for await (const t of client.iterateTrials({ study })) trials.push(t);
  expect(trials).toHaveLength(count);
  for (const t of trials) {
    expect(t.state, `trial ${t.id}: ${t.stateReason}`).toBe(TrialState.TRIAL_STATE_COMPLETE);
    expect(t.finalMeasurement?.values).toEqual([1 + t.id]);
    // each metric line reported exactly once
    expect(t.intermediate.map((m) => m.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect(t.intermediate.map((m) => m.metrics.i)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
  }
}

describe("hpo runner on 4 fake GPUs", () => {
  it("runs 8 trials with never more than one per GPU, each seeing only its own GPU; all complete; GPU metrics served", async () => {
    const started = Date.now();
    await createStudy("gpu8", 8);
    const out = dir();
    const logDir = dir();
    const runner = spawnRunner(
      daemon.address,
      [
        "--study", "gpu8",
        "--command", `sh ${TRIAL_SH} ${out} --param {x} --param {n} --steps 2 --interval 0.05 --sleep 0.5`,
        "--log-dir", logDir,
        "--worker-id", "gpuhost",
        "--metrics-listen", "127.0.0.1:0",
        "--gpu-poll-seconds", "0.1",
      ],
      { PATH: fake.path },
    );
    const listening = await runner.waitForLog((r) => r.msg === "metrics listening");
    const metricsUrl = `http://${String(listening.metrics_address)}/metrics`;
    // While trials run: new readings reach the gauges within a poll or two.
    await waitUntil(() => readdirSync(out).some((f) => f.startsWith("start-")), 10_000, "a trial to start");
    fake.setReadings([
      { memoryUsedMiB: 2048, utilizationPercent: 55 },
      { memoryUsedMiB: 4096, utilizationPercent: 66 },
      { memoryUsedMiB: 0, utilizationPercent: 0 },
      { memoryUsedMiB: 100, utilizationPercent: 100 },
    ]);
    let text = "";
    await waitUntil(async () => {
      text = await fetch(metricsUrl).then((r) => r.text());
      return text.includes('hpod_runner_gpu_utilization_ratio{gpu="0",uuid="GPU-00000000-fake-4a5b-8c9d-000000000000"} 0.55');
    }, 5000, "the new GPU readings in /metrics");
    expect(text).toContain(`hpod_runner_gpu_memory_used_bytes{gpu="1",uuid="${fake.uuids[1]}"} ${4096 * 2 ** 20}`);
    expect(text).toContain(`hpod_runner_gpu_utilization_ratio{gpu="3",uuid="${fake.uuids[3]}"} 1`);
    expect(text).toContain(`hpod_runner_gpu_memory_total_bytes{gpu="2",uuid="${fake.uuids[2]}"} ${fake.memoryTotalMiB * 2 ** 20}`);
    expect(text).toMatch(/^hpod_runner_slots 4$/m);
    expect(text).toMatch(/^hpod_runner_trials_running [1-4]$/m);
    expect(text).toMatch(/^hpod_runner_trials_started_total [1-8]$/m);
    expect(text).toContain('hpod_runner_trials_finished_total{outcome="complete"}');
    let promtool = "promtool not installed: lint skipped";
    try {
      execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      promtool = "promtool check metrics: ok";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`promtool: ${String((error as { stdout?: string }).stdout)}`);
    }
    console.log(promtool);

    const { code } = await runner.exited;
    expect(code, runner.text.join("\n")).toBe(0);
    const records = readRecords(out);
    expect(records.map((r) => r.trial)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const r of records) {
      // slot i owns GPU i: the worker id and CUDA_VISIBLE_DEVICES agree, one GPU each
      expect(r.cvd).toMatch(/^[0-3]$/);
      expect(r.worker).toBe(`gpuhost/${r.cvd}`);
      expect(r.address).toBe(daemon.address);
      expect(r.study).toBe("gpu8");
      expect(r.paramsFile).toBe(join(logDir, "gpu8", String(r.trial), "params.json"));
      expect(JSON.parse(readFileSync(r.paramsFile, "utf8"))).toEqual(JSON.parse(r.paramsJson));
      expect(Object.keys(JSON.parse(r.paramsJson)).sort()).toEqual(["n", "x"]);
      expect(r.endNs).toBeDefined();
      for (const f of ["stdout", "stderr", "params.json"]) expect(existsSync(join(logDir, "gpu8", String(r.trial), f))).toBe(true);
    }
    const perGpu = maxConcurrency(intervalsByGpu(records));
    expect([...perGpu.values()].every((n) => n === 1), JSON.stringify([...perGpu])).toBe(true);
    expect(perGpu.size).toBe(4);
    const overall = maxConcurrency(records.map((r) => ({ key: "all", start: r.startNs, end: r.endNs ?? r.startNs }))).get("all");
    expect(overall).toBeGreaterThanOrEqual(2);
    await expectAllComplete("gpu8", 8, 2);
    console.log(`8 trials on 4 fake GPUs: ${Date.now() - started} ms, most at once ${overall}`);
  });

  it("packs 2 trials per GPU on an explicit --gpus list, at most 2 per GPU at a time", async () => {
    await createStudy("gpu-pack", 8);
    const out = dir();
    const runner = spawnRunner(
      daemon.address,
      ["--study", "gpu-pack", "--command", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 0.4`, "--log-dir", dir(), "--worker-id", "pack", "--gpus", "2,0", "--trials-per-gpu", "2"],
      { PATH: fake.path },
    );
    const { code } = await runner.exited;
    expect(code, runner.text.join("\n")).toBe(0);
    const records = readRecords(out);
    expect(records).toHaveLength(8);
    // slots: pack/0 -> 2, pack/1 -> 0, pack/2 -> 2, pack/3 -> 0
    for (const r of records) expect(r.cvd).toBe(["2", "0"][Number(r.worker.split("/")[1]) % 2]);
    const perGpu = maxConcurrency(intervalsByGpu(records));
    expect(new Set(perGpu.keys())).toEqual(new Set(["0", "2"]));
    for (const n of perGpu.values()) expect(n).toBeLessThanOrEqual(2);
    await expectAllComplete("gpu-pack", 8, 1);
  });

  it("gives --gpus-per-trial 2 trials two GPUs each, never shared", async () => {
    await createStudy("gpu-pairs", 4);
    const out = dir();
    const runner = spawnRunner(
      daemon.address,
      ["--study", "gpu-pairs", "--command", `sh ${TRIAL_SH} ${out} --steps 1 --sleep 0.3`, "--log-dir", dir(), "--worker-id", "pairs", "--gpus-per-trial", "2"],
      { PATH: fake.path },
    );
    const { code } = await runner.exited;
    expect(code, runner.text.join("\n")).toBe(0);
    const records = readRecords(out);
    expect(records).toHaveLength(4);
    for (const r of records) expect(r.cvd).toBe(r.worker === "pairs/0" ? "0,1" : "2,3");
    const perGpu = maxConcurrency(intervalsByGpu(records));
    expect([...perGpu.values()].every((n) => n === 1)).toBe(true);
    await expectAllComplete("gpu-pairs", 4, 1);
  });

  it("refuses a --gpus entry nvidia-smi does not list, before any trial", async () => {
    await createStudy("gpu-bad", 2);
    const runner = spawnRunner(daemon.address, ["--study", "gpu-bad", "--command", "true", "--gpus", "0,7"], { PATH: fake.path });
    const { code } = await runner.exited;
    expect(code).toBe(2);
    expect(runner.text.join("\n")).toMatch(/GPU "7" is not listed by nvidia-smi/);
    const { study } = await client.getStudy({ name: "gpu-bad" });
    expect(study?.trialCounts?.running ?? 0).toBe(0);
    expect(study?.trialCounts?.complete ?? 0).toBe(0);
  });
});
