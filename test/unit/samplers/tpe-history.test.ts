import { describe, expect, it } from "vitest";
import type { Direction, TrialState } from "../../../server/core/model.js";
import { createRng } from "../../../server/core/rng.js";
import { fromUnit } from "../../../server/core/samplers/domain-map.js";
import type { TrialView } from "../../../server/core/samplers/sampler.js";
import { defaultGamma, defaultWeights, ParzenEstimator, TpeSampler } from "../../../server/core/samplers/tpe.js";
import { TpeHistory, type IndexSource } from "../../../server/core/samplers/tpe/history.js";
import { DEFAULT_TPE_SETTINGS } from "../../../server/core/samplers/tpe/settings.js";
import { spaceModel, type Group } from "../../../server/core/samplers/tpe/space-model.js";
import { splitTrials } from "../../../server/core/samplers/tpe/split.js";
import { compileSpace, type CompiledSpace, type FlatParams } from "../../../server/core/space.js";
import { float, int, nestedSpace, observe } from "./fixtures.js";

const all = (src: IndexSource): number[] => Array.from({ length: src.n }, (_, p) => src.at(p));

/** A random legal point of the space (inactive dimensions left out). */
function randomPoint(space: CompiledSpace, u: () => number): FlatParams {
  const flat: FlatParams = {};
  for (const dim of space.dims) if (space.isActive(dim, flat)) flat[dim.name] = fromUnit(u(), dim.domain);
  return flat;
}

const STATES: TrialState[] = ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED", "FAILED", "RUNNING", "QUEUED"];

function randomView(space: CompiledSpace, id: number, u: () => number, nObj: number): TrialView {
  const state = STATES[Math.floor(u() * STATES.length)];
  const flat = randomPoint(space, u);
  const v: TrialView = { id, state, flat };
  if (state === "COMPLETE") {
    v.values = Array.from({ length: nObj }, () => (u() < 0.05 ? Number.NaN : Math.round(u() * 20)));
    if (u() < 0.2) v.constraints = [u() - 0.5];
  }
  if (state === "PRUNED" && u() < 0.8) v.lastIntermediate = { step: Math.floor(u() * 3), value: Math.round(u() * 10) };
  return v;
}

describe("TpeHistory", () => {
  const settings = { gamma: defaultGamma, constantLiar: true, failedTrials: "bad" as const };

  it.each([
    ["one objective", ["minimize"] as Direction[]],
    ["two objectives", ["minimize", "maximize"] as Direction[]],
  ])("keeps the same groups as a from-scratch split while trials are added, changed and dropped (%s)", (_l, directions) => {
    const space = nestedSpace();
    const model = spaceModel(space);
    const groups = new Set<Group>([...model.independent.values(), ...model.joint.values()]);
    const rng = createRng(5, 0, 1);
    const u = (): number => rng.next();
    const h = new TpeHistory(space, directions, settings);
    let trials: TrialView[] = [];
    for (let step = 0; step < 120; step++) {
      // Append a few, change a few (new view objects), sometimes a pending tail that disappears again.
      const r = u();
      if (r < 0.6) trials.push(randomView(space, trials.length, u, directions.length));
      else if (r < 0.9 && trials.length > 0) {
        const i = Math.floor(u() * trials.length);
        trials[i] = randomView(space, i, u, directions.length);
      } else if (r < 0.95) trials = [...trials, randomView(space, trials.length, u, directions.length)];
      else trials = trials.slice(0, Math.max(0, trials.length - 2));
      if (step === 80) trials = trials.map((t) => ({ ...t }));
      h.update(trials);
      for (const skipId of [trials.length, Math.floor(u() * Math.max(1, trials.length))]) {
        const want = splitTrials(trials, directions, settings, skipId);
        const got = h.split(trials, skipId);
        expect(got.below).toEqual(want.below);
        expect(got.informative).toBe(want.informative);
        expect(got.anyFailed).toBe(want.failed.length > 0);
        for (const g of groups) {
          const same = (src: IndexSource, indices: number[]): void => {
            const ref = observe(g, trials, indices);
            const idx = all(src);
            expect(idx.length).toBe(ref.n);
            expect(src.all()).toEqual(idx);
            const mine = h.gather(g, src, defaultWeights, 1000, u).obs;
            expect(mine.cols).toEqual(ref.cols);
          };
          same(h.belowSource(g, got), want.below);
          same(h.aboveSource(g, got), want.above);
          same(h.succeededSource(g, got), want.succeeded);
          same(h.failedSource(g, got), want.failed);
        }
      }
    }
  });

  it("gives the decisions of a fresh sampler, whatever it has seen before", () => {
    const space = compileSpace({ parameters: [float("x", 0, 1), int("n", 1, 5), float("lr", 1e-4, 1, { log: true })] });
    const rng = createRng(9, 0, 2);
    const u = (): number => rng.next();
    const trials: TrialView[] = [];
    const kept = new TpeSampler();
    for (let id = 0; id < 60; id++) {
      const c = { space, seed: 3, trialId: id, trials, directions: ["minimize"] as Direction[] };
      const a = kept.sample(c);
      expect(new TpeSampler().sample({ ...c, trials: [...trials] })).toEqual(a);
      if (a.kind !== "params") throw new Error(a.kind);
      const state = u() < 0.1 ? "FAILED" : "COMPLETE";
      trials.push({ id, state, flat: a.flat, ...(state === "COMPLETE" ? { values: [u()] } : {}) });
      // An earlier RUNNING trial completes: a new view at an old index.
      if (id % 7 === 3) trials[id - 2] = { ...trials[id - 2], values: [u()], state: "COMPLETE" };
    }
  });
});

