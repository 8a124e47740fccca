import { describe, expect, it } from "vitest";
import { minimizeLbfgs, type ValueAndGradient } from "../../../../server/core/samplers/gp/lbfgs.js";

const rosenbrock: ValueAndGradient = (x, g) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
};

describe("L-BFGS", () => {
  it("minimises the 2-D Rosenbrock function from the classic start (-1.2, 1)", () => {
    const r = minimizeLbfgs(rosenbrock, [-1.2, 1], { maxIterations: 200, gradientTolerance: 1e-8, valueTolerance: 0 });
    expect(r.x[0]).toBeCloseTo(1, 5);
    expect(r.x[1]).toBeCloseTo(1, 5);
    expect(r.value).toBeLessThan(1e-10);
    expect(r.iterations).toBeLessThan(150);
  });

  it("minimises a 10-D Rosenbrock function", () => {
    const x0 = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    const r = minimizeLbfgs(rosenbrock, x0, { maxIterations: 500, gradientTolerance: 1e-8, valueTolerance: 0 });
    for (const v of r.x) expect(v).toBeCloseTo(1, 4);
  });

  it("respects box constraints: Rosenbrock on x <= 0.5 ends at (0.5, 0.25)", () => {
    const r = minimizeLbfgs(rosenbrock, [-1.2, 1], {
      lower: [-2, -2],
      upper: [0.5, 2],
      maxIterations: 300,
      gradientTolerance: 1e-9,
      valueTolerance: 0,
    });
    expect(r.x[0]).toBe(0.5);
    expect(r.x[1]).toBeCloseTo(0.25, 5);
    expect(r.value).toBeCloseTo(0.25, 8);
  });

  it("starts from a clamped point, stops on an upper-bound optimum, and is deterministic", () => {
    const quad: ValueAndGradient = (x, g) => {
      g[0] = 2 * (x[0] - 3);
      g[1] = 2 * (x[1] + 1);
      return (x[0] - 3) ** 2 + (x[1] + 1) ** 2;
    };
    const opts = { lower: [0, 0], upper: [1, 1] };
    const a = minimizeLbfgs(quad, [5, 5], opts);
    expect([...a.x]).toEqual([1, 0]);
    expect(a.converged).toBe(true);
    const b = minimizeLbfgs(quad, [5, 5], opts);
    expect([...b.x]).toEqual([...a.x]);
  });

  it("survives a non-finite region (backtracks out of NaN)", () => {
    const f: ValueAndGradient = (x, g) => {
      if (x[0] < 0) return NaN;
      g[0] = 2 * (x[0] - 0.1);
      return (x[0] - 0.1) ** 2;
    };
    const r = minimizeLbfgs(f, [3], {});
    expect(r.x[0]).toBeCloseTo(0.1, 5);
  });
});
