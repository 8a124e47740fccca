/**
 * Behaviour of each pruner inside the study runtime beyond Optuna parity:
 * reasons, directions, NaN and infinities, restarts (rung records rebuilt from
 * stored trials), Hyperband's bracket assignment, the default pruner and
 * several objectives.
 */
import { describe, expect, it } from "vitest";

import { Code, HpodError } from "../../../server/core/errors.js";
import type { Direction, PrunerSpec, Trial } from "../../../server/core/model.js";
import { HyperbandPruner } from "../../../server/core/pruners/hyperband.js";
import { buildRuntime } from "../../../server/core/study-spec.js";
import type { StudyRuntime } from "../../../server/core/study-runtime.js";
import { input, makeRuntime, runTrial, start, ZERO_PRUNER } from "./sim.js";

const decay = (c: number, n = 20): number[] => Array.from({ length: n }, (_, i) => c + 1 / (i + 1));

function report(rt: StudyRuntime, t: Trial, step: number, value: number): ReturnType<StudyRuntime["report"]> {
  return rt.report(input(t.id, { step, values: [value] }), 1);
}

describe("median / percentile", () => {
  it("prunes a clearly bad trial with a reason naming the median, the step and the count", () => {
    const rt = makeRuntime({ name: "median" });
    for (let i = 0; i < 5; i++) runTrial(rt, decay(0.1 * i));
    const t = start(rt);
    // Completed trials' values at step s: 0.1 i + 1/s, i = 0..4 (medians 1.2, 0.7, 0.5333).
    expect(report(rt, t, 1, 1.1).decision).toBe("CONTINUE");
    expect(report(rt, t, 2, 0.6).decision).toBe("CONTINUE");
    const p = report(rt, t, 3, 2); // its best so far (0.6) is what counts
    expect(p).toMatchObject({ decision: "PRUNE", state: "PRUNED" });
    expect(p.reason).toBe("median: best intermediate value 0.6 is worse than the median 0.5333 of 5 completed trial(s) at step 3");
    // Later reports answer PRUNE again with the same reason; the final is stored; the state stays PRUNED.
    expect(report(rt, t, 4, 0.01)).toMatchObject({ decision: "PRUNE", reason: p.reason, state: "PRUNED" });
    const fin = rt.report(input(t.id, { final: true, values: [0.01] }), 2);
    expect(fin).toMatchObject({ decision: "PRUNE", state: "PRUNED" });
    expect(rt.trial(t.id)).toMatchObject({ state: "PRUNED", decision: "PRUNE", decisionReason: p.reason, final: { values: [0.01] } });
  });

  it("honours maximise: low accuracy is pruned, high is not", () => {
    const rt = makeRuntime({ name: "percentile", percentile: 25, startupTrials: 3 }, ["maximize"]);
    for (const top of [0.5, 0.6, 0.7, 0.8]) runTrial(rt, [top - 0.2, top - 0.1, top]);
    const good = start(rt);
    expect(report(rt, good, 1, 0.75).decision).toBe("CONTINUE");
    expect(report(rt, good, 2, 0.85).decision).toBe("CONTINUE");
    rt.report(input(good.id, { final: true, values: [0.9] }), 1);
    const bad = start(rt);
    const p = report(rt, bad, 1, 0.3);
    expect(p.decision).toBe("PRUNE");
    expect(p.reason).toMatch(/^percentile: best intermediate value 0.3 is worse than the 25th percentile 0.6 of 5 completed trial\(s\) at step 1$/);
  });

  it("a trial whose every value is NaN is pruned", () => {
    const rt = makeRuntime({ name: "median", startupTrials: 1 });
    runTrial(rt, [1, 1, 1]);
    const t = start(rt);
    expect(report(rt, t, 1, Number.NaN).reason).toBe("median: every intermediate value up to step 1 is NaN");
  });

  it("no completed trial at the step: no decision", () => {
    const rt = makeRuntime({ name: "median", startupTrials: 1 });
    runTrial(rt, [1, 1, 1]);
    const t = start(rt);
    expect(report(rt, t, 50, 99).decision).toBe("CONTINUE");
  });
});

describe("threshold", () => {
  it("prunes out of bounds, NaN and infinities, after warm-up and on the interval", () => {
    const rt = makeRuntime({ name: "threshold", lower: 0, upper: 1, warmupSteps: 2 });
    const a = start(rt);
    expect(report(rt, a, 1, 5).decision).toBe("CONTINUE"); // warm-up
    expect(report(rt, a, 2, 5).reason).toBe("threshold: value 5 at step 2 is above the upper bound 1");
    for (const [v, why] of [
      [-1, "threshold: value -1 at step 3 is below the lower bound 0"],
      [Number.NaN, "threshold: value NaN at step 3"],
      [Infinity, "threshold: value Infinity at step 3"],
      [-Infinity, "threshold: value -Infinity at step 3"],
    ] as const) {
      const t = start(rt);
      report(rt, t, 2, 0.5);
      expect(report(rt, t, 3, v).reason).toBe(why);
    }
    // Only an upper bound: +Infinity still prunes (Optuna would not).
    const up = makeRuntime({ name: "threshold", upper: 10 });
    expect(report(up, start(up), 0, Infinity).decision).toBe("PRUNE");
  });
});

