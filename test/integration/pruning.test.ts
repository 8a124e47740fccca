/**
 * Pruning against the real daemon over gRPC: several workers report
 * intermediate values concurrently; the median pruner prunes a clearly bad
 * trial and records why on the trial; a worker that ignores the decision keeps
 * getting PRUNE (never an error) and its final report is stored while the
 * trial stays PRUNED; maximisation is honoured; the default pruner is "curve".
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Direction } from "../../client/gen/hpod/v1/study.js";
import { Decision, TrialState } from "../../client/gen/hpod/v1/trial.js";
import type { ReportResponse } from "../../client/gen/hpod/v1/hpod_service.js";
import { startDaemon, type Daemon } from "../helpers/daemon.js";
import { connect, type TestClient } from "../helpers/grpc-client.js";
import { floatParam, report, study } from "../helpers/specs.js";

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

/** A worker holding one trial. */
interface Worker {
  id: string;
  trial: number;
}

async function startWorkers(name: string, ids: string[]): Promise<Worker[]> {
  return Promise.all(
    ids.map(async (id) => {
      const res = await c.suggest({ study: name, count: 1, workerId: id });
      const t = res.trials[0];
      if (!t) throw new Error(`no trial for ${id}`);
      return { id, trial: t.id };
    }),
  );
}

/**
 * Every worker reports its curve at steps 0..n-1, all workers concurrently at
 * each step (interleaved), stopping at PRUNE unless it ignores decisions.
 * Returns each worker's responses.
 */
async function interleave(
  name: string,
  workers: Worker[],
  curve: (w: Worker, step: number) => number,
  n: number,
  ignores: ReadonlySet<string> = new Set(),
): Promise<Map<string, ReportResponse[]>> {
  const out = new Map<string, ReportResponse[]>(workers.map((w) => [w.id, []]));
  const stopped = new Set<string>();
  for (let step = 0; step < n; step++) {
    const active = workers.filter((w) => !stopped.has(w.id));
    // Shuffle the order within a step so arrival order varies.
    active.sort((a, b) => ((a.trial * 7 + step * 3) % 5) - ((b.trial * 7 + step * 3) % 5));
    const answers = await Promise.all(
      active.map((w) => c.report(report(name, w.trial, [curve(w, step)], { step, workerId: w.id }))),
    );
    active.forEach((w, i) => {
      const r = answers[i] as ReportResponse;
      out.get(w.id)?.push(r);
      if (r.decision === Decision.DECISION_PRUNE && !ignores.has(w.id)) stopped.add(w.id);
    });
  }
  return out;
}

async function finish(name: string, w: Worker, value: number): Promise<ReportResponse> {
  return c.report(report(name, w.trial, [value], { final: true, workerId: w.id }));
}

