import { describe, expect, it } from "vitest";
import type { Direction } from "../../../server/core/model.js";
import { createSampler, DEFAULT_TPE_SETTINGS, TpeSampler } from "../../../server/core/samplers/index.js";
import type { SampleContext, TrialView } from "../../../server/core/samplers/sampler.js";
import { defaultGamma, defaultWeights, ParzenEstimator, type TpeSettings } from "../../../server/core/samplers/tpe.js";
import { erfc, logGaussMass, logNdtr } from "../../../server/core/samplers/tpe/gauss.js";
import { spaceModel } from "../../../server/core/samplers/tpe/space-model.js";
import { splitTrials } from "../../../server/core/samplers/tpe/split.js";
import { compileSpace, type CompiledSpace, type FlatParams } from "../../../server/core/space.js";
import { cat, edgeSpace, expectValid, float, int, nestedSpace, observe, scheduleSpace, when } from "./fixtures.js";

const square = compileSpace({ parameters: [float("x", 0, 1), float("y", 0, 1)] });

function ctx(space: CompiledSpace, seed: number, trialId: number, trials: readonly TrialView[], directions: Direction[] = ["minimize"]): SampleContext {
  return { space, seed, trialId, trials, directions };
}

function params(sampler: TpeSampler, c: SampleContext): FlatParams {
  const r = sampler.sample(c);
  if (r.kind !== "params") throw new Error(`sampler answered ${r.kind}`);
  return r.flat;
}

const complete = (id: number, flat: FlatParams, value: number): TrialView => ({ id, state: "COMPLETE", flat, values: [value] });

/** Sequential loop: sample, evaluate (undefined = the trial fails), append. */
function optimise(
  sampler: TpeSampler,
  space: CompiledSpace,
  seed: number,
  n: number,
  f: (p: FlatParams) => number | undefined,
  check?: (p: FlatParams) => void,
): { trials: TrialView[]; points: FlatParams[] } {
  const trials: TrialView[] = [];
  const points: FlatParams[] = [];
  for (let id = 0; id < n; id++) {
    const p = params(sampler, ctx(space, seed, id, trials));
    check?.(p);
    points.push(p);
    const v = f(p);
    trials.push(v === undefined || !Number.isFinite(v) ? { id, state: "FAILED", flat: p, values: [Number.NaN] } : complete(id, p, v));
  }
  return { trials, points };
}

const num = (p: FlatParams, k: string): number => p[k] as number;
const bowl = (p: FlatParams): number => (num(p, "x") - 0.3) ** 2 + (num(p, "y") - 0.6) ** 2;

