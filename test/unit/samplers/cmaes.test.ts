import { describe, expect, it } from "vitest";
import type { Direction } from "../../../server/core/model.js";
import { defaultLambda, MAX_DOUBLINGS, strategyParams } from "../../../server/core/samplers/cmaes/cma.js";
import { CmaEsSampler } from "../../../server/core/samplers/cmaes/index.js";
import { normalQuantile, symmetricEigen } from "../../../server/core/samplers/cmaes/linalg.js";
import { cellWidth, genomeOf } from "../../../server/core/samplers/evolution/encoding.js";
import { GenerationMemo, type Generations } from "../../../server/core/samplers/evolution/generations.js";
import { RandomSampler } from "../../../server/core/samplers/random.js";
import type { Sampler, TrialView } from "../../../server/core/samplers/sampler.js";
import { createRng } from "../../../server/core/rng.js";
import { compileSpace, type CompiledSpace, type FlatParams } from "../../../server/core/space.js";
import { cat, edgeSpace, expectValid, float, int, nestedSpace, scheduleSpace, trial } from "./fixtures.js";

type Outcome = { values: number[]; constraints?: number[] } | "fail";

/** Sequential optimisation: each trial is suggested, evaluated and finished in turn. */
function optimize(
  sampler: Sampler,
  space: CompiledSpace,
  seed: number,
  n: number,
  evaluate: (flat: FlatParams) => Outcome,
  directions: Direction[] = ["minimize"],
  trials: TrialView[] = [],
): TrialView[] {
  for (let t = trials.length; t < n; t++) {
    const r = sampler.sample({ space, seed, trialId: t, trials, directions });
    if (r.kind !== "params") throw new Error(`trial ${t}: ${r.kind}`);
    const o = evaluate(r.flat);
    trials.push(o === "fail" ? { id: t, state: "FAILED", flat: r.flat } : { id: t, state: "COMPLETE", flat: r.flat, ...o });
  }
  return trials;
}

const value = (f: (p: FlatParams) => number) => (p: FlatParams): Outcome => ({ values: [f(p)] });
const best = (trials: readonly TrialView[], upTo = trials.length): number =>
  Math.min(...trials.slice(0, upTo).map((t) => (t.state === "COMPLETE" ? (t.values?.[0] ?? Infinity) : Infinity)));

const cube = (d: number, low: number, high: number): CompiledSpace =>
  compileSpace({ parameters: Array.from({ length: d }, (_, i) => float(`x${i}`, low, high)) });
const xs = (p: FlatParams, d: number): number[] => Array.from({ length: d }, (_, i) => p[`x${i}`] as number);
const sphere = (d: number) => (p: FlatParams): number => xs(p, d).reduce((s, x) => s + x * x, 0);
const rosenbrock = (d: number) => (p: FlatParams): number => {
  const x = xs(p, d);
  let s = 0;
  for (let i = 0; i < d - 1; i++) s += 100 * ((x[i + 1] as number) - (x[i] as number) ** 2) ** 2 + (1 - (x[i] as number)) ** 2;
  return s;
};
const allFinite = (a: ArrayLike<number>): boolean => Array.from(a).every(Number.isFinite);

describe("CMA-ES linear algebra and constants", () => {
  it("decomposes a symmetric positive definite matrix (ml-matrix)", () => {
    const n = 6;
    const rng = createRng(5);
    const g = Array.from({ length: n * n }, () => rng.normal());
    const c = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) c[i * n + j] += (g[i * n + k] as number) * (g[j * n + k] as number);
    const { values, vectors } = symmetricEigen(c, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rebuilt = 0;
        let ortho = 0;
        for (let k = 0; k < n; k++) {
          rebuilt += (vectors[i * n + k] as number) * (values[k] as number) * (vectors[j * n + k] as number);
          ortho += (vectors[k * n + i] as number) * (vectors[k * n + j] as number);
        }
        expect(rebuilt).toBeCloseTo(c[i * n + j] as number, 9);
        expect(ortho).toBeCloseTo(i === j ? 1 : 0, 9);
      }
    }
    // A singular matrix gets a positive floor instead of zero or negative eigenvalues.
    const singular = symmetricEigen(Float64Array.from([1, 1, 1, 1]), 2);
    expect(Math.min(...singular.values)).toBeGreaterThan(0);
  });

  it("computes normal quantiles", () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
  });

  it("uses Hansen's default strategy parameters", () => {
    const p = strategyParams(10, 10);
    expect(p.mu).toBe(5);
    expect(p.mueff).toBeCloseTo(3.1672, 3);
    expect(p.c1).toBeCloseTo(2 / (11.3 ** 2 + p.mueff), 12);
    expect(p.cmu).toBeCloseTo((2 * (p.mueff - 2 + 1 / p.mueff)) / (144 + p.mueff), 12);
    expect(p.cs).toBeCloseTo((p.mueff + 2) / (10 + p.mueff + 5), 12);
    const w = Array.from(p.weights);
    expect(w.slice(0, 5).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    // Active weights: negative for the worse half, never larger than the positive mass.
    expect(w.slice(5).every((x) => x <= 0)).toBe(true);
    expect(-w.slice(5).reduce((s, x) => s + x, 0)).toBeLessThanOrEqual(1 + p.c1 / p.cmu);
    expect(defaultLambda(genomeOf(cube(5, 0, 1)))).toBe(8);
  });
});

