import { describe, expect, it } from "vitest";
import type { AlgorithmSpec, Direction } from "../../../../server/core/model.js";
import { GpSampler, refitPoint, type GpSamplerOptions } from "../../../../server/core/samplers/gp/gp-sampler.js";
import { AVAILABLE_ALGORITHMS, createSampler, PLANNED_ALGORITHMS } from "../../../../server/core/samplers/index.js";
import { QuasiRandomSampler } from "../../../../server/core/samplers/quasi-random.js";
import type { SampleContext, TrialView } from "../../../../server/core/samplers/sampler.js";
import { CompiledSpace, compileSpace, type FlatParams } from "../../../../server/core/space.js";
import { cat, edgeSpace, expectValid, float, int, nestedSpace, scheduleSpace } from "../fixtures.js";

type Outcome = Pick<TrialView, "state" | "values" | "constraints" | "lastIntermediate">;

/** Run `n` sequential trials: each suggestion is evaluated before the next is asked for. */
function runStudy(
  sampler: GpSampler,
  space: CompiledSpace,
  seed: number,
  n: number,
  evaluate: (flat: FlatParams) => Outcome,
  directions: Direction[] = ["minimize"],
): TrialView[] {
  const trials: TrialView[] = [];
  for (let id = 0; id < n; id++) {
    const r = sampler.sample({ space, seed, trialId: id, trials, directions });
    if (r.kind !== "params") throw new Error(`trial ${id}: ${r.kind}`);
    expectValid(space, r.flat);
    trials.push({ id, flat: r.flat, ...evaluate(r.flat) });
  }
  return trials;
}

const complete = (...values: number[]): Outcome => ({ state: "COMPLETE", values });
const num = (flat: FlatParams, name: string): number => flat[name] as number;

const unit2 = compileSpace({ parameters: [float("x", 0, 1), float("y", 0, 1)] });