describe.each([
  ["independent", false],
  ["multivariate", true],
])("TpeSampler (%s)", (_label, multivariate) => {
  const make = (extra: Partial<TpeSettings> = {}): TpeSampler => new TpeSampler({ multivariate, ...extra });

  it("is deterministic in (seed, trial id, trials), whatever the call order or instance", () => {
    const { trials } = optimise(make(), square, 7, 30, bowl);
    const a = make();
    const first = [30, 31, 32].map((id) => params(a, ctx(square, 7, id, trials)));
    const b = make();
    const reversed = [32, 31, 30].map((id) => params(b, ctx(square, 7, id, [...trials]))).reverse();
    expect(reversed).toEqual(first);
    expect(params(a, ctx(square, 7, 30, trials))).toEqual(first[0]);
    // Another seed or trial id gives another point.
    expect(params(a, ctx(square, 8, 30, trials))).not.toEqual(first[0]);
    expect(first[1]).not.toEqual(first[0]);
  });

  it("uses the start-up sampler for the first nStartupTrials (6) informative trials, then the model", () => {
    const n = DEFAULT_TPE_SETTINGS.nStartupTrials;
    expect(n).toBe(6);
    const s = make();
    const { points, trials } = optimise(s, square, 3, n, bowl);
    const q = createSampler({ name: "quasi_random", seed: 3 }, square).sampler;
    points.forEach((p, id) => expect(q.sample(ctx(square, 3, id, []))).toEqual({ kind: "params", flat: p }));
    // RUNNING trials do not count as information.
    const running = trials.slice(0, n - 1).concat([{ id: n - 1, state: "RUNNING", flat: points[n - 1] }]);
    expect(s.sample(ctx(square, 3, n, running))).toEqual(q.sample(ctx(square, 3, n, [])));
    expect(s.sample(ctx(square, 3, n, trials))).not.toEqual(q.sample(ctx(square, 3, n, [])));
  });

  it("concentrates on the bowl's minimum after the start-up points", () => {
    for (const seed of [11, 12, 13]) {
      const { trials, points } = optimise(make(), square, seed, 60, bowl);
      const best = Math.min(...trials.map((t) => t.values?.[0] ?? Number.POSITIVE_INFINITY));
      expect(best).toBeLessThan(0.005);
      const meanDist = (ps: FlatParams[]): number => ps.reduce((s, p) => s + Math.sqrt(bowl(p)), 0) / ps.length;
      expect(meanDist(points.slice(30))).toBeLessThan(0.5 * meanDist(points.slice(0, 10)));
    }
  });

  it("proposes only legal values: steps, logs, ints, categoricals, fixed and conditional dimensions", () => {
    for (const space of [edgeSpace(), nestedSpace(), scheduleSpace()]) {
      const score = (p: FlatParams): number =>
        Object.values(p).reduce<number>((s, v) => s + (typeof v === "number" ? Math.abs(Math.log1p(Math.abs(v))) : String(v).length), 0);
      optimise(make(), space, 5, 40, score, (p) => expectValid(space, p));
    }
  });

  it("keeps stepped and log values on their grid and inside the bounds", () => {
    const space = compileSpace({
      parameters: [int("i", 2, 29, { step: 3 }), float("f", -1, 2, { step: 0.25 }), float("lr", 1e-5, 1, { log: true }), int("u", 1, 1000, { log: true })],
    });
    const target = (p: FlatParams): number =>
      (num(p, "i") - 20) ** 2 + (num(p, "f") - 1.25) ** 2 + Math.log10(num(p, "lr") / 1e-3) ** 2 + Math.log10(num(p, "u") / 30) ** 2;
    const { points } = optimise(make(), space, 9, 80, target, (p) => expectValid(space, p));
    const late = points.slice(40);
    // The model concentrates near the optimum's grid values (uniform draws
    // would put 3/10 of i and 3/13 of f there).
    expect(late.filter((p) => Math.abs(num(p, "i") - 20) <= 3).length / late.length).toBeGreaterThan(0.45);
    expect(late.filter((p) => Math.abs(num(p, "f") - 1.25) <= 0.25).length / late.length).toBeGreaterThan(0.35);
  });

  it("learns a categorical choice and models conditional dimensions only where active", () => {
    const space = compileSpace({
      parameters: [
        cat("model", ["linear", "mlp", "tree"]),
        when(float("l2", 1e-6, 1e-1, { log: true }), "model", ["linear"]),
        when(int("layers", 1, 8), "model", ["mlp"]),
        float("dropout", 0, 0.5),
      ],
    });
    const f = (p: FlatParams): number =>
      p.model === "mlp" ? (num(p, "layers") - 6) ** 2 / 10 + num(p, "dropout") : p.model === "linear" ? 1 + num(p, "dropout") : 2;
    const { points } = optimise(make(), space, 4, 80, f, (p) => expectValid(space, p));
    const late = points.slice(30);
    expect(late.filter((p) => p.model === "mlp").length / late.length).toBeGreaterThan(0.6);
    const layers = late.filter((p) => p.model === "mlp").map((p) => num(p, "layers"));
    expect(layers.filter((l) => Math.abs(l - 6) <= 1).length / layers.length).toBeGreaterThan(0.5);
  });

  it("spreads 8 back-to-back suggestions when the previous ones are RUNNING (constant liar)", () => {
    const spread = (liar: boolean, seed: number): { points: FlatParams[]; meanDist: number } => {
      const { trials } = optimise(make(), square, seed, 30, bowl);
      const s = make({ constantLiar: liar });
      const all = [...trials];
      const points: FlatParams[] = [];
      for (let k = 0; k < 8; k++) {
        const p = params(s, ctx(square, seed, 30 + k, all));
        points.push(p);
        all.push({ id: 30 + k, state: "RUNNING", flat: p });
      }
      let d = 0;
      let pairs = 0;
      for (let i = 0; i < 8; i++) {
        for (let j = i + 1; j < 8; j++) {
          d += Math.hypot(num(points[i], "x") - num(points[j], "x"), num(points[i], "y") - num(points[j], "y"));
          pairs++;
        }
      }
      return { points, meanDist: d / pairs };
    };
    let withLiar = 0;
    let without = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const a = spread(true, seed);
      expect(new Set(a.points.map((p) => JSON.stringify(p))).size).toBe(8);
      // Not collapsed onto one point: pairwise distances of a few percent of the square at least.
      expect(a.meanDist).toBeGreaterThan(0.02);
      withLiar += a.meanDist;
      without += spread(false, seed).meanDist;
    }
    expect(withLiar).toBeGreaterThan(without * 1.2);
  });

  it("steers away from a region where trials fail, unlike a variant that ignores failures", () => {
    // x > 0.7 always fails (NaN); elsewhere a smooth bowl whose minimum is
    // 0.15 from the failing region's edge, so l(x)'s kernels reach over it.
    const f = (p: FlatParams): number | undefined => (num(p, "x") > 0.7 ? Number.NaN : (num(p, "x") - 0.55) ** 2 + (num(p, "y") - 0.5) ** 2);
    const failShare = (failedTrials: "bad" | "ignore", failureModel = true): number => {
      let fails = 0;
      let total = 0;
      for (let seed = 1; seed <= 5; seed++) {
        const { points } = optimise(make({ failedTrials, failureModel }), square, seed, 100, f);
        for (const p of points.slice(10)) {
          total++;
          if (num(p, "x") > 0.7) fails++;
        }
      }
      return fails / total;
    };
    const bad = failShare("bad");
    const badWithoutFailureModel = failShare("bad", false);
    const ignored = failShare("ignore");
    expect(bad).toBeLessThan(0.15);
    // Ignored failures leave g(x) empty over the failing region, so the prior
    // part of l(x) / g(x) keeps pulling proposals there.
    expect(ignored).toBeGreaterThan(0.5);
    // The bad group alone already helps; the failure model helps further.
    expect(badWithoutFailureModel).toBeLessThan(ignored / 2);
    expect(bad).toBeLessThanOrEqual(badWithoutFailureModel);
  });

  it("gives legal, NaN-free output on degenerate inputs", () => {
    const degenerate = compileSpace({
      parameters: [float("zero", 2, 2), cat("single", ["only"]), int("one", 3, 3), float("x", 0, 1), cat("c", ["a", "b"])],
    });
    const flat = (i: number): FlatParams => ({ zero: 2, single: "only", one: 3, x: (i % 7) / 7, c: i % 2 ? "a" : "b" });
    const cases: TrialView[][] = [
      // All failed.
      Array.from({ length: 20 }, (_, i) => ({ id: i, state: "FAILED", flat: flat(i) })),
      // Constant objective.
      Array.from({ length: 20 }, (_, i) => complete(i, flat(i), 1)),
      // NaN / infinite values, missing values, pruned without steps, NaN constraints, running, queued.
      Array.from({ length: 24 }, (_, i): TrialView => {
        const kinds: TrialView[] = [
          { id: i, state: "COMPLETE", flat: flat(i), values: [Number.NaN] },
          { id: i, state: "COMPLETE", flat: flat(i), values: [Number.POSITIVE_INFINITY] },
          { id: i, state: "COMPLETE", flat: flat(i) },
          { id: i, state: "PRUNED", flat: flat(i) },
          { id: i, state: "PRUNED", flat: flat(i), lastIntermediate: { step: 3, value: Number.NaN } },
          { id: i, state: "COMPLETE", flat: flat(i), values: [i], constraints: [Number.NaN] },
          { id: i, state: "RUNNING", flat: flat(i) },
          { id: i, state: "QUEUED", flat: flat(i) },
        ];
        return kinds[i % kinds.length];
      }),
      // Values outside the domain or of the wrong type are skipped, not trusted.
      Array.from({ length: 20 }, (_, i) => complete(i, { ...flat(i), x: i % 2 ? 5 : "bad", c: "zzz" }, i)),
    ];
    for (const trials of cases) {
      for (let id = 100; id < 110; id++) {
        const p = params(make(), ctx(degenerate, 1, id, trials));
        expectValid(degenerate, p);
        expect(Number.isNaN(p.x)).toBe(false);
      }
    }
    // A space with nothing to model.
    const fixedOnly = compileSpace({ parameters: [float("zero", 2, 2), cat("single", ["only"])] });
    const trials = Array.from({ length: 12 }, (_, i) => complete(i, { zero: 2, single: "only" }, i));
    expect(params(make(), ctx(fixedOnly, 1, 12, trials))).toEqual({ zero: 2, single: "only" });
  });

  it("handles several objectives and constraints", () => {
    const dirs: Direction[] = ["minimize", "maximize"];
    const trials: TrialView[] = [];
    const s = make();
    for (let id = 0; id < 40; id++) {
      const p = params(s, ctx(square, 2, id, trials, dirs));
      expectValid(square, p);
      const x = num(p, "x");
      const y = num(p, "y");
      trials.push({ id, state: "COMPLETE", flat: p, values: [x, 1 - (1 - x) ** 2 - y], constraints: [y - 0.8] });
    }
  });
});