describe("generation replay memo", () => {
  /** A toy population: the state is the list of closed block sums; blocks of 3. */
  function toy(): { gens: Generations<number[]>; closes: () => number } {
    let closes = 0;
    return {
      closes: () => closes,
      gens: {
        initial: () => [],
        blockSize: () => 3,
        close: (recent, members) => {
          closes++;
          return [...(recent[0] as number[]), members.reduce((s, m) => s + (m.values?.[0] ?? 0), 0)];
        },
      },
    };
  }
  const done = (id: number, v: number): TrialView => ({ id, state: "COMPLETE", flat: {}, values: [v] });

  it("replays only the blocks closed since the last call, and only closed ones", () => {
    const { gens, closes } = toy();
    const memo = new GenerationMemo(gens, 2);
    const trials: TrialView[] = [];
    for (let i = 0; i < 30; i++) {
      trials.push(done(i, i));
      memo.replay(trials);
    }
    expect(closes()).toBe(10);
    const r = memo.replay(trials);
    expect(r.generation).toBe(10);
    expect(r.state).toEqual(Array.from({ length: 10 }, (_, b) => 9 * b + 3));
    // A running member keeps its block (and those after it) open.
    trials.push(done(30, 1), trial(31, {}, "RUNNING"), done(32, 1), done(33, 1), done(34, 1), done(35, 1));
    const open = memo.replay(trials);
    expect(open.generation).toBe(10);
    expect(open.openStart).toBe(30);
    expect(closes()).toBe(10);
  });

  it("accepts equal copies of views and drops blocks whose trials changed", () => {
    const { gens, closes } = toy();
    const memo = new GenerationMemo(gens, 2);
    const trials = Array.from({ length: 30 }, (_, i) => done(i, i));
    const first = memo.replay(trials).state;
    const copies: TrialView[] = trials.map((t) => ({ ...t, values: [...(t.values ?? [])] }));
    expect(memo.replay(copies).state).toEqual(first);
    expect(closes()).toBe(10);
    // A changed late block replays from the stored state before it...
    copies[28] = done(28, 100);
    const fresh = new GenerationMemo(toy().gens, 2).replay(copies).state;
    expect(memo.replay(copies).state).toEqual(fresh);
    expect(closes()).toBe(11);
    // ...an early one (state no longer kept) from the start.
    copies[1] = done(1, 100);
    expect(memo.replay(copies).state).toEqual(new GenerationMemo(toy().gens, 2).replay(copies).state);
    expect(closes()).toBe(21);
  });
});

