import { describe, expect, it } from "vitest";
import type { Direction } from "../../../server/core/model.js";
import { paretoFront } from "../../../server/core/pareto.js";
import { genomeOf } from "../../../server/core/samplers/evolution/encoding.js";
import { fitnessOf, orderByFitness, rankFitness } from "../../../server/core/samplers/evolution/fitness.js";
import { Nsga2Sampler } from "../../../server/core/samplers/nsga2.js";
import type { Sampler, TrialView } from "../../../server/core/samplers/sampler.js";
import { compileSpace, type CompiledSpace, type FlatParams } from "../../../server/core/space.js";
import { cat, edgeSpace, expectValid, float, int, nestedSpace, scheduleSpace, trial } from "./fixtures.js";

type Outcome = { values: number[]; constraints?: number[] } | "fail";
const MIN2: Direction[] = ["minimize", "minimize"];

/** Sequential optimisation: each trial is suggested, evaluated and finished in turn. */
function optimize(
  sampler: Sampler,
  space: CompiledSpace,
  seed: number,
  n: number,
  evaluate: (flat: FlatParams) => Outcome,
  directions: Direction[] = ["minimize"],
  onTrial?: (trials: readonly TrialView[]) => void,
): TrialView[] {
  const trials: TrialView[] = [];
  for (let t = 0; t < n; t++) {
    const r = sampler.sample({ space, seed, trialId: t, trials, directions });
    if (r.kind !== "params") throw new Error(`trial ${t}: ${r.kind}`);
    const o = evaluate(r.flat);
    trials.push(o === "fail" ? { id: t, state: "FAILED", flat: r.flat } : { id: t, state: "COMPLETE", flat: r.flat, ...o });
    onTrial?.(trials);
  }
  return trials;
}

const cube = (d: number, low: number, high: number): CompiledSpace =>
  compileSpace({ parameters: Array.from({ length: d }, (_, i) => float(`x${i}`, low, high)) });

function zdt1(d: number): (p: FlatParams) => Outcome {
  return (p) => {
    const x = Array.from({ length: d }, (_, i) => p[`x${i}`] as number);
    const g = 1 + (9 * x.slice(1).reduce((s, v) => s + v, 0)) / (d - 1);
    const f1 = x[0] as number;
    return { values: [f1, g * (1 - Math.sqrt(f1 / g))] };
  };
}

/** Inverted generational distance to 100 points of ZDT1's true front f2 = 1 - sqrt(f1). */
function igdZdt1(points: readonly (readonly number[])[]): number {
  let s = 0;
  for (let i = 0; i < 100; i++) {
    const f1 = i / 99;
    const f2 = 1 - Math.sqrt(f1);
    s += Math.min(...points.map((p) => Math.hypot((p[0] as number) - f1, (p[1] as number) - f2)));
  }
  return s / 100;
}

const frontOf = (trials: readonly TrialView[]): number[][] =>
  paretoFront(
    trials.filter((t) => t.state === "COMPLETE"),
    (t) => t.values ?? [],
    MIN2,
  ).map((t) => t.values ?? []);

