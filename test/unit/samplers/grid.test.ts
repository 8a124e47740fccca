import { describe, expect, it } from "vitest";
import { HpodError } from "../../../server/core/errors.js";
import type { GridAxisDef, TrialState } from "../../../server/core/model.js";
import { GridSampler, MAX_GRID_POINTS } from "../../../server/core/samplers/grid.js";
import type { TrialView } from "../../../server/core/samplers/sampler.js";
import { CompiledSpace, compileSpace, type FlatParams, type ScalarValue } from "../../../server/core/space.js";
import { cat, context, expectValid, float, int, problems, scheduleSpace, trial, when } from "./fixtures.js";

const FIELDS = { algorithm: "study.spec.algorithm", space: "study.spec.search_space" };

const axis = (parameter: string, opts: { values?: ScalarValue[]; numPoints?: number }): GridAxisDef => ({
  parameter,
  values: opts.values ?? [],
  numPoints: opts.numPoints ?? 0,
});

/** 45 points: (3 sgd + 2 adam) x (1 + 2 x 2 + 2 x 2 layer branches, dropout only under width 64). */
function conditionalGrid(): { space: CompiledSpace; axes: GridAxisDef[] } {
  const space = compileSpace({
    parameters: [
      cat("optimizer", ["sgd", "adam"]),
      when(float("momentum", 0, 1, { step: 0.5 }), "optimizer", ["sgd"]),
      when(cat("beta1", [0.9, 0.95]), "optimizer", ["adam"]),
      int("layers", 1, 3),
      when(int("width", 32, 64, { step: 32 }), "layers", [2, 3]),
      when(float("dropout", 0, 0.5), "width", [64]),
    ],
  });
  return { space, axes: [axis("dropout", { numPoints: 3 })] };
}

/** Independent count: every combination of every dimension's values, inactive ones dropped, de-duplicated. */
function bruteForce(space: CompiledSpace, values: Map<string, ScalarValue[]>): Set<string> {
  const keys = new Set<string>();
  const walk = (i: number, flat: FlatParams): void => {
    if (i === space.dims.length) {
      const active: FlatParams = {};
      for (const dim of space.dims) if (space.isActive(dim, active)) active[dim.name] = flat[dim.name];
      keys.add(CompiledSpace.key(active));
      return;
    }
    const dim = space.dims[i];
    for (const v of values.get(dim.name) ?? []) walk(i + 1, { ...flat, [dim.name]: v });
  };
  walk(0, {});
  return keys;
}

/** Calls sample() as the engine would: each returned point becomes a trial in `state`. */
function run(sampler: GridSampler, space: CompiledSpace, trials: TrialView[], calls: number, state: TrialState, seed = 1): FlatParams[] {
  const got: FlatParams[] = [];
  for (let i = 0; i < calls; i++) {
    const r = sampler.sample(context(space, seed, trials.length, trials));
    if (r.kind !== "params") break;
    got.push(r.flat);
    trials.push(trial(trials.length, r.flat, state));
  }
  return got;
}

function catchError(f: () => unknown): HpodError {
  try {
    f();
  } catch (e) {
    if (e instanceof HpodError) return e;
    throw e;
  }
  throw new Error("expected an HpodError");
}