describe("CmaEsSampler", () => {
  it("minimises a 5-D sphere to a small regret within 500 evaluations", () => {
    const space = cube(5, -5, 5);
    for (const seed of [1, 2, 3]) {
      const trials = optimize(new CmaEsSampler(), space, seed, 500, value(sphere(5)));
      expect(best(trials, 100)).toBeGreaterThan(1e-2);
      expect(best(trials)).toBeLessThan(1e-3);
    }
  });

  it("minimises a 5-D Rosenbrock function within 2,000 evaluations", () => {
    // Measured regret after 1,500 evaluations: 4e-6 to 1e-2 (seeds 1-5); after
    // 2,000 all below 3e-8. One seed in 12 tried settles first in the local
    // minimum near (-1, 1, 1, 1, 1) (f = 3.93), left only after a restart.
    const space = cube(5, -5, 5);
    for (const seed of [1, 2, 3]) {
      const trials = optimize(new CmaEsSampler(), space, seed, 2000, value(rosenbrock(5)));
      expect(best(trials)).toBeLessThan(1e-4);
    }
  });

  it("optimises integers and steps with a margin that keeps them moving", () => {
    const space = compileSpace({
      parameters: [int("a", -20, 20), int("b", -20, 20), int("c", 1, 1000, { log: true }), float("s", 0, 1, { step: 0.1 }), float("x", -1, 1)],
    });
    const f = (p: FlatParams): number =>
      ((p.a as number) - 3) ** 2 + ((p.b as number) + 7) ** 2 + Math.log((p.c as number) / 50) ** 2 + ((p.s as number) - 0.3) ** 2 + (p.x as number) ** 2;
    for (const seed of [1, 2]) {
      const sampler = new CmaEsSampler();
      const trials = optimize(sampler, space, seed, 600, value(f));
      const top = [...trials].sort((u, v) => (u.values?.[0] ?? Infinity) - (v.values?.[0] ?? Infinity))[0] as TrialView;
      expect(top.flat).toMatchObject({ a: 3, b: -7, c: 50, s: 0.3 });
      expect(Math.abs(top.flat.x as number)).toBeLessThan(0.05);
      // Margin: each discrete coordinate keeps a marginal sd of at least
      // marginSd times its cell width, so it cannot freeze.
      const st = sampler.state({ space, seed, trialId: trials.length, trials, directions: ["minimize"] });
      const n = st.p.n;
      for (const g of genomeOf(space).numeric.filter((x) => x.discrete)) {
        const i = g.coord;
        const sd = st.sigma * (st.A[i] as number) * Math.sqrt(st.C[i * n + i] as number);
        expect(sd).toBeGreaterThanOrEqual(st.p.marginSd * cellWidth(st.mean[i] as number, g.domain) * (1 - 1e-9));
      }
      expect(Array.from(st.A).some((a) => a > 1)).toBe(true);
    }
  });

  it("learns categorical parameters from the elite", () => {
    const space = compileSpace({ parameters: [cat("opt", ["sgd", "adam", "rmsprop", "lion"]), float("x", 0, 1)] });
    const f = (p: FlatParams): number => ((p.x as number) - 0.3) ** 2 + (p.opt === "rmsprop" ? 0 : 0.5);
    const trials = optimize(new CmaEsSampler(), space, 3, 300, value(f));
    const last = trials.slice(200);
    expect(last.filter((t) => t.flat.opt === "rmsprop").length / last.length).toBeGreaterThan(0.6);
    // The floor keeps every choice possible.
    expect(trials.slice(0, 50).filter((t) => t.flat.opt !== "rmsprop").length).toBeGreaterThan(10);
  });

  it("moves away from where trials fail", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1), float("y", 0, 1)] });
    const f = (p: FlatParams): Outcome =>
      (p.x as number) > 0.7 ? "fail" : { values: [((p.x as number) - 0.6) ** 2 + ((p.y as number) - 0.4) ** 2] };
    for (const seed of [1, 2, 3, 4, 5]) {
      const trials = optimize(new CmaEsSampler(), space, seed, 100, f);
      const inRegion = trials.slice(50).filter((t) => (t.flat.x as number) > 0.7).length / 50;
      expect(inRegion).toBeLessThan(0.15);
    }
  });

  it("gives parallel workers distinct points and never waits for a running generation", () => {
    const space = cube(3, 0, 1);
    const sampler = new CmaEsSampler();
    const trials: TrialView[] = [];
    for (let t = 0; t < 8; t++) {
      const r = sampler.sample({ space, seed: 9, trialId: t, trials, directions: ["minimize"] });
      if (r.kind !== "params") throw new Error(r.kind);
      trials.push(trial(t, r.flat, "RUNNING"));
    }
    expect(new Set(trials.map((t) => JSON.stringify(t.flat))).size).toBe(8);
    // lambda = 7: generation 0 is trials 0..6. Trial 3 never finishes; the
    // others do, and 30 more suggestions are still served (from generation 0).
    const lambda = defaultLambda(genomeOf(space));
    expect(lambda).toBe(7);
    const f = sphere(3);
    for (let i = 0; i < trials.length; i++) if (i !== 3) trials[i] = { ...(trials[i] as TrialView), state: "COMPLETE", values: [f((trials[i] as TrialView).flat)] };
    for (let t = 8; t < 38; t++) {
      const ctx = { space, seed: 9, trialId: t, trials, directions: ["minimize"] as Direction[] };
      expect(sampler.state(ctx).gen).toBe(0);
      const r = sampler.sample(ctx);
      if (r.kind !== "params") throw new Error(r.kind);
      trials.push({ id: t, state: "COMPLETE", flat: r.flat, values: [f(r.flat)] });
    }
    expect(new Set(trials.map((t) => JSON.stringify(t.flat))).size).toBe(38);
    // Once trial 3 finishes, the filled blocks close at once.
    trials[3] = { ...(trials[3] as TrialView), state: "FAILED" };
    const st = sampler.state({ space, seed: 9, trialId: 38, trials, directions: ["minimize"] });
    expect(st.gen).toBe(Math.floor(38 / lambda));
    expect(allFinite(st.mean) && allFinite(st.C) && Number.isFinite(st.sigma)).toBe(true);
  });

  it("is deterministic under a seed, with or without its memo", () => {
    const space = nestedSpace();
    const f = (p: FlatParams): number => (p.dropout as number) + (p.model === "mlp" ? (p.layers as number) : 1);
    const a = optimize(new CmaEsSampler(), space, 11, 120, value(f));
    const b = optimize(new CmaEsSampler(), space, 11, 120, value(f));
    expect(b.map((t) => t.flat)).toEqual(a.map((t) => t.flat));
    const c = optimize(new CmaEsSampler(), space, 12, 120, value(f));
    expect(c.map((t) => t.flat)).not.toEqual(a.map((t) => t.flat));
    // A fresh sampler (no memo) given the history suggests what the warm one
    // does, and copies of the views give the same suggestions as the originals.
    const space4 = cube(4, -1, 1);
    const warm2 = new CmaEsSampler();
    const h2 = optimize(warm2, space4, 5, 200, value(sphere(4)));
    for (const upTo of [37, 120, 199]) {
      const ctx = { space: space4, seed: 5, trialId: upTo, trials: h2.slice(0, upTo), directions: ["minimize"] as Direction[] };
      expect(warm2.sample(ctx)).toEqual(new CmaEsSampler().sample(ctx));
      expect(warm2.sample({ ...ctx, trials: ctx.trials.map((t) => ({ ...t })) })).toEqual(warm2.sample(ctx));
    }
  });

  it("keeps every proposal legal on the edge spaces, in sequence and in parallel", () => {
    const spaces = [edgeSpace(), nestedSpace(), scheduleSpace()];
    spaces.forEach((space, k) => {
      const genome = genomeOf(space);
      const f = (p: FlatParams): Outcome => {
        let s = 0;
        for (const g of genome.numeric) {
          const v = p[g.dim.name];
          if (typeof v === "number") s += (v - g.domain.low) / (g.domain.high - g.domain.low || 1);
        }
        return s > genome.numeric.length * 0.6 ? "fail" : { values: [s] };
      };
      const trials = optimize(new CmaEsSampler(), space, k, 300, f);
      for (const t of trials) expectValid(space, t.flat);
      const sampler = new CmaEsSampler();
      const running: TrialView[] = [];
      for (let t = 0; t < 20; t++) {
        const r = sampler.sample({ space, seed: k, trialId: t, trials: running, directions: ["minimize"] });
        if (r.kind !== "params") throw new Error(r.kind);
        expectValid(space, r.flat);
        running.push(trial(t, r.flat));
      }
    });
  });

  it("stays legal and finite on degenerate inputs", () => {
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
      const sampler = new CmaEsSampler();
      const trials = optimize(sampler, sp, 4, 150, f);
      for (const t of trials) expectValid(sp, t.flat);
      const st = sampler.state({ space: sp, seed: 4, trialId: 150, trials, directions: ["minimize"] });
      expect(allFinite(st.mean) && allFinite(st.C) && allFinite(st.A) && Number.isFinite(st.sigma)).toBe(true);
    }
    expect(optimize(new CmaEsSampler(), fixed, 1, 3, () => ({ values: [0] })).map((t) => t.flat)).toEqual(
      Array.from({ length: 3 }, () => ({ z: 0.5, only: "one", i: 3 })),
    );
  });

  it("restarts with a doubled population (IPOP) when the fitness is flat", () => {
    const space = cube(2, 0, 1);
    const sampler = new CmaEsSampler();
    const trials = optimize(sampler, space, 2, 400, () => ({ values: [7] }));
    const st = sampler.state({ space, seed: 2, trialId: 400, trials, directions: ["minimize"] });
    expect(st.run).toBeGreaterThan(3);
    expect(st.stopReason).toBe("flat fitness");
    expect(st.p.lambda).toBe(defaultLambda(genomeOf(space)) * 2 ** Math.min(st.run, MAX_DOUBLINGS));
  });

  it("takes enqueued trials and maximisation in its stride", () => {
    const space = cube(3, -2, 2);
    // Ten user-given points open the study: they join generation 0 (and 1) as injected solutions.
    const trials = Array.from({ length: 10 }, (_, id): TrialView => {
      const r = new RandomSampler().sample({ space, seed: 1, trialId: id, trials: [], directions: ["maximize"] });
      const flat = r.kind === "params" ? r.flat : {};
      return { id, state: "COMPLETE", flat, values: [-sphere(3)(flat)] };
    });
    const out = optimize(new CmaEsSampler(), space, 1, 400, (p) => ({ values: [-sphere(3)(p)] }), ["maximize"], trials);
    expect(Math.max(...out.map((t) => t.values?.[0] ?? -Infinity))).toBeGreaterThan(-1e-3);
  });
});