const BRANIN_MIN = 0.397887;
function branin(x1: number, x2: number): number {
  const b = 5.1 / (4 * Math.PI * Math.PI);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

/** Fewer candidates keep the legality tests quick; the algorithm is the same. */
const FAST: Partial<GpSamplerOptions> = { candidates: 256, localStarts: 3, fitRestarts: 2, fitScreen: 4 };

describe("GpSampler registration", () => {
  it("is created by name", () => {
    const spec: AlgorithmSpec = { name: "gp", seed: 1 };
    const { sampler, resolved } = createSampler(spec, unit2);
    expect(resolved).toBe("gp");
    expect(sampler).toBeInstanceOf(GpSampler);
    expect(sampler.name).toBe("gp");
    expect(AVAILABLE_ALGORITHMS as readonly string[]).toContain("gp");
    expect(PLANNED_ALGORITHMS as readonly string[]).not.toContain("gp");
  });
});

describe("GpSampler start-up and determinism", () => {
  it("uses scrambled Sobol (trial id = point index) for the first 10 trials", () => {
    const qr = new QuasiRandomSampler({ sequence: "sobol", scrambled: true });
    const trials = runStudy(new GpSampler(), unit2, 3, 10, (f) => complete(num(f, "x") + num(f, "y")));
    trials.forEach((t) => {
      const r = qr.sample({ space: unit2, seed: 3, trialId: t.id, trials: [], directions: ["minimize"] });
      expect(r).toEqual({ kind: "params", flat: t.flat });
    });
  });

  it("is a deterministic function of (seed, trial id, trials), memo or not", () => {
    const f = (p: FlatParams): Outcome => complete((num(p, "x") - 0.3) ** 2 + (num(p, "y") - 0.6) ** 2);
    const a = runStudy(new GpSampler(FAST), unit2, 11, 18, f);
    // A fresh sampler for every call (no memo) gives the same study.
    const b: TrialView[] = [];
    for (let id = 0; id < 18; id++) {
      const r = new GpSampler(FAST).sample({ space: unit2, seed: 11, trialId: id, trials: b, directions: ["minimize"] });
      if (r.kind !== "params") throw new Error(r.kind);
      b.push({ id, flat: r.flat, ...f(r.flat) });
    }
    expect(b.map((t) => t.flat)).toEqual(a.map((t) => t.flat));
    // Asking again for a past trial id with its history answers the same.
    const s = new GpSampler(FAST);
    const ctx: SampleContext = { space: unit2, seed: 11, trialId: 15, trials: a.slice(0, 15), directions: ["minimize"] };
    expect(s.sample(ctx)).toEqual({ kind: "params", flat: a[15].flat });
    expect(s.sample(ctx)).toEqual({ kind: "params", flat: a[15].flat });
    // Another seed, another study.
    const c = runStudy(new GpSampler(FAST), unit2, 12, 12, f);
    expect(c[11].flat).not.toEqual(a[11].flat);
  });
});

describe("GpSampler legality", () => {
  const spaces: [string, CompiledSpace][] = [
    ["edge", edgeSpace()],
    ["nested", nestedSpace()],
    ["schedule", scheduleSpace()],
  ];
  /** A deterministic objective over whatever is set. */
  const objective = (space: CompiledSpace) => (flat: FlatParams): Outcome => {
    let v = 0;
    for (const d of space.dims) {
      const x = flat[d.name];
      if (x === undefined) continue;
      if (d.domain.type === "categorical") v += d.domain.choices.indexOf(x) === 0 ? 0 : 0.3;
      else if (d.domain.high > d.domain.low) v += (((x as number) - d.domain.low) / (d.domain.high - d.domain.low) - 0.3) ** 2;
    }
    return complete(v);
  };
  for (const [name, space] of spaces) {
    it(`proposes legal points on the ${name} space`, () => {
      const trials = runStudy(new GpSampler(FAST), space, 5, 22, objective(space));
      const keys = new Set(trials.map((t) => CompiledSpace.key(t.flat)));
      expect(keys.size).toBe(trials.length);
    });
  }

  it("handles degenerate inputs: all failed, constant objective, fixed dimensions only", () => {
    const space = compileSpace({ parameters: [float("zero", 2, 2), cat("one", ["only"]), float("x", 0, 1), int("k", 0, 3)] });
    const failed = runStudy(new GpSampler(FAST), space, 1, 14, () => ({ state: "FAILED" }));
    expect(failed).toHaveLength(14);
    const nan = runStudy(new GpSampler(FAST), space, 1, 14, () => ({ state: "COMPLETE", values: [NaN] }));
    expect(nan).toHaveLength(14);
    const constant = runStudy(new GpSampler(FAST), space, 1, 16, () => complete(3));
    for (const t of constant) expect(Number.isFinite(num(t.flat, "x"))).toBe(true);
    const mixed = runStudy(new GpSampler(FAST), space, 2, 16, (f) =>
      num(f, "k") === 0 ? { state: "FAILED" } : complete(num(f, "k") === 3 ? Infinity : 1),
    );
    expect(mixed).toHaveLength(16);
    const fixedOnly = compileSpace({ parameters: [float("zero", 2, 2), cat("one", ["only"]), int("i", 4, 4)] });
    const r = runStudy(new GpSampler(FAST), fixedOnly, 1, 12, () => complete(1));
    for (const t of r) expect(t.flat).toEqual({ zero: 2, one: "only", i: 4 });
  });

  it("does not repeat a point in a tiny discrete space while a new one exists", () => {
    const space = compileSpace({ parameters: [int("a", 0, 3), cat("b", ["p", "q", "r"])] });
    const trials = runStudy(new GpSampler(FAST), space, 4, 12, (f) => complete(num(f, "a") + (f["b"] === "q" ? 0 : 1)));
    // Start-up (quasi-random) may repeat a point of this 12-point space; the GP's picks are new.
    for (const t of trials.slice(10)) {
      const before = new Set(trials.filter((o) => o.id < t.id).map((o) => CompiledSpace.key(o.flat)));
      expect(before.has(CompiledSpace.key(t.flat)), `trial ${t.id}`).toBe(false);
    }
    // Once every point exists, it still answers legally (a repeat).
    const more = runStudy(new GpSampler(FAST), space, 4, 16, (f) => complete(num(f, "a")));
    expect(more).toHaveLength(16);
  });
});

describe("GpSampler behaviour", () => {
  it("reaches regret < 0.05 on Branin within 40 trials for most of 5 seeds", () => {
    const space = compileSpace({ parameters: [float("x1", -5, 10), float("x2", 0, 15)] });
    const regrets: number[] = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      const trials = runStudy(new GpSampler(), space, seed, 40, (f) => complete(branin(num(f, "x1"), num(f, "x2"))));
      regrets.push(Math.min(...trials.map((t) => (t.values as number[])[0])) - BRANIN_MIN);
    }
    expect(regrets.filter((r) => r < 0.05).length).toBeGreaterThanOrEqual(4);
  });

  it("gives 8 parallel workers distinct, spread-out points (RUNNING trials are fantasised)", () => {
    const f = (p: FlatParams): Outcome => complete((num(p, "x") - 0.3) ** 2 + (num(p, "y") - 0.6) ** 2);
    const trials = runStudy(new GpSampler(), unit2, 7, 12, f);
    const done = trials.slice();
    const s = new GpSampler();
    const batch: FlatParams[] = [];
    const blind: FlatParams[] = [];
    for (let k = 0; k < 8; k++) {
      const id = trials.length;
      const r = s.sample({ space: unit2, seed: 7, trialId: id, trials, directions: ["minimize"] });
      if (r.kind !== "params") throw new Error(r.kind);
      batch.push(r.flat);
      trials.push({ id, state: k % 2 === 0 ? "RUNNING" : "QUEUED", flat: r.flat });
      // The same request without the pending trials in view.
      const b = s.sample({ space: unit2, seed: 7, trialId: id, trials: done, directions: ["minimize"] });
      if (b.kind === "params") blind.push(b.flat);
    }
    const spread = (pts: FlatParams[]): { min: number; max: number } => {
      let min = Infinity;
      let max = 0;
      for (let i = 0; i < pts.length; i++) {
        for (let j = 0; j < i; j++) {
          const d = Math.hypot(num(pts[i], "x") - num(pts[j], "x"), num(pts[i], "y") - num(pts[j], "y"));
          min = Math.min(min, d);
          max = Math.max(max, d);
        }
      }
      return { min, max };
    };
    expect(new Set(batch.map((p) => CompiledSpace.key(p))).size).toBe(8);
    const withPending = spread(batch);
    expect(withPending.min).toBeGreaterThan(0.005);
    expect(withPending.max).toBeGreaterThan(0.3);
    // Blind to pending trials, every worker would get the same optimum of the same model.
    expect(spread(blind).max).toBeLessThan(0.01);
  });

  it("steers away from a region where trials fail (x > 0.7)", () => {
    // The optimum lies at the edge of the failing region, the hard case.
    for (const seed of [1, 2]) {
      const trials = runStudy(new GpSampler(), unit2, seed, 60, (f) =>
        num(f, "x") > 0.7 ? { state: "FAILED" } : complete(-num(f, "x") + 0.1 * (num(f, "y") - 0.3) ** 2),
      );
      const post = trials.slice(10);
      const inside = post.filter((t) => num(t.flat, "x") > 0.7).length / post.length;
      expect(inside, `seed ${seed}`).toBeLessThan(0.15);
    }
  });

  it("maximises when asked to", () => {
    const trials = runStudy(new GpSampler(FAST), unit2, 3, 25, (f) => complete(-((num(f, "x") - 0.8) ** 2) - (num(f, "y") - 0.2) ** 2), [
      "maximize",
    ]);
    const best = trials.reduce((a, b) => ((a.values as number[])[0] > (b.values as number[])[0] ? a : b));
    expect((best.values as number[])[0]).toBeGreaterThan(-0.01);
  });

  it("uses UCB when configured", () => {
    const trials = runStudy(new GpSampler({ ...FAST, acquisition: "ucb" }), unit2, 3, 25, (f) =>
      complete((num(f, "x") - 0.8) ** 2 + (num(f, "y") - 0.2) ** 2),
    );
    expect(Math.min(...trials.map((t) => (t.values as number[])[0]))).toBeLessThan(0.01);
  });

  it("honours constraints through the probability of feasibility", () => {
    // Minimise -(x + y) subject to x + y - 1 <= 0: the optimum is the line x + y = 1,
    // which EI x P(feasible) approaches from both sides (P = 1/2 on it).
    const trials = runStudy(new GpSampler(FAST), unit2, 2, 30, (f) => ({
      state: "COMPLETE",
      values: [-(num(f, "x") + num(f, "y"))],
      constraints: [num(f, "x") + num(f, "y") - 1],
    }));
    const post = trials.slice(10).map((t) => (t.constraints as number[])[0]);
    // Unconstrained, the GP would head for x = y = 1 (constraint value 1).
    expect(post.filter((c) => c <= 0.02).length / post.length).toBeGreaterThan(0.8);
    const feasible = trials.filter((t) => (t.constraints as number[])[0] <= 0);
    expect(Math.min(...feasible.map((t) => (t.values as number[])[0]))).toBeLessThan(-0.98);
  });

  it("handles two objectives by random scalarisation", () => {
    const trials = runStudy(
      new GpSampler(FAST),
      unit2,
      9,
      24,
      (f) => complete(num(f, "x") ** 2 + num(f, "y"), (num(f, "x") - 1) ** 2 + num(f, "y")),
      ["minimize", "minimize"],
    );
    // Both objectives prefer y = 0: later points concentrate near it.
    const late = trials.slice(12).map((t) => num(t.flat, "y"));
    expect(late.filter((y) => y < 0.25).length).toBeGreaterThanOrEqual(late.length / 2);
    expect(new Set(trials.map((t) => CompiledSpace.key(t.flat))).size).toBe(trials.length);
  });

  it("uses pruned trials (their last value, capped below at the median)", () => {
    const trials = runStudy(new GpSampler(FAST), unit2, 6, 20, (f) => {
      const v = (num(f, "x") - 0.5) ** 2 + (num(f, "y") - 0.5) ** 2;
      return v > 0.2 ? { state: "PRUNED", lastIntermediate: { step: 3, value: v + 1 } } : complete(v);
    });
    expect(trials).toHaveLength(20);
  });

  it("observes a pruned trial at the pruner's forecast when there is one", () => {
    // Complete trials improve towards x = 0.6; pruned trials at 0.8-1.0 all stopped at the same middling value.
    const line = compileSpace({ parameters: [float("x", 0, 1)] });
    const next = (forecast: number | undefined): number => {
      const trials: TrialView[] = [];
      for (const x of [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) trials.push({ id: trials.length, state: "COMPLETE", flat: { x }, values: [1 - x] });
      for (const x of [0.8, 0.85, 0.9, 0.95, 1]) {
        trials.push({ id: trials.length, state: "PRUNED", flat: { x }, lastIntermediate: { step: 3, value: 0.5 }, ...(forecast === undefined ? {} : { forecast }) });
      }
      const r = new GpSampler(FAST).sample({ space: line, seed: 1, trialId: trials.length, trials, directions: ["minimize"] });
      if (r.kind !== "params") throw new Error(r.kind);
      return num(r.flat, "x");
    };
    const good = next(0.3); // forecast to end better than the best: observed at the best value
    const none = next(undefined); // last value, capped below at the median
    const bad = next(5); // forecast to end far worse
    expect(good).toBeGreaterThan(none);
    expect(none).toBeGreaterThan(bad);
  });

  it("bounds its cost: refits on a prefix, models at most maxObservations trials", () => {
    expect([10, 64, 65, 71, 72, 130, 200, 1000].map(refitPoint)).toEqual([10, 64, 64, 64, 72, 128, 192, 960]);
    // 400 finished trials (some failed), 3 running: legal and finite.
    const trials: TrialView[] = [];
    for (let id = 0; id < 400; id++) {
      const x = ((id * 0.6180339887) % 1 + 1) % 1;
      const y = ((id * 0.7548776662) % 1 + 1) % 1;
      trials.push(id % 17 === 0 ? { id, state: "FAILED", flat: { x, y } } : { id, state: "COMPLETE", flat: { x, y }, values: [(x - 0.3) ** 2 + y] });
    }
    for (let id = 400; id < 403; id++) trials.push({ id, state: "RUNNING", flat: { x: 0.3, y: 0.01 * (id - 400) } });
    const r = new GpSampler(FAST).sample({ space: unit2, seed: 1, trialId: 403, trials, directions: ["minimize"] });
    if (r.kind !== "params") throw new Error(r.kind);
    expectValid(unit2, r.flat);
  });
});