describe("GridSampler enumeration", () => {
  it("holds exactly the complete assignments of active dimensions in a conditional space", () => {
    const { space, axes } = conditionalGrid();
    const g = new GridSampler(space, axes, FIELDS);
    expect(g.size).toBe(45);
    const points = [...g.enumerate()];
    for (const p of points) expectValid(space, p);
    const keys = new Set(points.map((p) => CompiledSpace.key(p)));
    expect(keys.size).toBe(45);
    const values = new Map<string, ScalarValue[]>([
      ["optimizer", ["sgd", "adam"]],
      ["momentum", [0, 0.5, 1]],
      ["beta1", [0.9, 0.95]],
      ["layers", [1, 2, 3]],
      ["width", [32, 64]],
      ["dropout", [0, 0.25, 0.5]],
    ]);
    expect(keys).toEqual(bruteForce(space, values));
  });

  it("treats schedule dimensions as ordinary conditional dimensions", () => {
    const space = scheduleSpace();
    const g = new GridSampler(
      space,
      [axis("lr", { values: [1e-3, 1e-2] }), axis("sched/cosine_annealing/eta_min", { numPoints: 2 })],
      FIELDS,
    );
    // warm-up (11) under every kind: constant 1, step 10 x 9, cosine 10 x 2; times 2 learning rates.
    expect(g.size).toBe(2 * 11 * (1 + 90 + 20));
    const points = [...g.enumerate()];
    expect(points.every((p) => problems(space, p).length === 0)).toBe(true);
    expect(new Set(points.map((p) => CompiledSpace.key(p))).size).toBe(g.size);
  });

  it("counts schedules equal after assembly (sorted milestones) as one point", () => {
    const space = compileSpace({
      parameters: [
        {
          name: "sched",
          domain: {
            type: "lr_schedule",
            totalSteps: 1000,
            options: [
              { kind: "multi_step", hyperparameters: [int("milestone1", 100, 300, { step: 100 }), int("milestone2", 100, 300, { step: 100 })] },
            ],
          },
        },
      ],
    });
    const g = new GridSampler(space, [], FIELDS);
    expect(g.size).toBe(9);
    // As the engine does: a trial shows the flattening of its assembled parameters.
    const trials: TrialView[] = [];
    for (let i = 0; i < 20; i++) {
      const r = g.sample(context(space, 1, trials.length, trials));
      if (r.kind !== "params") break;
      trials.push(trial(trials.length, space.flatten(space.assemble(r.flat)), "COMPLETE"));
    }
    const schedules = trials.map((t) => JSON.stringify(space.assemble(t.flat)));
    expect(new Set(schedules).size).toBe(trials.length);
    expect(trials).toHaveLength(6); // pairs with milestone1 <= milestone2
    expect(g.sample(context(space, 1, trials.length, trials))).toEqual({ kind: "exhausted" });
  });

  it("has one empty point for an empty space", () => {
    const space = compileSpace({ parameters: [] });
    const g = new GridSampler(space, [], FIELDS);
    expect(g.size).toBe(1);
    const trials: TrialView[] = [];
    expect(run(g, space, trials, 5, "COMPLETE")).toEqual([{}]);
    expect(g.sample(context(space, 1, 1, trials))).toEqual({ kind: "exhausted" });
  });
});