describe("splitTrials", () => {
  const settings = { gamma: defaultGamma, constantLiar: true, failedTrials: "bad" as const };
  const t = (id: number, extra: Partial<TrialView>): TrialView => ({ id, state: "COMPLETE", flat: {}, ...extra });

  it("ranks COMPLETE by value, then PRUNED by (step desc, value); liars and failures only in the bad group", () => {
    const trials: TrialView[] = [
      t(0, { state: "PRUNED", lastIntermediate: { step: 5, value: 0.1 } }),
      t(1, { state: "PRUNED", lastIntermediate: { step: 9, value: 3 } }),
      t(2, { values: [4] }),
      t(3, { state: "RUNNING" }),
      t(4, { state: "FAILED" }),
      t(5, { values: [2] }),
      t(6, { state: "PRUNED" }),
    ];
    const split = (gamma: number): number[] => splitTrials(trials, ["minimize"], { ...settings, gamma: () => gamma }).below;
    expect(split(1)).toEqual([5]);
    expect(split(2)).toEqual([2, 5]);
    expect(split(3)).toEqual([1, 2, 5]);
    expect(split(4)).toEqual([0, 1, 2, 5]);
    expect(split(5)).toEqual([0, 1, 2, 5, 6]);
    // Never the running or failed trial, whatever gamma says.
    expect(split(99)).toEqual([0, 1, 2, 5, 6]);
    const all = splitTrials(trials, ["minimize"], settings);
    expect(all.above).toEqual([0, 1, 2, 3, 4, 6]);
    expect(all.informative).toBe(6);
    expect(splitTrials(trials, ["minimize"], { ...settings, failedTrials: "ignore", constantLiar: false }).above).toEqual([0, 1, 2, 6]);
    // Maximising flips the order.
    expect(splitTrials(trials, ["maximize"], { ...settings, gamma: () => 1 }).below).toEqual([2]);
  });

  it("ranks infeasible trials after feasible ones, by total violation", () => {
    const trials: TrialView[] = [
      t(0, { values: [0], constraints: [0.5, 0.5] }),
      t(1, { values: [9], constraints: [0, -1] }),
      t(2, { values: [1], constraints: [0.2, -3] }),
      t(3, { values: [5], constraints: [-1, 0] }),
    ];
    const below = (g: number): number[] => splitTrials(trials, ["minimize"], { ...settings, gamma: () => g }).below;
    expect(below(1)).toEqual([3]);
    expect(below(2)).toEqual([1, 3]);
    expect(below(3)).toEqual([1, 2, 3]);
  });

  it("selects by non-domination rank and crowding distance with several objectives", () => {
    // Front 1: ids 0..4 on a line; front 2: ids 5, 6; id 7 dominated by everything.
    const pts = [[0, 4], [1, 3], [2, 2], [3, 1], [4, 0], [2, 3], [3, 3], [9, 9]];
    const trials = pts.map((v, id) => t(id, { values: v }));
    const below = (g: number): number[] => splitTrials(trials, ["minimize", "minimize"], { ...settings, gamma: () => g }).below;
    expect(below(5)).toEqual([0, 1, 2, 3, 4]);
    expect(below(7)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Cut inside the first front: the extremes (infinite crowding) first.
    expect(below(2)).toEqual([0, 4]);
    expect(below(6)).toEqual([0, 1, 2, 3, 4, 5]);
    // Maximising the second objective turns the order of that axis around.
    // (0, 4) and (9, 9) are then the only non-dominated points.
    const flipped = (g: number): number[] => splitTrials(trials, ["minimize", "maximize"], { ...settings, gamma: () => g }).below;
    expect(flipped(2)).toEqual([0, 7]);
    expect(flipped(1)).toEqual([0]);
  });
});

describe("Parzen estimator", () => {
  // The textbook normalised mixture; bandwidth weighting is tested separately.
  const params1 = { multivariate: false, priorWeight: 1, considerMagicClip: true, considerEndpoints: false, weights: defaultWeights, bandwidthWeighted: false };

  it("matches hand-computed log densities (independent, continuous)", () => {
    // Observations 2, 5, 9 of x in [0, 10]: unit centres 0.2, 0.5, 0.9 and the
    // prior at 0.5. Sorted with the ends: 0, .2, .5(obs), .5(prior), .9, 1;
    // bandwidths = larger neighbour gap, the outermost their inner gap:
    // 0.3, 0.3, 0.4 (prior: 1), clip [1/5, 1] changes nothing; weights 1/4.
    // log p(u) = log sum_k 1/4 N(u; mu_k, s_k) / (Phi((1-mu_k)/s_k) - Phi(-mu_k/s_k)),
    // evaluated with 30-digit arithmetic.
    const space = compileSpace({ parameters: [float("x", 0, 10)] });
    const g = spaceModel(space).independent.get(0);
    if (!g) throw new Error("no group");
    const trials = [2, 5, 9].map((x, i) => complete(i, { x }, i));
    const est = new ParzenEstimator(g.dims, observe(g, trials, [0, 1, 2]), params1);
    expect(Array.from(est.weights)).toEqual([0.25, 0.25, 0.25, 0.25]);
    const lp = est.logPdf([{ kind: "continuous", u: Float64Array.of(0.4, 0.95) }], 2);
    expect(lp[0]).toBeCloseTo(0.1479755853043775, 6);
    expect(lp[1]).toBeCloseTo(-0.2279159025958748, 6);
    // Bandwidth-weighted (Optuna 3.1's evaluation): weights 1/4 * sigma_k,
    // renormalised: 0.15, 0.15, 0.2, 0.5; kernels drawn by the plain weights.
    const bw = new ParzenEstimator(g.dims, observe(g, trials, [0, 1, 2]), { ...params1, bandwidthWeighted: true });
    expect(Array.from(bw.weights)).toEqual([0.25, 0.25, 0.25, 0.25]);
    const lpw = bw.logPdf([{ kind: "continuous", u: Float64Array.of(0.4, 0.95) }], 2);
    expect(lpw[0]).toBeCloseTo(0.0929813030946487, 6);
    expect(lpw[1]).toBeCloseTo(-0.1147269105738389, 6);
  });

  it("matches hand-computed masses (independent, int cells)", () => {
    // x int in [0, 4]: unit range [-0.5, 4.5]; observations 1, 1, 3 -> 0.3,
    // 0.3, 0.7; prior 0.5. Gaps give 0, .2, .2, .2 (prior 1); the magic clip
    // lifts the 0 to 1/5. Value 2 owns the cell [0.4, 0.6], 4 owns [0.8, 1].
    const space = compileSpace({ parameters: [int("x", 0, 4)] });
    const g = spaceModel(space).independent.get(0);
    if (!g) throw new Error("no group");
    const trials = [1, 1, 3].map((x, i) => complete(i, { x }, i));
    const est = new ParzenEstimator(g.dims, observe(g, trials, [0, 1, 2]), params1);
    const lp = est.logPdf([{ kind: "discrete", lo: Float64Array.of(0.4, 0.8), hi: Float64Array.of(0.6, 1) }], 2);
    expect(lp[0]).toBeCloseTo(-1.40108298680161, 6);
    expect(lp[1]).toBeCloseTo(-2.15418586556026, 6);
  });

  it("matches hand-computed categorical probabilities", () => {
    // 3 observations (a, a, c) of 3 choices: 4 kernels, each row starts at
    // 1/4 per choice, +1 on the observed one, normalised by 1.75: observed
    // 5/7, others 1/7; prior 1/3. P(a) = (5/7 + 5/7 + 1/7 + 1/3) / 4 = 10/21,
    // P(b) = 4/21, P(c) = 7/21.
    const space = compileSpace({ parameters: [cat("c", ["a", "b", "c"])] });
    const g = spaceModel(space).independent.get(0);
    if (!g) throw new Error("no group");
    const trials = ["a", "a", "c"].map((c, i) => complete(i, { c }, i));
    const est = new ParzenEstimator(g.dims, observe(g, trials, [0, 1, 2]), params1);
    const lp = est.logPdf([{ kind: "categorical", index: Int32Array.of(0, 1, 2) }], 3);
    expect(Array.from(lp, Math.exp).map((p) => p * 21)).toEqual([expect.closeTo(10, 9), expect.closeTo(4, 9), expect.closeTo(7, 9)]);
  });

  it("matches a hand-computed joint density (multivariate, product kernels)", () => {
    // Observations (0.2, 0.8), (0.5, 0.5), (0.9, 0.1) in the unit square:
    // Scott's bandwidth 0.2 * 3^(-1/6) = 0.1665 is lifted to the clip 1/5;
    // prior (0.5, 0.5) with bandwidth 1; weights 1/4. Product of truncated
    // normals per kernel, evaluated at (0.4, 0.6) with 30-digit arithmetic.
    const g = spaceModel(square).joint.get(0);
    if (!g) throw new Error("no group");
    expect(g.dims.map((d) => d.dim.name)).toEqual(["x", "y"]);
    const trials = [
      [0.2, 0.8],
      [0.5, 0.5],
      [0.9, 0.1],
    ].map(([x, y], i) => complete(i, { x, y }, i));
    const est = new ParzenEstimator(g.dims, observe(g, trials, [0, 1, 2]), { ...params1, multivariate: true });
    const lp = est.logPdf([{ kind: "continuous", u: Float64Array.of(0.4) }, { kind: "continuous", u: Float64Array.of(0.6) }], 1);
    expect(lp[0]).toBeCloseTo(0.459929421496813, 6);
    // Bandwidth-weighted: kernel weights 1/4 * 0.2 * 0.2 (prior 1/4 * 1 * 1), renormalised.
    const bw = new ParzenEstimator(g.dims, observe(g, trials, [0, 1, 2]), { ...params1, multivariate: true, bandwidthWeighted: true });
    const lpw = bw.logPdf([{ kind: "continuous", u: Float64Array.of(0.4) }, { kind: "continuous", u: Float64Array.of(0.6) }], 1);
    expect(lpw[0]).toBeCloseTo(0.137474604965704, 6);
  });

  it("follows Optuna's default gamma and weights", () => {
    expect([1, 10, 11, 100, 250, 251, 1000].map(defaultGamma)).toEqual([1, 1, 2, 10, 25, 25, 25]);
    expect(Array.from(defaultWeights(3))).toEqual([1, 1, 1]);
    const w = defaultWeights(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBeCloseTo(1, 12);
    expect(Array.from(w.subarray(5))).toEqual(new Array(25).fill(1));
  });

  it("computes normal tails accurately in log space", () => {
    expect(erfc(0)).toBeCloseTo(1, 6);
    expect(erfc(1) / 0.157299207050285).toBeCloseTo(1, 6);
    expect(erfc(-1) / 1.842700792949715).toBeCloseTo(1, 6);
    expect(logNdtr(-40) / -804.6084420137538).toBeCloseTo(1, 6);
    expect(logNdtr(3)).toBeCloseTo(-0.0013508099647481938, 8);
    // log(Phi(b) - Phi(a)) for central, tail and narrow intervals.
    expect(logGaussMass(-1, 2)).toBeCloseTo(-0.2001662943244626, 6);
    expect(logGaussMass(-40, -39) / -765.0831565643775).toBeCloseTo(1, 6);
    expect(logGaussMass(5, 5.005)).toBeCloseTo(-18.729733998861747, 6);
    expect(logGaussMass(3, 3.02)).toBeCloseTo(-9.360877210094918, 6);
    expect(logGaussMass(1, 1)).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isFinite(logGaussMass(30, 31))).toBe(true);
  });
});

describe("createSampler and TPE", () => {
  it("registers tpe, tpe_independent and tpe_multivariate", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1)] });
    for (const name of ["tpe", "tpe_independent", "tpe_multivariate", " TPE "]) {
      const { sampler, resolved } = createSampler({ name, seed: 1 }, space);
      expect(sampler).toBeInstanceOf(TpeSampler);
      expect(resolved).toBe(name.trim().toLowerCase());
      expect(sampler.name).toBe(resolved);
    }
    const ind = createSampler({ name: "tpe_independent", seed: 1 }, space).sampler as TpeSampler;
    const mv = createSampler({ name: "tpe_multivariate", seed: 1 }, space).sampler as TpeSampler;
    expect(ind.settings.multivariate).toBe(false);
    expect(mv.settings.multivariate).toBe(true);
  });
});
