/**
 * The curve pruner (hpod's default) on curve shapes unlike the shared
 * benchmark's pure exponentials: a plateau then a drop (step schedule),
 * sigmoid accuracy curves (maximise), noisy power laws, and loss that falls
 * then rises (overfitting); in each family fast starters that end worse cross
 * slow ones that end better. Over several simulated studies it must (a) rarely
 * prune the trial with the best noiseless final value and (b) save steps.
 * Plus crossing curves against the median rule, divergence (NaN, infinities,
 * rising loss, far worse than every completed trial), start-up, resources,
 * maximisation and the reason recorded on the trial.
 */
import { describe, expect, it } from "vitest";

import type { Trial } from "../../../server/core/model.js";
import { buildRuntime } from "../../../server/core/study-spec.js";
import type { StudyRuntime } from "../../../server/core/study-runtime.js";
import { input, makeRuntime, overfitting, plateauDrop, powerLaw, runTrial, sigmoidAccuracy, simulate, start, type Generator } from "./sim.js";

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const exp = (c: number, a: number, tau: number) => (t: number) => c + a * Math.exp(-t / tau);

/** Reports `values` at steps 1..n; returns the step and reason of the prune, if any. */
function drive(rt: StudyRuntime, t: Trial, curve: (s: number) => number, n: number): { step?: number; reason: string } {
  for (let s = 1; s <= n; s++) {
    const r = rt.report(input(t.id, { step: s, values: [curve(s)] }), 1);
    if (r.decision === "PRUNE") return { step: s, reason: r.reason };
  }
  return { reason: "" };
}

describe("shapes outside the shared benchmark", () => {
  const SEEDS = [1, 2, 3, 4, 5, 6];
  const cases: Array<{ name: string; gen: Generator; direction: "minimize" | "maximize"; noise: number; maxWinnersPruned: number; maxSteps: number }> = [
    { name: "plateau then drop at step 30", gen: plateauDrop(30), direction: "minimize", noise: 0.01, maxWinnersPruned: 0, maxSteps: 0.75 },
    { name: "sigmoid accuracy (maximise)", gen: sigmoidAccuracy, direction: "maximize", noise: 0.01, maxWinnersPruned: 1, maxSteps: 0.5 },
    { name: "noisy power laws", gen: powerLaw, direction: "minimize", noise: 0.02, maxWinnersPruned: 1, maxSteps: 0.5 },
    { name: "fall then rise (overfitting)", gen: overfitting, direction: "minimize", noise: 0.01, maxWinnersPruned: 0, maxSteps: 0.55 },
  ];
  for (const c of cases) {
    it(`${c.name}: rarely prunes the winner, saves steps`, () => {
      let steps = 0;
      let full = 0;
      const pruned: string[] = [];
      for (const seed of SEEDS) {
        const r = simulate(c.gen, { trials: 40, steps: 60, noise: c.noise, seed, direction: c.direction, pruner: { name: "" } });
        steps += r.steps;
        full += r.full;
        if (r.winner.pruned) pruned.push(`seed ${seed}: trial ${r.winner.id} at step ${r.winner.steps}: ${r.winner.reason}`);
        // Something was pruned, and every reason is the curve pruner's.
        expect(r.trials.some((t) => t.pruned)).toBe(true);
        for (const t of r.trials) if (t.pruned) expect(t.reason).toMatch(/^curve: /);
      }
      expect(pruned.length, pruned.join("\n")).toBeLessThanOrEqual(c.maxWinnersPruned);
      expect(steps / full).toBeLessThan(c.maxSteps);
    });
  }
});

describe("crossing curves", () => {
  it("keeps a slow starter that ends best while it is behind every completed trial; the median rule prunes it", () => {
    // Fast starters: converge early to 0.30..0.38. The slow one ends at 0.1.
    const fast = [0.3, 0.32, 0.34, 0.36, 0.38].map((c) => exp(c, 1, 3));
    const slow = exp(0.1, 1.2, 25);
    for (const [name, prunes] of [
      ["", false],
      ["median", true],
    ] as const) {
      const rt = makeRuntime({ name });
      for (const f of fast) runTrial(rt, range(1, 100).map(f));
      const t = start(rt);
      // Behind all of them for a long while:
      expect(slow(30)).toBeGreaterThan(0.4);
      const out = drive(rt, t, slow, 100);
      expect(out.step !== undefined, out.reason).toBe(prunes);
    }
  });
});