describe("GridSampler axes", () => {
  const space = compileSpace({
    parameters: [
      float("lr", 1e-4, 1e-1, { log: true }),
      float("x", 0, 1),
      int("n", 1, 10),
      int("units", 1, 1024, { log: true }),
      cat("act", ["relu", "tanh", "gelu"]),
      float("s", 0, 1, { step: 0.1 }),
    ],
  });
  /** The values the grid gives `name` when every other dimension is pinned to one point. */
  const valuesOf = (name: string, own?: GridAxisDef): ScalarValue[] => {
    const pins = space.dims
      .filter((d) => d.name !== name)
      .map((d) => (d.domain.type === "categorical" ? axis(d.name, { values: [d.domain.choices[0]] }) : axis(d.name, { numPoints: 1 })));
    const g = new GridSampler(space, own ? [...pins, own] : pins, FIELDS);
    return [...g.enumerate()].map((p) => p[name]);
  };

  it("spaces num_points evenly, geometrically for log, ends included", () => {
    const lr = valuesOf("lr", axis("lr", { numPoints: 4 })) as number[];
    expect(lr).toHaveLength(4);
    [1e-4, 1e-3, 1e-2, 1e-1].forEach((v, i) => expect(lr[i]).toBeCloseTo(v, 12));
    expect(lr[0]).toBe(1e-4);
    expect(lr[3]).toBe(1e-1);
    expect(valuesOf("x", axis("x", { numPoints: 5 }))).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(valuesOf("x", axis("x", { numPoints: 11 }))).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    // One point means the lower bound.
    expect(valuesOf("lr", axis("lr", { numPoints: 1 }))).toEqual([1e-4]);
    const g = new GridSampler(space, [axis("lr", { numPoints: 4 }), axis("x", { numPoints: 5 }), axis("units", { numPoints: 3 })], FIELDS);
    expect(g.size).toBe(4 * 5 * 10 * 3 * 3 * 11);
  });

  it("lets axes override discrete dimensions and snaps num_points onto steps", () => {
    expect(valuesOf("n", axis("n", { values: [5, 2] }))).toEqual([5, 2]);
    expect(valuesOf("act", axis("act", { values: ["gelu"] }))).toEqual(["gelu"]);
    expect(valuesOf("act")).toEqual(["relu", "tanh", "gelu"]);
    expect(valuesOf("units", axis("units", { numPoints: 11 }))).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    // 4 points over 1..10 land on 1, 4, 7, 10; 20 points collapse to the 10 integers.
    expect(valuesOf("n", axis("n", { numPoints: 4 }))).toEqual([1, 4, 7, 10]);
    expect(valuesOf("n", axis("n", { numPoints: 20 }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(valuesOf("s", axis("s", { numPoints: 3 }))).toEqual([0, 0.5, 1]);
    expect(valuesOf("s")).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
  });

  it("rejects bad axes, naming the field", () => {
    const cases: [GridAxisDef[], string, RegExp][] = [
      [[axis("nope", { numPoints: 2 })], "study.spec.algorithm.grid.axes[0].parameter", /unknown parameter "nope"/],
      [[axis("lr", { values: [2] })], "study.spec.algorithm.grid.axes[0].values[0]", /"lr"/],
      [[axis("lr", { numPoints: 2 }), axis("x", { values: [0.5, 0.5] })], "study.spec.algorithm.grid.axes[1].values[1]", /duplicate/],
      [[axis("n", { values: [3.5] })], "study.spec.algorithm.grid.axes[0].values[0]", /"n"/],
      [[axis("s", { values: [0.15] })], "study.spec.algorithm.grid.axes[0].values[0]", /"s"/],
      [[axis("act", { values: ["elu"] })], "study.spec.algorithm.grid.axes[0].values[0]", /"act"/],
      [[axis("lr", { values: [0.01], numPoints: 2 })], "study.spec.algorithm.grid.axes[0]", /not both/],
      [[axis("lr", {})], "study.spec.algorithm.grid.axes[0]", /num_points/],
      [[axis("lr", { numPoints: -1 })], "study.spec.algorithm.grid.axes[0].num_points", /integer/],
      [[axis("lr", { numPoints: 1.5 })], "study.spec.algorithm.grid.axes[0].num_points", /integer/],
      [[axis("act", { numPoints: 2 })], "study.spec.algorithm.grid.axes[0].num_points", /categorical/],
      [[axis("lr", { numPoints: 2 }), axis("lr", { numPoints: 3 })], "study.spec.algorithm.grid.axes[1].parameter", /second axis/],
    ];
    for (const [axes, field, message] of cases) {
      const e = catchError(() => new GridSampler(space, axes, FIELDS));
      expect(e.field, JSON.stringify(axes)).toBe(field);
      expect(e.message).toMatch(message);
    }
  });

  it("requires a step or an axis for a continuous float, naming the parameter", () => {
    const e = catchError(() => new GridSampler(space, [axis("lr", { numPoints: 3 })], FIELDS));
    expect(e.field).toBe("study.spec.search_space.parameters[1]");
    expect(e.message).toContain('grid needs a step or a grid axis for float parameter "x"');
    const sched = catchError(() => new GridSampler(scheduleSpace(), [axis("lr", { numPoints: 2 })], FIELDS));
    expect(sched.field).toBe("study.spec.search_space.parameters[1]");
    expect(sched.message).toContain('"sched/cosine_annealing/eta_min"');
    const whole = catchError(() => new GridSampler(scheduleSpace(), [axis("sched", { numPoints: 2 })], FIELDS));
    expect(whole.message).toMatch(/schedule/);
  });

  it("refuses grids of more than a million points", () => {
    const wide = compileSpace({ parameters: [int("a", 0, 2_000_000)] });
    const e1 = catchError(() => new GridSampler(wide, [], FIELDS));
    expect(e1.field).toBe("study.spec.search_space.parameters[0]");
    expect(e1.message).toMatch(/"a"/);
    const product = compileSpace({ parameters: [int("a", 1, 1001), int("b", 1, 1001)] });
    const e2 = catchError(() => new GridSampler(product, [], FIELDS));
    expect(e2.field).toBe("study.spec.algorithm.grid");
    expect(e2.message).toContain(String(1001 * 1001));
    // An axis brings it back under the limit.
    expect(new GridSampler(wide, [axis("a", { numPoints: 5 })], FIELDS).size).toBe(5);
    expect(new GridSampler(compileSpace({ parameters: [int("a", 1, MAX_GRID_POINTS)] }), [], FIELDS).size).toBe(MAX_GRID_POINTS);
  });
});

describe("GridSampler.sample", () => {
  const square = compileSpace({ parameters: [int("a", 1, 4), cat("b", ["w", "x", "y", "z"])] });

  it("gives parallel workers distinct points, then waits, then is exhausted", () => {
    const g = new GridSampler(square, [], FIELDS);
    const trials: TrialView[] = [];
    const got = run(g, square, trials, 16, "RUNNING");
    expect(got).toHaveLength(16);
    expect(new Set(got.map((p) => CompiledSpace.key(p))).size).toBe(16);
    expect(g.sample(context(square, 1, 16, trials))).toEqual({ kind: "wait" });
    // Still waiting while one trial runs or is queued.
    trials.forEach((t, i) => (t.state = i === 3 ? "QUEUED" : "COMPLETE"));
    expect(g.sample(context(square, 1, 16, trials))).toEqual({ kind: "wait" });
    trials[3].state = "FAILED";
    expect(g.sample(context(square, 1, 16, trials))).toEqual({ kind: "exhausted" });
  });

  it("walks a conditional grid to the end without repeats", () => {
    const { space, axes } = conditionalGrid();
    const g = new GridSampler(space, axes, FIELDS);
    const trials: TrialView[] = [];
    const got = run(g, space, trials, 100, "COMPLETE");
    expect(got).toHaveLength(45);
    expect(new Set(got.map((p) => CompiledSpace.key(p))).size).toBe(45);
    expect(g.sample(context(space, 1, 45, trials))).toEqual({ kind: "exhausted" });
  });

  it("visits points in a seeded order: same seed same order, other seed another", () => {
    const order = (seed: number): string[] =>
      run(new GridSampler(square, [], FIELDS), square, [], 16, "RUNNING", seed).map((p) => CompiledSpace.key(p));
    expect(order(5)).toEqual(order(5));
    expect(order(6)).not.toEqual(order(5));
    expect(new Set(order(6))).toEqual(new Set(order(5)));
  });

  it("offers a point again until a trial takes it, and skips points trials already hold", () => {
    const g = new GridSampler(square, [], FIELDS);
    const first = g.sample(context(square, 1, 0, []));
    expect(g.sample(context(square, 1, 0, []))).toEqual(first);
    // Enqueued trials holding grid points (in any state) are skipped.
    const held = [...g.enumerate()].slice(0, 10).map((flat, id) => trial(id, flat, "FAILED"));
    const trials = [...held];
    const rest = run(g, square, trials, 20, "COMPLETE");
    expect(rest).toHaveLength(6);
    const heldKeys = new Set(held.map((t) => CompiledSpace.key(t.flat)));
    expect(rest.some((p) => heldKeys.has(CompiledSpace.key(p)))).toBe(false);
  });

  it("ignores trials whose parameters are not grid points", () => {
    const g = new GridSampler(square, [], FIELDS);
    const trials = [trial(0, { a: 9, b: "q" }, "COMPLETE")];
    expect(run(g, square, trials, 20, "COMPLETE")).toHaveLength(16);
  });

  it("starts over when handed a shorter trial list", () => {
    const g = new GridSampler(square, [], FIELDS);
    const trials: TrialView[] = [];
    run(g, square, trials, 16, "COMPLETE");
    expect(g.sample(context(square, 1, 16, trials)).kind).toBe("exhausted");
    expect(run(g, square, [], 20, "COMPLETE")).toHaveLength(16);
  });

  it("stays fast on a large grid (amortised O(1) per call)", () => {
    const space = compileSpace({ parameters: [int("a", 1, 300), int("b", 1, 100)] });
    const g = new GridSampler(space, [], FIELDS);
    const trials: TrialView[] = [];
    const start = performance.now();
    const got = run(g, space, trials, 30_000, "RUNNING");
    const ms = performance.now() - start;
    expect(got).toHaveLength(30_000);
    expect(g.sample(context(space, 1, trials.length, trials))).toEqual({ kind: "wait" });
    // A scan of the whole grid per call would take minutes here.
    expect(ms).toBeLessThan(10_000);
  });
});
