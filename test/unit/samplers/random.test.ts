import { describe, expect, it } from "vitest";
import { RandomSampler } from "../../../server/core/samplers/random.js";
import { compileSpace } from "../../../server/core/space.js";
import {
  context,
  drawMany,
  edgeSpace,
  expectValid,
  float,
  nestedSpace,
  numbers,
  scheduleSpace,
  share,
  trial,
} from "./fixtures.js";

describe("RandomSampler", () => {
  const sampler = new RandomSampler();

  it("is deterministic per (seed, trial id) and differs across seeds", () => {
    const space = edgeSpace();
    const a = drawMany(sampler, space, 42, 50);
    const b = drawMany(new RandomSampler(), space, 42, 50);
    expect(b).toEqual(a);
    const c = drawMany(sampler, space, 43, 50);
    expect(c.filter((p, i) => p["plain"] === a[i]["plain"]).length).toBe(0);
    // Distinct trial ids give distinct points.
    expect(new Set(numbers(a, "plain")).size).toBe(50);
  });

  it("does not depend on the other trials or the order of requests", () => {
    const space = nestedSpace();
    const alone = sampler.sample(context(space, 7, 12));
    const history = drawMany(sampler, space, 7, 12).map((flat, id) => trial(id, flat, "COMPLETE"));
    const busy = sampler.sample(context(space, 7, 12, history));
    expect(busy).toEqual(alone);
  });

  it("keeps every value inside its domain, steps and log range included", () => {
    const space = edgeSpace();
    const points = drawMany(sampler, space, 1, 5000);
    for (const p of points) expectValid(space, p);
    for (const p of points) {
      expect(p["fixed_f"]).toBe(0.5);
      expect(p["fixed_i"]).toBe(7);
      expect(p["only"]).toBe("one");
    }
  });

  it("reaches every step, both ends included, without floating noise", () => {
    const points = drawMany(sampler, edgeSpace(), 2, 5000);
    expect([...new Set(numbers(points, "i_step3"))].sort((x, y) => x - y)).toEqual([2, 5, 8, 11, 14, 17, 20, 23, 26, 29]);
    expect([...new Set(numbers(points, "f_step"))].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 13 }, (_, k) => -1 + k * 0.25),
    );
    expect([...new Set(numbers(points, "f_tenth"))].sort((x, y) => x - y)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(new Set(points.map((p) => p["batch"]))).toEqual(new Set([16, 32, 64, 128]));
    expect(new Set(points.map((p) => p["flag"]))).toEqual(new Set([true, false]));
  });

  it("is uniform in log space for log parameters", () => {
    const points = drawMany(sampler, edgeSpace(), 3, 10_000);
    const lr = numbers(points, "lr");
    // Five decades of [1e-5, 1]: each should hold about 20%.
    for (let e = -5; e < 0; e++) {
      const s = share(lr, (x) => x >= 10 ** e && x < 10 ** (e + 1));
      expect(s).toBeGreaterThan(0.17);
      expect(s).toBeLessThan(0.23);
    }
    // Log int [1, 1000]: value v gets the log mass of [v - 0.5, v + 0.5].
    const units = numbers(points, "units");
    const expectedBelow10 = Math.log(9.5 / 0.5) / Math.log(1000.5 / 0.5);
    expect(Math.abs(share(units, (x) => x < 10) - expectedBelow10)).toBeLessThan(0.03);
    expect(units).toContain(1);
  });

  it("is roughly uniform on a linear float", () => {
    const xs = numbers(drawMany(sampler, compileSpace({ parameters: [float("x", 0, 1)] }), 4, 10_000), "x");
    for (let b = 0; b < 10; b++) {
      const s = share(xs, (x) => x >= b / 10 && x < (b + 1) / 10);
      expect(Math.abs(s - 0.1)).toBeLessThan(0.02);
    }
  });

  it("sets conditional children only where active, three levels deep", () => {
    const space = nestedSpace();
    const points = drawMany(sampler, space, 5, 3000);
    for (const p of points) expectValid(space, p);
    // Every branch is visited.
    expect(points.some((p) => p["l2"] !== undefined)).toBe(true);
    expect(points.some((p) => p["layers"] === 1 && p["act"] === undefined)).toBe(true);
    expect(points.some((p) => p["act"] === "relu" && p["gelu_approx_scale"] === undefined)).toBe(true);
    expect(points.some((p) => p["act"] === "gelu" && p["gelu_approx_scale"] !== undefined)).toBe(true);
  });

  it("samples schedule dimensions as an ordinary conditional sub-space", () => {
    const space = scheduleSpace();
    const points = drawMany(sampler, space, 6, 2000);
    for (const p of points) {
      expectValid(space, p);
      expect(p["sched/warmup_steps"]).toBeDefined();
      const kind = p["sched/kind"];
      expect(p["sched/step/gamma"] !== undefined).toBe(kind === "step");
      expect(p["sched/cosine_annealing/T_max"] !== undefined).toBe(kind === "cosine_annealing");
    }
    expect(new Set(points.map((p) => p["sched/kind"]))).toEqual(new Set(["constant", "step", "cosine_annealing"]));
    // The flat values assemble into a schedule.
    const step = points.find((p) => p["sched/kind"] === "step");
    expect(step).toBeDefined();
    const sched = space.assemble(step ?? {})["sched"];
    expect(sched).toMatchObject({ kind: "step", totalSteps: 1000 });
  });
});