describe("constrained ranking (evolution/fitness)", () => {
  const view = (id: number, state: TrialView["state"], values?: number[], constraints?: number[]): TrialView => ({
    id,
    state,
    flat: {},
    ...(values ? { values } : {}),
    ...(constraints ? { constraints } : {}),
  });

  it("follows Deb's rule: feasible first, then smaller violation; failed last", () => {
    const trials = [
      view(0, "FAILED"),
      view(1, "COMPLETE", [1, 1], [0.5, -1]), // violation 0.5
      view(2, "COMPLETE", [5, 5], [-1, 0]), // feasible, dominated by 4
      view(3, "COMPLETE", [0, 0], [2, 1]), // violation 3, best values
      view(4, "COMPLETE", [4, 4]),
      view(5, "COMPLETE", [1, 9], [0, 0]), // feasible, non-dominated
      view(6, "COMPLETE", [Number.NaN, 1]), // no finite values: as failed
      view(7, "PRUNED", undefined, undefined),
    ];
    const fits = trials.map((t) => fitnessOf(t, MIN2));
    expect(fits.map((f) => f.cls)).toEqual([3, 1, 0, 1, 0, 0, 3, 3]);
    const r = rankFitness(fits);
    expect(r.rank[4]).toBe(0);
    expect(r.rank[5]).toBe(0);
    expect(r.rank[2]).toBe(1);
    expect(r.rank[1]).toBe(2);
    expect(r.rank[3]).toBe(3);
    expect(r.rank[0]).toBe(4);
    expect(r.rank[6]).toBe(4);
    expect(r.order).toEqual([4, 5, 2, 1, 3, 0, 6, 7]);
    // Extremes of a front have infinite crowding distance.
    expect(r.crowding[4]).toBe(Number.POSITIVE_INFINITY);
  });

  it("orders a single objective by direction, pruned after complete, failed last", () => {
    const trials = [
      view(0, "COMPLETE", [1]),
      view(1, "FAILED", [Number.NaN]),
      { ...view(2, "PRUNED"), lastIntermediate: { step: 4, value: 100 } },
      view(3, "COMPLETE", [3]),
      view(4, "COMPLETE", [2], [1]),
    ];
    const fits = trials.map((t) => fitnessOf(t, ["maximize"]));
    expect(orderByFitness(fits, 1)).toEqual([3, 0, 4, 2, 1]);
  });

  it("ranks pruned trials among themselves by the pruner's forecast when there is one, still after every complete trial", () => {
    const trials = [
      view(0, "COMPLETE", [5]),
      // Looked worst when pruned (a slow start), but forecast to end best of the pruned.
      { ...view(1, "PRUNED"), lastIntermediate: { step: 3, value: 9 }, forecast: 1 },
      { ...view(2, "PRUNED"), lastIntermediate: { step: 3, value: 4 } },
      { ...view(3, "PRUNED"), lastIntermediate: { step: 3, value: 6 }, forecast: 3 },
      // A non-finite forecast is ignored: the last value ranks it.
      { ...view(4, "PRUNED"), lastIntermediate: { step: 3, value: 2 }, forecast: Number.NaN },
    ];
    expect(orderByFitness(trials.map((t) => fitnessOf(t, ["minimize"])), 1)).toEqual([0, 1, 4, 3, 2]);
    // Several objectives: no forecast applies, the last value ranks.
    expect(fitnessOf(trials[1]!, MIN2).obj).toEqual([9]);
  });

  it("spreads a front by crowding distance", () => {
    const fits = [
      [0, 10],
      [1, 5],
      [1.1, 4.9],
      [5, 1],
      [10, 0],
    ].map((values, id) => fitnessOf(view(id, "COMPLETE", values), MIN2));
    const r = rankFitness(fits);
    expect(r.rank).toEqual([0, 0, 0, 0, 0]);
    expect(r.crowding[0]).toBe(Number.POSITIVE_INFINITY);
    expect(r.crowding[4]).toBe(Number.POSITIVE_INFINITY);
    // The crowded pair (1, 5) / (1.1, 4.9) comes after the isolated (5, 1).
    expect(r.order.indexOf(3)).toBeLessThan(r.order.indexOf(1));
    expect(r.order.indexOf(3)).toBeLessThan(r.order.indexOf(2));
  });
});