describe("divergence", () => {
  const withStartup = (): StudyRuntime => {
    const rt = makeRuntime({ name: "" });
    for (const c of [0.1, 0.12, 0.14, 0.16, 0.18]) runTrial(rt, range(1, 50).map(exp(c, 1, 6)));
    return rt;
  };

  it("NaN and infinities prune at once, even before the start-up trials", () => {
    const rt = makeRuntime({ name: "" });
    for (const [v, s] of [
      [Number.NaN, "NaN"],
      [Infinity, "Infinity"],
      [-Infinity, "-Infinity"],
    ] as const) {
      const t = start(rt);
      rt.report(input(t.id, { step: 1, values: [1] }), 1);
      expect(rt.report(input(t.id, { step: 2, values: [v] }), 1).reason).toBe(`curve: value ${s} at step 2 (diverged)`);
    }
  });

  it("a steadily rising loss is pruned, saying it worsens", () => {
    const rt = withStartup();
    const out = drive(rt, start(rt), (s) => 0.5 + 0.02 * s, 50);
    expect(out.step).toBeLessThanOrEqual(10);
    expect(out.reason).toMatch(/^curve: predicted final \S+ \[\S+, \S+\] at step 50 is worse than best 0.1\S* \(\w+ fit to \d+ points up to step \d+, worsening\)$/);
  });

  it("a value far worse than any value of the completed trials is pruned from the second report", () => {
    const rt = withStartup();
    const out = drive(rt, start(rt), () => 40, 50);
    expect(out.step).toBe(2);
    expect(out.reason).toMatch(/^curve: value 40 at step 2 is far worse than any value the 5 completed trials reported \(worst 1\.\d+\)$/);
  });
});

describe("options", () => {
  it("no pruning before startup_trials trials completed (default 5)", () => {
    for (const [startupTrials, completed, prunes] of [
      [0, 4, false],
      [0, 5, true],
      [2, 2, true],
    ] as const) {
      const rt = makeRuntime({ name: "", startupTrials });
      for (let i = 0; i < completed; i++) runTrial(rt, range(1, 40).map(exp(0.1 + 0.01 * i, 1, 5)));
      const out = drive(rt, start(rt), exp(2, 1, 5), 40);
      expect(out.step !== undefined).toBe(prunes);
    }
  });

  it("forecasts to max_resource, not before min_resource (default 5 % of the horizon)", () => {
    const setup = (over: { minResource?: number; maxResource?: number }): StudyRuntime => {
      const rt = makeRuntime({ name: "", ...over });
      for (let i = 0; i < 5; i++) runTrial(rt, range(1, 40).map(exp(0.1 + 0.01 * i, 1, 5)));
      return rt;
    };
    const bad = exp(0.6, 1, 5);
    let rt = setup({ maxResource: 200 });
    const a = drive(rt, start(rt), bad, 40);
    expect(a.reason).toMatch(/ at step 200 is worse than best /);
    expect(a.step).toBeGreaterThanOrEqual(10); // 5 % of 200
    rt = setup({ minResource: 25 });
    expect(drive(rt, start(rt), bad, 40).step).toBe(25);
    rt = setup({});
    const c = drive(rt, start(rt), bad, 40);
    expect(c.reason).toMatch(/ at step 40 is worse than best /); // the longest step reached
    expect(c.step).toBeLessThan(25);
  });

  it("maximise: the interval and the best are in the objective's units", () => {
    const rt = makeRuntime({ name: "" }, ["maximize"]);
    for (const top of [0.8, 0.82, 0.84, 0.86, 0.88]) runTrial(rt, range(1, 60).map((t) => top - 0.7 * Math.exp(-t / 6)));
    const out = drive(rt, start(rt), (t) => 0.5 - 0.4 * Math.exp(-t / 6), 60);
    const m = /^curve: predicted final (\S+) \[(\S+), (\S+)\] at step 60 is worse than best 0.88\S* \(/.exec(out.reason);
    expect(m, out.reason).not.toBeNull();
    const [pred, lo, hi] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
    expect(lo).toBeLessThanOrEqual(pred);
    expect(pred).toBeLessThanOrEqual(hi);
    expect(hi).toBeLessThan(0.88);
    expect(Math.abs(pred - 0.5)).toBeLessThan(0.05);
  });

  it("a runtime rebuilt from the stored trials decides alike", () => {
    const bad = exp(0.5, 1, 8);
    const decideAfter = (restart: boolean): number | undefined => {
      let rt = makeRuntime({ name: "" });
      for (let i = 0; i < 6; i++) runTrial(rt, range(1, 50).map(exp(0.1 + 0.02 * i, 1, 8)));
      if (restart) rt = buildRuntime(structuredClone(rt.study), rt.trials.map((t) => structuredClone(t)), 1);
      return drive(rt, start(rt), bad, 50).step;
    };
    const a = decideAfter(false);
    expect(a).toBeDefined();
    expect(decideAfter(true)).toBe(a);
  });
});