describe("median pruner with interleaved workers", () => {
  const name = "prune-median";
  const loss = (level: number) => (_w: Worker, step: number) => level + 1 / (step + 1);

  it("prunes the bad trial, records the reason, and keeps answering PRUNE to a worker that ignores it", async () => {
    await c.createStudy({ study: study(name, { params: [floatParam("x", 0, 1)], pruner: { name: "median", startupTrials: 3 } }), loadIfExists: false });

    // Three trials run side by side and complete: the pruner's start-up.
    const first = await startWorkers(name, ["w0", "w1", "w2"]);
    const levels = new Map([
      ["w0", 0.1],
      ["w1", 0.2],
      ["w2", 0.3],
    ]);
    const firstAnswers = await interleave(name, first, (w, s) => loss(levels.get(w.id) ?? 0)(w, s), 10);
    for (const answers of firstAnswers.values()) {
      expect(answers).toHaveLength(10);
      for (const a of answers) expect(a).toMatchObject({ decision: Decision.DECISION_CONTINUE, trialState: TrialState.TRIAL_STATE_RUNNING });
    }
    for (const w of first) expect((await finish(name, w, levels.get(w.id) ?? 0)).trialState).toBe(TrialState.TRIAL_STATE_COMPLETE);

    // Then a good trial, a bad one that obeys and a bad one that ignores PRUNE.
    const [good, bad, stubborn] = await startWorkers(name, ["good", "bad", "stubborn"]);
    const curve = (w: Worker, s: number): number => (w.id === "good" ? 0.05 : 5) + 1 / (s + 1);
    const answers = await interleave(name, [good as Worker, bad as Worker, stubborn as Worker], curve, 8, new Set(["stubborn"]));

    const g = answers.get("good") ?? [];
    expect(g).toHaveLength(8);
    expect(g.every((a) => a.decision === Decision.DECISION_CONTINUE)).toBe(true);
    expect((await finish(name, good as Worker, 0.05)).trialState).toBe(TrialState.TRIAL_STATE_COMPLETE);

    const b = answers.get("bad") ?? [];
    expect(b).toHaveLength(1); // pruned at its first report and stopped
    expect(b[0]).toMatchObject({ decision: Decision.DECISION_PRUNE, trialState: TrialState.TRIAL_STATE_PRUNED });
    expect(b[0]?.reason).toBe("median: best intermediate value 6 is worse than the median 1.2 of 3 completed trial(s) at step 0");

    // The stubborn worker: PRUNE on every later report, never an error.
    const s = answers.get("stubborn") ?? [];
    expect(s).toHaveLength(8);
    for (const a of s) expect(a).toMatchObject({ decision: Decision.DECISION_PRUNE, trialState: TrialState.TRIAL_STATE_PRUNED });
    const reason = s[0]?.reason ?? "";
    expect(reason).toMatch(/^median: best intermediate value 6 is worse than the median/);
    expect(s.every((a) => a.reason === reason)).toBe(true);
    const fin = await finish(name, stubborn as Worker, 5.1);
    expect(fin).toMatchObject({ decision: Decision.DECISION_PRUNE, trialState: TrialState.TRIAL_STATE_PRUNED, reason });

    const stored = (await c.getTrial({ study: name, trialId: (stubborn as Worker).trial })).trial;
    expect(stored?.state).toBe(TrialState.TRIAL_STATE_PRUNED);
    expect(stored?.decision).toBe(Decision.DECISION_PRUNE);
    expect(stored?.decisionReason).toBe(reason);
    expect(stored?.stateReason).toBe(reason);
    expect(stored?.finalMeasurement?.values).toEqual([5.1]);
    // Every report was stored, the ones after the prune included.
    expect(stored?.intermediate.map((m) => Number(m.step))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const badTrial = (await c.getTrial({ study: name, trialId: (bad as Worker).trial })).trial;
    expect(badTrial).toMatchObject({ state: TrialState.TRIAL_STATE_PRUNED, decision: Decision.DECISION_PRUNE, decisionReason: b[0]?.reason });

    const best = await c.getBestTrials({ study: name });
    expect(best.trials.map((t) => t.id)).toEqual([(good as Worker).trial]);
    const st = (await c.getStudy({ name })).study;
    expect(st?.trialCounts).toMatchObject({ complete: 4, pruned: 2, running: 0 });
  });
});

describe("maximise", () => {
  it("prunes low accuracy, keeps high accuracy", async () => {
    const name = "prune-max";
    await c.createStudy({
      study: study(name, {
        params: [floatParam("x", 0, 1)],
        directions: [Direction.DIRECTION_MAXIMIZE],
        pruner: { name: "percentile", percentile: 50, startupTrials: 2 },
      }),
      loadIfExists: false,
    });
    const acc = (top: number) => (_w: Worker, s: number) => top - 0.5 / (s + 1);
    const seeds = await startWorkers(name, ["a", "b"]);
    const tops = new Map([
      ["a", 0.7],
      ["b", 0.8],
    ]);
    await interleave(name, seeds, (w, s) => acc(tops.get(w.id) ?? 0)(w, s), 6);
    for (const w of seeds) await finish(name, w, tops.get(w.id) ?? 0);

    const [high, low] = await startWorkers(name, ["high", "low"]);
    const answers = await interleave(name, [high as Worker, low as Worker], (w, s) => acc(w.id === "high" ? 0.95 : 0.3)(w, s), 6);
    expect((answers.get("high") ?? []).every((a) => a.decision === Decision.DECISION_CONTINUE)).toBe(true);
    const l = answers.get("low") ?? [];
    expect(l.at(-1)).toMatchObject({ decision: Decision.DECISION_PRUNE, trialState: TrialState.TRIAL_STATE_PRUNED });
    expect(l.at(-1)?.reason).toMatch(/^percentile: best intermediate value -0\.2 is worse than the 50th percentile 0\.\d+ of 2 completed trial\(s\) at step 0$/);
  });
});

describe("the default pruner", () => {
  it('is "curve": it prunes a diverging and a NaN trial, not the good ones', async () => {
    const name = "prune-default";
    // "" in the spec: the default pruner (the helper's own default is "none").
    await c.createStudy({ study: study(name, { params: [floatParam("x", 0, 1)], pruner: { name: "" } }), loadIfExists: false });
    const got = (await c.getStudy({ name })).study;
    expect(got?.spec?.pruner?.name).toBe("");

    const levels = [0.1, 0.15, 0.2, 0.25, 0.3];
    const first = await startWorkers(
      name,
      levels.map((_, i) => `s${i}`),
    );
    const byId = new Map(first.map((w, i) => [w.id, levels[i] as number]));
    const decay = (w: Worker, s: number): number => (byId.get(w.id) ?? 0) + Math.exp(-(s + 1) / 5);
    const startup = await interleave(name, first, decay, 30);
    for (const a of startup.values()) expect(a.every((r) => r.decision === Decision.DECISION_CONTINUE)).toBe(true);
    for (const w of first) await finish(name, w, decay(w, 29));

    const [good, diverging, nan] = await startWorkers(name, ["good", "diverging", "nan"]);
    const curve = (w: Worker, s: number): number => {
      if (w.id === "good") return 0.05 + Math.exp(-(s + 1) / 5);
      if (w.id === "nan") return s === 6 ? Number.NaN : 0.02 + Math.exp(-(s + 1) / 5);
      return 1 + 0.1 * s; // rising loss
    };
    const answers = await interleave(name, [good as Worker, diverging as Worker, nan as Worker], curve, 30);
    expect((answers.get("good") ?? []).every((a) => a.decision === Decision.DECISION_CONTINUE)).toBe(true);
    const dv = answers.get("diverging") ?? [];
    expect(dv.at(-1)?.decision).toBe(Decision.DECISION_PRUNE);
    expect(dv.length).toBeLessThan(15);
    expect(dv.at(-1)?.reason).toMatch(/^curve: /);
    const nv = answers.get("nan") ?? [];
    expect(nv).toHaveLength(7);
    expect(nv.at(-1)?.reason).toBe("curve: value NaN at step 6 (diverged)");
    const stored = (await c.getTrial({ study: name, trialId: (diverging as Worker).trial })).trial;
    expect(stored).toMatchObject({ state: TrialState.TRIAL_STATE_PRUNED, decision: Decision.DECISION_PRUNE });
    expect(stored?.decisionReason).toBe(dv.at(-1)?.reason);
  });
});