describe("Nsga2Sampler", () => {
  it("defaults to a population of 50 and checks the option", () => {
    expect(new Nsga2Sampler().populationSize).toBe(50);
    expect(() => new Nsga2Sampler({ populationSize: 0 })).toThrow(/population size/);
  });

  it("approaches the true front of ZDT1 (5-D)", () => {
    // Measured IGD (seeds 1-3): 1.3-1.4 after the random first generation,
    // 0.04-0.09 after 1,000 trials, 0.003-0.008 after 2,000.
    const space = cube(5, 0, 1);
    for (const seed of [1, 2]) {
      const igd: number[] = [];
      optimize(new Nsga2Sampler(), space, seed, 2000, zdt1(5), MIN2, (trials) => {
        if (trials.length % 500 === 0 || trials.length === 50) igd.push(igdZdt1(frontOf(trials)));
      });
      expect(igd[0]).toBeGreaterThan(0.5);
      for (let i = 1; i < igd.length; i++) expect(igd[i]).toBeLessThanOrEqual(igd[i - 1] as number);
      expect(igd[igd.length - 1]).toBeLessThan(0.02);
    }
  });

  it("drives infeasible solutions out of the front (Deb's CONSTR)", () => {
    // minimise (x, (1 + y) / x) subject to y + 9x >= 6 and 9x - y >= 1.
    const space = compileSpace({ parameters: [float("x", 0.1, 1), float("y", 0, 5)] });
    const constr = (p: FlatParams): Outcome => {
      const x = p.x as number;
      const y = p.y as number;
      return { values: [x, (1 + y) / x], constraints: [6 - (y + 9 * x), 1 + y - 9 * x] };
    };
    const infeasible = (ts: readonly TrialView[]): number => ts.filter((t) => (t.constraints ?? []).some((c) => c > 0)).length;
    for (const seed of [1, 2, 3]) {
      const sampler = new Nsga2Sampler();
      const trials = optimize(sampler, space, seed, 1000, constr, MIN2);
      // About half of the random first generation is infeasible...
      expect(infeasible(trials.slice(0, 50))).toBeGreaterThan(15);
      // ...none survives in the population, whose first front is feasible and wide.
      const pool = sampler.population({ space, seed, trialId: 1000, trials, directions: MIN2 });
      expect(pool).toHaveLength(50);
      expect(infeasible(pool.map((i) => i.view))).toBe(0);
      const front = pool.filter((i) => i.rank === 0).map((i) => i.view.values ?? []);
      expect(front.length).toBeGreaterThan(30);
      const f1 = front.map((v) => v[0] as number);
      expect(Math.min(...f1)).toBeLessThan(0.45);
      expect(Math.max(...f1)).toBeGreaterThan(0.95);
      // The constrained front of the whole history is feasible too.
      const all = rankFitness(trials.map((t) => fitnessOf(t, MIN2)));
      expect(trials.filter((_, i) => all.rank[i] === 0).every((t) => (t.constraints ?? []).every((c) => c <= 0))).toBe(true);
    }
  });

  it("works for a single objective", () => {
    const space = cube(4, -3, 3);
    const f = (p: FlatParams): Outcome => ({ values: [Array.from({ length: 4 }, (_, i) => (p[`x${i}`] as number) ** 2).reduce((s, x) => s + x, 0)] });
    const trials = optimize(new Nsga2Sampler(), space, 2, 800, f);
    const values = trials.map((t) => t.values?.[0] ?? Infinity);
    expect(Math.min(...values.slice(0, 50))).toBeGreaterThan(0.3);
    expect(Math.min(...values)).toBeLessThan(0.05);
  });

  it("moves away from where trials fail", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1), float("y", 0, 1)] });
    const f = (p: FlatParams): Outcome =>
      (p.x as number) > 0.7 ? "fail" : { values: [((p.x as number) - 0.6) ** 2 + ((p.y as number) - 0.4) ** 2] };
    for (const seed of [1, 2, 3, 4, 5]) {
      const trials = optimize(new Nsga2Sampler(), space, seed, 100, f);
      const inRegion = trials.slice(50).filter((t) => (t.flat.x as number) > 0.7).length / 50;
      expect(inRegion).toBeLessThan(0.15);
    }
    // Several objectives too: failed trials are dominated by everything.
    const two = (p: FlatParams): Outcome => ((p.x as number) > 0.7 ? "fail" : { values: [p.x as number, 1 - (p.x as number) + (p.y as number)] });
    const trials = optimize(new Nsga2Sampler(), space, 6, 100, two, MIN2);
    expect(trials.slice(50).filter((t) => (t.flat.x as number) > 0.7).length / 50).toBeLessThan(0.15);
  });

  it("gives parallel workers distinct points and never waits for a running generation", () => {
    const space = cube(2, 0, 1);
    const sampler = new Nsga2Sampler({ populationSize: 6 });
    const trials: TrialView[] = [];
    for (let t = 0; t < 6; t++) {
      const r = sampler.sample({ space, seed: 3, trialId: t, trials, directions: MIN2 });
      if (r.kind !== "params") throw new Error(r.kind);
      trials.push({ id: t, state: "COMPLETE", flat: r.flat, values: [r.flat.x0 as number, 1 - (r.flat.x1 as number)] });
    }
    for (let t = 6; t < 14; t++) {
      const r = sampler.sample({ space, seed: 3, trialId: t, trials, directions: MIN2 });
      if (r.kind !== "params") throw new Error(r.kind);
      trials.push(trial(t, r.flat));
    }
    expect(new Set(trials.map((t) => JSON.stringify(t.flat))).size).toBe(14);
    expect(sampler.population({ space, seed: 3, trialId: 14, trials, directions: MIN2 })).toHaveLength(6);
  });

  it("is deterministic under a seed, with or without its memo", () => {
    const space = nestedSpace();
    const f = (p: FlatParams): Outcome => ({ values: [p.dropout as number, p.model === "mlp" ? (p.layers as number) : 2.5] });
    const a = optimize(new Nsga2Sampler({ populationSize: 20 }), space, 11, 150, f, MIN2);
    const b = optimize(new Nsga2Sampler({ populationSize: 20 }), space, 11, 150, f, MIN2);
    expect(b.map((t) => t.flat)).toEqual(a.map((t) => t.flat));
    const c = optimize(new Nsga2Sampler({ populationSize: 20 }), space, 12, 150, f, MIN2);
    expect(c.map((t) => t.flat)).not.toEqual(a.map((t) => t.flat));
    const warm = new Nsga2Sampler({ populationSize: 20 });
    const history = optimize(warm, space, 5, 150, f, MIN2);
    for (const upTo of [19, 61, 149]) {
      const ctx = { space, seed: 5, trialId: upTo, trials: history.slice(0, upTo), directions: MIN2 };
      expect(warm.sample(ctx)).toEqual(new Nsga2Sampler({ populationSize: 20 }).sample(ctx));
    }
  });

  it("keeps every proposal legal on the edge spaces", () => {
    [edgeSpace(), nestedSpace(), scheduleSpace()].forEach((space, k) => {
      const genome = genomeOf(space);
      const f = (p: FlatParams): Outcome => {
        const u = genome.numeric.map((g) => {
          const v = p[g.dim.name];
          return typeof v === "number" ? (v - g.domain.low) / (g.domain.high - g.domain.low || 1) : 0.5;
        });
        const s = u.reduce((a, x) => a + x, 0);
        return s > genome.numeric.length * 0.6 ? "fail" : { values: [u[0] ?? 0, s], constraints: [(u[1] ?? 0) - 0.8] };
      };
      const trials = optimize(new Nsga2Sampler({ populationSize: 20 }), space, k, 300, f, MIN2);
      for (const t of trials) expectValid(space, t.flat);
    });
  });

  it("stays legal on degenerate inputs", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1), int("k", 1, 8), cat("c", ["a", "b"])] });
    const fixed = compileSpace({ parameters: [float("z", 0.5, 0.5), cat("only", ["one"]), int("i", 3, 3)] });
    const zeroWidth = compileSpace({ parameters: [float("z", 2, 2), float("x", 0, 1)] });
    const cases: [CompiledSpace, (p: FlatParams) => Outcome][] = [
      [space, () => "fail"],
      [space, () => ({ values: [1, 1] })],
      [space, () => ({ values: [Number.NaN, 1] })],
      [space, () => ({ values: [1, 1], constraints: [Number.NaN] })],
      [fixed, () => ({ values: [1, 2] })],
      [zeroWidth, (p) => ({ values: [p.x as number, 1 - (p.x as number)] })],
    ];
    for (const [sp, f] of cases) {
      const trials = optimize(new Nsga2Sampler({ populationSize: 10 }), sp, 4, 100, f, MIN2);
      for (const t of trials) {
        expectValid(sp, t.flat);
        for (const v of Object.values(t.flat)) if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
      }
    }
  });
});
