import { describe, expect, it } from "vitest";
import type { Direction } from "../../../server/core/model.js";
import { genomeOf } from "../../../server/core/samplers/evolution/encoding.js";
import { GeneticSampler } from "../../../server/core/samplers/genetic.js";
import type { Sampler, TrialView } from "../../../server/core/samplers/sampler.js";
import { compileSpace, type CompiledSpace, type FlatParams } from "../../../server/core/space.js";
import { cat, edgeSpace, expectValid, float, int, nestedSpace, scheduleSpace, trial, when } from "./fixtures.js";

type Outcome = { values: number[]; constraints?: number[] } | "fail";

/** Sequential optimisation: each trial is suggested, evaluated and finished in turn. */
function optimize(
  sampler: Sampler,
  space: CompiledSpace,
  seed: number,
  n: number,
  evaluate: (flat: FlatParams) => Outcome,
  directions: Direction[] = ["minimize"],
): TrialView[] {
  const trials: TrialView[] = [];
  for (let t = 0; t < n; t++) {
    const r = sampler.sample({ space, seed, trialId: t, trials, directions });
    if (r.kind !== "params") throw new Error(`trial ${t}: ${r.kind}`);
    const o = evaluate(r.flat);
    trials.push(o === "fail" ? { id: t, state: "FAILED", flat: r.flat } : { id: t, state: "COMPLETE", flat: r.flat, ...o });
  }
  return trials;
}

const value = (f: (p: FlatParams) => number) => (p: FlatParams): Outcome => ({ values: [f(p)] });
const best = (trials: readonly TrialView[], from = 0, to = trials.length): number =>
  Math.min(...trials.slice(from, to).map((t) => (t.state === "COMPLETE" ? (t.values?.[0] ?? Infinity) : Infinity)));
const cube = (d: number, low: number, high: number): CompiledSpace =>
  compileSpace({ parameters: Array.from({ length: d }, (_, i) => float(`x${i}`, low, high)) });
const sphere = (d: number) => (p: FlatParams): number => Array.from({ length: d }, (_, i) => (p[`x${i}`] as number) ** 2).reduce((s, x) => s + x, 0);