describe("patience", () => {
  it("prunes after `patience` reports without improvement, in either direction", () => {
    const rt = makeRuntime({ name: "patience", patience: 2 });
    const t = start(rt);
    for (const [s, v] of [
      [1, 1],
      [2, 0.5],
      [3, 0.6],
    ] as const) {
      expect(report(rt, t, s, v).decision).toBe("CONTINUE");
    }
    expect(report(rt, t, 4, 0.55).decision).toBe("CONTINUE"); // 3 values after... only 2 before the window
    const p = report(rt, t, 5, 0.7);
    expect(p.reason).toBe("patience: no improvement in the last 3 reports (steps 3..5): best 0.55 vs 0.5 before");
    const mx = makeRuntime({ name: "patience", patience: 1 }, ["maximize"]);
    const u = start(mx);
    report(mx, u, 1, 0.5);
    report(mx, u, 2, 0.9);
    expect(report(mx, u, 3, 0.8).decision).toBe("CONTINUE");
    expect(report(mx, u, 4, 0.85).reason).toBe("patience: no improvement in the last 2 reports (steps 3..4): best 0.85 vs 0.9 before");
  });

  it("with a wrapped pruner, prunes only when both say so and gives both reasons", () => {
    const wrapped: PrunerSpec = { ...ZERO_PRUNER, name: "threshold", upper: 1 };
    const rt = makeRuntime({ name: "patience", patience: 1, wrapped });
    const t = start(rt);
    report(rt, t, 1, 0.5);
    report(rt, t, 2, 0.6);
    expect(report(rt, t, 3, 0.7).decision).toBe("CONTINUE"); // no improvement, but under the threshold
    const p = report(rt, t, 4, 1.5);
    expect(p.reason).toBe(
      "patience: no improvement in the last 2 reports (steps 3..4): best 0.7 vs 0.5 before; threshold: value 1.5 at step 4 is above the upper bound 1",
    );
    // Improving but over the threshold: patience says no, so no prune.
    const v = start(rt);
    for (const [s, x] of [
      [1, 3],
      [2, 2.5],
      [3, 2],
    ] as const)
      expect(report(rt, v, s, x).decision).toBe("CONTINUE");
  });
});

describe("asha", () => {
  it("rungs at min_resource * rf^k; reason names the rung and the cut", () => {
    const rt = makeRuntime({ name: "asha", minResource: 1, reductionFactor: 2 });
    runTrial(rt, [1, 0.9, 0.8, 0.7]);
    const t = start(rt);
    const p = report(rt, t, 1, 2);
    expect(p.reason).toBe("asha: value 2 at step 1 is not in the best 1 of the 2 value(s) at rung 0 (step 1; needs <= 1)");
    const g = start(rt);
    expect(report(rt, g, 1, 0.5).decision).toBe("CONTINUE");
    expect(report(rt, g, 2, 0.95).reason).toBe("asha: value 0.95 at step 2 is not in the best 1 of the 2 value(s) at rung 1 (step 2; needs <= 0.9)");
    const rt3 = makeRuntime({ name: "asha", minResource: 1, reductionFactor: 3 });
    runTrial(rt3, [1, 1]);
    expect(report(rt3, start(rt3), 1, 2).reason).toBe("asha: value 2 at step 1 is not the best of the 2 value(s) at rung 0 (step 1; needs <= 1)");
  });

  it("a runtime rebuilt from the stored trials decides as the one that ran", () => {
    const spec: Partial<PrunerSpec> = { name: "asha", minResource: 1, reductionFactor: 3 };
    const curve = (i: number, s: number): number => ((i * 0.618) % 1) + 2 / (s + 1) + 0.03 * Math.sin(5 * i + s);
    const runAll = (restartAt: number | undefined): Array<number | null> => {
      let rt = makeRuntime(spec);
      const out: Array<number | null> = [];
      for (let i = 0; i < 25; i++) {
        const t = start(rt);
        let at: number | null = null;
        let last = 0;
        for (let s = 1; s <= 12; s++) {
          if (i === restartAt && s === 4) {
            // Restart mid-trial: a fresh runtime over copies of the stored trials.
            const copy = rt.trials.map((x) => structuredClone(x));
            rt = buildRuntime(structuredClone(rt.study), copy, 1);
          }
          last = curve(i, s);
          if (rt.report(input(t.id, { step: s, values: [last] }), 1).decision === "PRUNE") {
            at = s;
            break;
          }
        }
        if (at === null) rt.report(input(t.id, { final: true, values: [last] }), 1);
        out.push(at);
      }
      return out;
    };
    const straight = runAll(undefined);
    expect(straight.filter((x) => x !== null).length).toBeGreaterThan(10);
    expect(runAll(12)).toEqual(straight);
    expect(runAll(3)).toEqual(straight);
  });

  it("min_resource auto waits for a completed trial", () => {
    const rt = makeRuntime({ name: "asha" });
    const t = start(rt);
    for (let s = 1; s <= 5; s++) expect(report(rt, t, s, 100).decision).toBe("CONTINUE");
  });
});