describe("TPE kernel cap", () => {
  const space = compileSpace({ parameters: [float("x", 0, 1), float("y", -5, 5)] });
  const g = spaceModel(space).independent.get(0) as Group;

  function history(n: number): { h: TpeHistory; trials: TrialView[] } {
    const rng = createRng(11, 0, 3);
    const trials: TrialView[] = [];
    for (let id = 0; id < n; id++) {
      const x = rng.next() ** 2; // denser near 0
      trials.push({ id, state: "COMPLETE", flat: { x, y: 10 * rng.next() - 5 }, values: [x + rng.next()] });
    }
    const h = new TpeHistory(space, ["minimize"], DEFAULT_TPE_SETTINGS);
    h.update(trials);
    return { h, trials };
  }

  it("does not kick in up to the cap: all observations, the weight function's own weights", () => {
    const { h, trials } = history(1000);
    const split = h.split(trials, 1000);
    const got = h.gather(g, h.aboveSource(g, split), defaultWeights, DEFAULT_TPE_SETTINGS.maxKernels, () => 0.5);
    expect(got.total).toBe(975);
    expect(got.obs.n).toBe(975);
    expect(got.weights).toBeUndefined();
  });

  it("fits at most maxKernels kernels to a 20,000-trial history, keeping the total weight and the recent half", () => {
    const { h, trials } = history(20_000);
    const split = h.split(trials, 20_000);
    const cap = DEFAULT_TPE_SETTINGS.maxKernels;
    const src = h.aboveSource(g, split);
    expect(src.n).toBe(20_000 - 25);
    const got = h.gather(g, src, defaultWeights, cap, () => 0.37);
    expect(got.total).toBe(src.n);
    expect(got.obs.n).toBeLessThanOrEqual(cap);
    expect(got.obs.n).toBeGreaterThan(cap * 0.9);
    const w = got.weights as Float64Array;
    expect(w.length).toBe(got.obs.n);
    const full = defaultWeights(src.n).reduce((a, b) => a + b, 0);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(full, 6);
    // The most recent cap/2 observations are there, in order, with their own weights.
    const recent = all(src).slice(-cap / 2);
    const xs = got.obs.cols[0];
    for (let k = 0; k < recent.length; k++) expect(xs[xs.length - recent.length + k]).toBe(trials[recent[k]].flat.x as number);
    expect(w[w.length - 1]).toBe(1);
    // The estimator built on it has cap + 1 kernels (prior included), not 20,000.
    const est = new ParzenEstimator(g.dims, got.obs, { ...paramsOf(), multivariate: false }, got.weights);
    expect(est.k).toBe(got.obs.n + 1);
    // And it estimates the same density as the full mixture: an unbiased subsample, so log densities on a
    // grid differ by sampling noise only (1,000 kernels of bandwidth range/100: about 0.2 rms, more where the data are sparse).
    const fullObs = observe(g, trials, all(src));
    const fullEst = new ParzenEstimator(g.dims, fullObs, paramsOf());
    const grid = Float64Array.from({ length: 41 }, (_, i) => (i + 0.5) / 41.5);
    const a = est.logPdf([{ kind: "continuous", u: grid }], grid.length);
    const b = fullEst.logPdf([{ kind: "continuous", u: grid }], grid.length);
    let sq = 0;
    for (let i = 0; i < grid.length; i++) {
      expect(Math.abs(a[i] - b[i])).toBeLessThan(1);
      sq += (a[i] - b[i]) ** 2;
    }
    expect(Math.sqrt(sq / grid.length)).toBeLessThan(0.3);
  });

  it("keeps a 20,000-trial suggestion deterministic and legal, with failures and running trials", () => {
    const { trials } = history(20_000);
    // Failures (the failure model fits capped estimators to 19,000 succeeded trials) and pending work.
    for (let id = 0; id < 20_000; id += 20) trials[id] = { id, state: "FAILED", flat: trials[id].flat };
    for (let id = 19_990; id < 20_000; id++) trials[id] = { id, state: "RUNNING", flat: trials[id].flat };
    const c = { space, seed: 4, trialId: 20_000, trials, directions: ["minimize"] as Direction[] };
    const a = new TpeSampler().sample(c);
    expect(new TpeSampler().sample({ ...c, trials: [...trials] })).toEqual(a);
    if (a.kind !== "params") throw new Error(a.kind);
    expect(a.flat.x).toBeGreaterThanOrEqual(0);
    expect(a.flat.x).toBeLessThanOrEqual(1);
  });
});

function paramsOf(): { multivariate: boolean; priorWeight: number; considerMagicClip: boolean; considerEndpoints: boolean; weights: (n: number) => Float64Array; bandwidthWeighted: boolean } {
  const s = DEFAULT_TPE_SETTINGS;
  return { multivariate: false, priorWeight: s.priorWeight, considerMagicClip: s.considerMagicClip, considerEndpoints: s.considerEndpoints, weights: s.weights, bandwidthWeighted: true };
}