describe("GeneticSampler", () => {
  it("defaults to a population of 50 and checks the option", () => {
    expect(new GeneticSampler().populationSize).toBe(50);
    expect(new GeneticSampler({ populationSize: 20 }).populationSize).toBe(20);
    expect(() => new GeneticSampler({ populationSize: 1 })).toThrow(/population size/);
    expect(() => new GeneticSampler({ populationSize: 2.5 })).toThrow(/population size/);
  });

  it("improves on its random first generation on a 5-D sphere", () => {
    const space = cube(5, -5, 5);
    for (const seed of [1, 2, 3]) {
      const trials = optimize(new GeneticSampler(), space, seed, 1000, value(sphere(5)));
      // Measured: the first generation's best is 2 to 10; after 1,000 trials 0.01 to 0.03.
      expect(best(trials, 0, 50)).toBeGreaterThan(1);
      expect(best(trials)).toBeLessThan(0.1);
    }
  });

  it("searches categorical and conditional parameters", () => {
    const space = nestedSpace();
    const f = (p: FlatParams): number => {
      let s = (p.dropout as number) - 0.1;
      s = s * s;
      if (p.model === "linear") return s + 1 + Math.abs(Math.log10(p.l2 as number) + 3);
      s += Math.abs((p.layers as number) - 2);
      if (p.act === "gelu") s += ((p.gelu_approx_scale as number) - 1.5) ** 2;
      else s += 0.3;
      return s;
    };
    const trials = optimize(new GeneticSampler(), space, 4, 600, value(f));
    for (const t of trials) expectValid(space, t.flat);
    const top = [...trials].sort((a, b) => (a.values?.[0] ?? 0) - (b.values?.[0] ?? 0))[0] as TrialView;
    expect(top.flat).toMatchObject({ model: "mlp", layers: 2, act: "gelu" });
    expect(top.values?.[0]).toBeLessThan(0.01);
    // The last generation mostly breeds in the best branch.
    const last = trials.slice(550);
    expect(last.filter((t) => t.flat.act === "gelu").length / last.length).toBeGreaterThan(0.5);
  });

  it("children inherit the subtree of the parent that provides the branch", () => {
    // Two branches with disjoint children; the pool holds both. Children that
    // took branch "a" carry a-values only, bred from a-parents' values.
    const space = compileSpace({
      parameters: [cat("b", ["a", "z"]), when(float("ax", 0, 1), "b", ["a"]), when(float("zx", 0, 1), "b", ["z"]), float("w", 0, 1)],
    });
    const f = (p: FlatParams): number => (p.b === "a" ? (p.ax as number) : 1 + (p.zx as number)) + (p.w as number);
    const trials = optimize(new GeneticSampler({ populationSize: 20 }), space, 8, 200, value(f));
    for (const t of trials) expectValid(space, t.flat);
    expect(trials.slice(20).some((t) => t.flat.b === "z")).toBe(true);
    expect(best(trials)).toBeLessThan(0.05);
  });

  it("moves away from where trials fail", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1), float("y", 0, 1)] });
    const f = (p: FlatParams): Outcome =>
      (p.x as number) > 0.7 ? "fail" : { values: [((p.x as number) - 0.6) ** 2 + ((p.y as number) - 0.4) ** 2] };
    for (const seed of [1, 2, 3, 4, 5]) {
      const trials = optimize(new GeneticSampler(), space, seed, 100, f);
      // The random first generation fails about 30% of the time.
      const inRegion = trials.slice(50).filter((t) => (t.flat.x as number) > 0.7).length / 50;
      expect(inRegion).toBeLessThan(0.15);
    }
  });

  it("gives parallel workers distinct points and never waits for a running generation", () => {
    const space = cube(3, 0, 1);
    const sampler = new GeneticSampler({ populationSize: 10 });
    const trials: TrialView[] = [];
    const f = sphere(3);
    for (let t = 0; t < 10; t++) {
      const r = sampler.sample({ space, seed: 3, trialId: t, trials, directions: ["minimize"] });
      if (r.kind !== "params") throw new Error(r.kind);
      trials.push(t === 4 ? trial(t, r.flat, "RUNNING") : { id: t, state: "COMPLETE", flat: r.flat, values: [f(r.flat)] });
    }
    // Generation 0 waits on trial 4; 8 back-to-back suggestions, each RUNNING, are distinct.
    for (let t = 10; t < 18; t++) {
      const r = sampler.sample({ space, seed: 3, trialId: t, trials, directions: ["minimize"] });
      if (r.kind !== "params") throw new Error(r.kind);
      trials.push(trial(t, r.flat));
    }
    expect(new Set(trials.map((t) => JSON.stringify(t.flat))).size).toBe(18);
    // Once generation 0 closes, trials are bred from its pool.
    trials[4] = { ...(trials[4] as TrialView), state: "COMPLETE", values: [f((trials[4] as TrialView).flat)] };
    const pool = sampler.population({ space, seed: 3, trialId: 18, trials, directions: ["minimize"] });
    expect(pool.map((i) => i.pos).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(pool.map((i) => i.view.values?.[0])).toEqual([...pool.map((i) => i.view.values?.[0] as number)].sort((a, b) => a - b));
  });

  it("is deterministic under a seed, with or without its memo", () => {
    const space = scheduleSpace();
    const f = (p: FlatParams): number => Math.log10(p.lr as number) ** 2 + (p["sched/kind"] === "step" ? 0 : 1);
    const a = optimize(new GeneticSampler({ populationSize: 20 }), space, 11, 150, value(f));
    const b = optimize(new GeneticSampler({ populationSize: 20 }), space, 11, 150, value(f));
    expect(b.map((t) => t.flat)).toEqual(a.map((t) => t.flat));
    const c = optimize(new GeneticSampler({ populationSize: 20 }), space, 12, 150, value(f));
    expect(c.map((t) => t.flat)).not.toEqual(a.map((t) => t.flat));
    const warm = new GeneticSampler({ populationSize: 20 });
    const history = optimize(warm, space, 5, 150, value(f));
    for (const upTo of [19, 61, 149]) {
      const ctx = { space, seed: 5, trialId: upTo, trials: history.slice(0, upTo), directions: ["minimize"] as Direction[] };
      expect(warm.sample(ctx)).toEqual(new GeneticSampler({ populationSize: 20 }).sample(ctx));
      expect(warm.sample({ ...ctx, trials: ctx.trials.map((t) => ({ ...t })) })).toEqual(warm.sample(ctx));
    }
  });

  it("keeps every proposal legal on the edge spaces", () => {
    [edgeSpace(), nestedSpace(), scheduleSpace()].forEach((space, k) => {
      const genome = genomeOf(space);
      const f = (p: FlatParams): Outcome => {
        let s = 0;
        for (const g of genome.numeric) {
          const v = p[g.dim.name];
          if (typeof v === "number") s += (v - g.domain.low) / (g.domain.high - g.domain.low || 1);
        }
        return s > genome.numeric.length * 0.6 ? "fail" : { values: [s] };
      };
      const trials = optimize(new GeneticSampler({ populationSize: 20 }), space, k, 300, f);
      for (const t of trials) expectValid(space, t.flat);
    });
  });

  it("stays legal on degenerate inputs", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1), int("k", 1, 8), cat("c", ["a", "b"])] });
    const fixed = compileSpace({ parameters: [float("z", 0.5, 0.5), cat("only", ["one"]), int("i", 3, 3)] });
    const zeroWidth = compileSpace({ parameters: [float("z", 2, 2), float("x", 0, 1)] });
    const cases: [CompiledSpace, (p: FlatParams) => Outcome][] = [
      [space, () => "fail"],
      [space, () => ({ values: [1] })],
      [space, () => ({ values: [Number.NaN] })],
      [fixed, () => ({ values: [1] })],
      [zeroWidth, (p) => ({ values: [(p.x as number) ** 2] })],
    ];
    for (const [sp, f] of cases) {
      const trials = optimize(new GeneticSampler({ populationSize: 10 }), sp, 4, 100, f);
      for (const t of trials) {
        expectValid(sp, t.flat);
        for (const v of Object.values(t.flat)) if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
      }
    }
    expect(optimize(new GeneticSampler(), fixed, 1, 60, () => ({ values: [0] }))[55]?.flat).toEqual({ z: 0.5, only: "one", i: 3 });
  });

  it("ranks failed and pruned trials below complete ones in its pool", () => {
    const space = cube(2, 0, 1);
    const sampler = new GeneticSampler({ populationSize: 4 });
    const flat = (x: number): FlatParams => ({ x0: x, x1: x });
    const trials: TrialView[] = [
      { id: 0, state: "FAILED", flat: flat(0.1) },
      { id: 1, state: "PRUNED", flat: flat(0.2), lastIntermediate: { step: 3, value: 0.01 } },
      { id: 2, state: "COMPLETE", flat: flat(0.3), values: [5] },
      { id: 3, state: "COMPLETE", flat: flat(0.4), values: [2] },
    ];
    const pool = sampler.population({ space, seed: 1, trialId: 4, trials, directions: ["minimize"] });
    // The failed trial is left out of the pool; the pruned one ranks last.
    expect(pool.map((i) => i.pos)).toEqual([3, 2, 1]);
  });
});
