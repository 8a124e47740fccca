/**
 * A real workload through `hpo runner`: examples/pytorch/train.py (an MLP on
 * the 8x8 digits with Debian's python3-torch, on the CPU) tuned by the study
 * examples/pytorch/study.yaml with its runner spec, 2 CPU slots, median
 * pruning. A deliberately bad trial is enqueued once a few trials completed,
 * so the median pruner has something to prune.
 *
 * Skips when /usr/bin/python3 cannot import torch, unless HPOD_REQUIRE_TORCH=1
 * (CI), where that fails the test.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { status as Status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";

import { HpodClientError } from "../../client/errors.js";
import { TrialState, type Trial } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { readStudySpec } from "../../client/proto-json.js";
import { removeDir, ROOT, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { spawnRunner, waitUntil } from "../fixtures/runner/spawn-runner.js";

const PYTHON = "/usr/bin/python3";
const EXAMPLE = join(ROOT, "examples", "pytorch");

function torchSkipReason(): string | undefined {
  const r = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) return `${PYTHON} cannot import torch (install python3-torch: .ci/install-runner-deps.sh)`;
  return undefined;
}

const skipReason = torchSkipReason();
const required = process.env.HPOD_REQUIRE_TORCH === "1";
if (skipReason !== undefined && !required) console.warn(`skipping the PyTorch runner test: ${skipReason}`);

let daemon: Daemon;
let client: HpodClient;
const dirs: string[] = [];

async function trials(study: string): Promise<Trial[]> {
  const out: Trial[] = [];
  for await (const t of client.iterateTrials({ study })) out.push(t);
  return out;
}

describe.skipIf(skipReason !== undefined && !required)("examples/pytorch through hpo runner", () => {
  beforeAll(async () => {
    if (skipReason !== undefined) throw new Error(`HPOD_REQUIRE_TORCH=1 but ${skipReason}`);
    daemon = await startDaemon();
    client = new HpodClient({ address: daemon.address });
  });

  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    removeDir(daemon?.dataDir ?? "");
    dirs.forEach(removeDir);
  });

  it("runs a 6-trial study on 2 CPU slots: accuracies reported per epoch, the schedule applied, a bad trial pruned", async () => {
    const started = Date.now();
    const study = readStudySpec(join(EXAMPLE, "study.yaml"));
    study.spec!.maxTrials = 6;
    let pruner = "median";
    try {
      await client.createStudy({ study });
    } catch (error) {
      // The median pruner arrives with the pruning work; fall back to none where it is not there yet.
      if (!(error instanceof HpodClientError && error.code === Status.INVALID_ARGUMENT && /pruner/.test(error.details))) throw error;
      pruner = "none";
      console.warn(`median pruner not available (${error.details}): running with pruner "none"`);
      study.spec!.pruner = { ...study.spec!.pruner!, name: "none", startupTrials: 0, warmupSteps: 0 };
      await client.createStudy({ study });
    }
    const logDir = tempDir("hpod-runner-torch-");
    dirs.push(logDir);
    const runner = spawnRunner(daemon.address, [
      "--spec", join(EXAMPLE, "runner.yaml"),
      "--cwd", ROOT,
      "--env", `PYTHON=${PYTHON}`,
      "--gpus", "none",
      "--slots", "2",
      "--log-dir", logDir,
      "--metrics-listen", "127.0.0.1:0",
    ]);
    onTestFinished(() => {
      if (runner.proc.exitCode === null) runner.proc.kill("SIGKILL");
    });
    // Once three trials completed, queue a hopeless one: the median pruner should stop it after its warm-up.
    await waitUntil(async () => (await trials("digits-mlp")).filter((t) => t.state === TrialState.TRIAL_STATE_COMPLETE).length >= 3, 90_000, "three complete trials", 200);
    const { trial: bad } = await client.enqueueTrial({
      study: "digits-mlp",
      params: {
        lr: { kind: { $case: "numberValue", value: 0.001 } },
        batch_size: { kind: { $case: "intValue", value: 64 } },
        hidden: { kind: { $case: "intValue", value: 16 } },
        dropout: { kind: { $case: "numberValue", value: 0.5 } },
        optimizer: { kind: { $case: "stringValue", value: "sgd" } },
        schedule: { kind: { $case: "lrScheduleValue", value: { kind: 1, values: {}, milestones: [], mode: "", totalSteps: 8, warmupSteps: 0, warmupStartFactor: 0.1 } } },
      },
    });
    const { code } = await runner.exited;
    expect(code, `${runner.text.join("\n")}\n${runner.logs.map((l) => JSON.stringify(l)).join("\n")}`).toBe(0);

    const all = await trials("digits-mlp");
    expect(all.length).toBeGreaterThanOrEqual(6);
    const summary = all.map((t) => `${t.id}:${TrialState[t.state].replace("TRIAL_STATE_", "")}${t.finalMeasurement ? `=${t.finalMeasurement.values[0]}` : ""}@${t.intermediate.length}`);
    for (const t of all) {
      expect([TrialState.TRIAL_STATE_COMPLETE, TrialState.TRIAL_STATE_PRUNED], `trial ${t.id}: ${t.stateReason}`).toContain(t.state);
      const steps = t.intermediate.map((m) => m.step);
      expect(steps).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
      for (const m of t.intermediate) {
        expect(m.values[0]).toBeGreaterThanOrEqual(0);
        expect(m.values[0]).toBeLessThanOrEqual(1);
        expect(m.metrics.lr).toBeGreaterThan(0);
        expect(m.metrics.train_loss).toBeGreaterThan(0);
      }
      const params = JSON.parse(readFileSync(join(logDir, "digits-mlp", String(t.id), "params.json"), "utf8")) as { schedule: { kind: string } };
      expect(params.schedule.kind).toMatch(/^LR_SCHEDULE_KIND_/);
      if (t.state === TrialState.TRIAL_STATE_COMPLETE) {
        expect(steps).toHaveLength(8);
        expect(t.finalMeasurement?.values[0]).toBe(Math.max(...t.intermediate.map((m) => m.values[0])));
      }
    }
    // The schedule reached torch: a step schedule's lr metric drops by gamma every step_size epochs.
    for (const t of all.filter((x) => x.params.schedule?.kind?.$case === "lrScheduleValue")) {
      const s = t.params.schedule.kind?.value as { kind: number; values: Record<string, number>; warmupSteps: number };
      if (s.kind !== 2 || s.warmupSteps !== 0 || t.intermediate.length < 8) continue;
      const lrs = t.intermediate.map((m) => m.metrics.lr);
      const size = s.values.step_size;
      expect(lrs[size] / lrs[0]).toBeCloseTo(s.values.gamma, 9);
    }
    const { trials: best } = await client.getBestTrials({ study: "digits-mlp" });
    expect(best[0]?.finalMeasurement?.values[0]).toBeGreaterThan(0.9);
    const badTrial = all.find((t) => t.id === bad?.id);
    if (pruner === "median") {
      expect(badTrial?.state, `enqueued trial: ${badTrial?.stateReason}`).toBe(TrialState.TRIAL_STATE_PRUNED);
      expect(badTrial?.intermediate.length).toBeLessThan(8);
    }
    const pruned = all.filter((t) => t.state === TrialState.TRIAL_STATE_PRUNED).length;
    console.log(
      `PyTorch study: ${all.length} trials on 2 CPU slots in ${Date.now() - started} ms, pruner ${pruner}, ${pruned} pruned, ` +
        `best val_accuracy ${best[0]?.finalMeasurement?.values[0]} (trial ${best[0]?.id}); ${summary.join(" ")}`,
    );
  }, 180_000);
});