describe("hyperband", () => {
  it("brackets from the resources; shares close to Optuna's budgets; assignment from the trial id only", () => {
    const hb = new HyperbandPruner({ minResource: 1, maxResource: 100, reductionFactor: 3, brackets: 0 });
    const rt = makeRuntime({ name: "none" });
    const t = start(rt);
    rt.report(input(t.id, { step: 1, values: [1] }), 1);
    hb.decide(rt.trial(t.id), rt);
    expect(hb.bracketCount).toBe(5);
    // Budgets ceil(5 * 3^s / (s + 1)), s = 4..0: 81, 34, 15, 8, 5 of 143.
    const counts = [0, 0, 0, 0, 0];
    for (let id = 0; id < 1430; id++) counts[hb.bracketOf(id)] = (counts[hb.bracketOf(id)] ?? 0) + 1;
    expect(counts.map((c) => Math.round(c / 10))).toEqual([81, 34, 15, 8, 5]);
    // First ids spread over brackets (not all in bracket 0).
    expect(new Set(Array.from({ length: 10 }, (_, id) => hb.bracketOf(id))).size).toBeGreaterThan(2);
    const again = new HyperbandPruner({ minResource: 1, maxResource: 100, reductionFactor: 3, brackets: 0 });
    again.decide(rt.trial(t.id), rt);
    expect(Array.from({ length: 50 }, (_, id) => again.bracketOf(id))).toEqual(Array.from({ length: 50 }, (_, id) => hb.bracketOf(id)));
  });

  it("each bracket is ASHA with its own early-stopping rate over its own trials", () => {
    const rt = makeRuntime({ name: "hyperband", minResource: 1, maxResource: 27, reductionFactor: 3 });
    const reasons: string[] = [];
    for (let i = 0; i < 40; i++) {
      const t = start(rt);
      for (let s = 1; s <= 27; s++) {
        const r = rt.report(input(t.id, { step: s, values: [((i * 0.37) % 1) + 1 / s] }), 1);
        if (r.decision === "PRUNE") {
          reasons.push(r.reason);
          break;
        }
      }
      if (rt.trial(t.id).state === "RUNNING") rt.report(input(t.id, { final: true, values: [(i * 0.37) % 1] }), 1);
    }
    expect(reasons.length).toBeGreaterThan(5);
    for (const r of reasons) expect(r).toMatch(/^hyperband: bracket [0-3] of 4: value \S+ at step \d+ is not/);
    // Bracket b's first rung is at step 3^b.
    for (const r of reasons) {
      const m = /bracket (\d) of 4: value \S+ at step (\d+) is not .* at rung (\d+) \(step (\d+);/.exec(r);
      expect(m).not.toBeNull();
      const [b, rung, rungStep] = [Number(m?.[1]), Number(m?.[3]), Number(m?.[4])];
      expect(rungStep).toBe(Math.pow(3, b + rung));
    }
  });
});

describe("the default pruner", () => {
  it("is the curve pruner for one objective", () => {
    const rt = makeRuntime({ name: "" });
    for (let i = 0; i < 5; i++) runTrial(rt, decay(0.05 * i, 40));
    const t = start(rt);
    let reason = "";
    for (let s = 1; s <= 40 && !reason; s++) reason = report(rt, t, s, 3 + 1 / s).reason;
    expect(reason).toMatch(/^curve: /);
  });

  it("does not prune a study with several objectives by default; a named pruner is refused for one", () => {
    const dirs: Direction[] = ["minimize", "maximize"];
    const rt = makeRuntime({ name: "" }, dirs);
    const pair = (v: number): number[] => [v, -v];
    for (let i = 0; i < 5; i++) {
      const t = start(rt);
      for (let s = 1; s <= 30; s++) rt.report(input(t.id, { step: s, values: pair(0.1 * i + 1 / s) }), 1);
      rt.report(input(t.id, { final: true, values: pair(0.1 * i) }), 1);
    }
    const t = start(rt);
    let pruned = false;
    for (let s = 1; s <= 30 && !pruned; s++) pruned = rt.report(input(t.id, { step: s, values: pair(50 + 1 / s) }), 1).decision === "PRUNE";
    expect(pruned).toBe(false);
    for (const name of ["median", "curve", "asha"]) {
      let err: unknown;
      try {
        makeRuntime({ name }, dirs);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HpodError);
      expect((err as HpodError).code).toBe(Code.INVALID_ARGUMENT);
      expect((err as HpodError).field).toBe("study.spec.pruner.name");
      expect((err as HpodError).message).toMatch(/^study\.spec\.pruner\.name: pruner "\w+" needs a single objective/);
    }
    // "none" is accepted.
    expect(() => makeRuntime({ name: "none" }, dirs)).not.toThrow();
  });
});
