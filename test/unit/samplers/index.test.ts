import { describe, expect, it } from "vitest";
import { Code, HpodError } from "../../../server/core/errors.js";
import type { AlgorithmSpec } from "../../../server/core/model.js";
import {
  AVAILABLE_ALGORITHMS,
  createSampler,
  GridSampler,
  KNOWN_ALGORITHMS,
  PLANNED_ALGORITHMS,
  QuasiRandomSampler,
  RandomSampler,
} from "../../../server/core/samplers/index.js";
import { compileSpace } from "../../../server/core/space.js";
import { cat, context, float, int } from "./fixtures.js";

const space = compileSpace({ parameters: [int("n", 1, 4), cat("act", ["relu", "gelu"])] });
const continuous = compileSpace({ parameters: [int("n", 1, 4), float("x", 0, 1)] });
const spec = (name: string, extra: Partial<AlgorithmSpec> = {}): AlgorithmSpec => ({ name, seed: 1, ...extra });

function catchError(f: () => unknown): HpodError {
  try {
    f();
  } catch (e) {
    if (e instanceof HpodError) return e;
    throw e;
  }
  throw new Error("expected an HpodError");
}

describe("createSampler", () => {
  it("builds each available algorithm", () => {
    expect(createSampler(spec("random"), space)).toMatchObject({ resolved: "random" });
    expect(createSampler(spec("random"), space).sampler).toBeInstanceOf(RandomSampler);
    expect(createSampler(spec("grid"), space).sampler).toBeInstanceOf(GridSampler);
    expect(createSampler(spec("quasi_random"), space).sampler).toBeInstanceOf(QuasiRandomSampler);
    expect(createSampler(spec("quasi_random"), space).resolved).toBe("quasi_random");
  });

  it("resolves auto and the empty name by the auto policy, recording the choice", () => {
    for (const name of ["", "auto", " Auto "]) {
      const { sampler, resolved } = createSampler(spec(name), space);
      // An int and a categorical, no budget: TPE (see auto.ts).
      expect(resolved).toBe("auto:tpe");
      expect(sampler.name).toBe("auto:tpe");
      expect(createSampler(spec(name), space, "study.spec.algorithm", { objectives: 1, maxTrials: 50 }).resolved).toBe("auto:gp");
    }
    // A recorded choice rebuilds the same sampler whatever the hints say now.
    expect(createSampler(spec("auto:gp"), space, "study.spec.algorithm", { objectives: 1, maxTrials: 0 }).resolved).toBe("auto:gp");
  });

  it("passes quasi-random options through", () => {
    const plain = createSampler(spec("quasi_random", { quasiRandom: { sequence: "halton", scrambled: false } }), space);
    expect((plain.sampler as QuasiRandomSampler).options).toEqual({ sequence: "halton", scrambled: false });
    const r = plain.sampler.sample(context(space, 1, 0));
    expect(r).toEqual({ kind: "params", flat: { n: 1, act: "relu" } });
  });

  it("says a planned algorithm is not available yet", () => {
    for (const name of PLANNED_ALGORITHMS as readonly string[]) {
      const e = catchError(() => createSampler(spec(name), space));
      expect(e.code).toBe(Code.INVALID_ARGUMENT);
      expect(e.field).toBe("study.spec.algorithm.name");
      expect(e.message).toBe(
        `study.spec.algorithm.name: algorithm "${name}" is not available in this version (available: ${AVAILABLE_ALGORITHMS.join(", ")})`,
      );
    }
    // TPE is no longer planned: it builds.
    expect(PLANNED_ALGORITHMS).not.toContain("tpe");
    expect(createSampler(spec("tpe"), space).resolved).toBe("tpe");
  });

  it("rejects an unknown name, listing the known ones", () => {
    const e = catchError(() => createSampler(spec("xyz"), space, "spec.algorithm"));
    expect(e.field).toBe("spec.algorithm.name");
    expect(e.message).toBe(`spec.algorithm.name: unknown algorithm "xyz" (known: ${KNOWN_ALGORITHMS.join(", ")})`);
    expect(KNOWN_ALGORITHMS.slice(0, 4)).toEqual(["auto", "random", "grid", "quasi_random"]);
    for (const name of ["tpe", "tpe_independent", "tpe_multivariate"]) {
      expect(AVAILABLE_ALGORITHMS).toContain(name);
      expect(KNOWN_ALGORITHMS.filter((n) => n === name)).toHaveLength(1);
    }
    expect(AVAILABLE_ALGORITHMS.slice(0, 4)).toEqual(["auto", "random", "grid", "quasi_random"]);
  });

  it("rejects grid axes with another algorithm", () => {
    const grid = { axes: [{ parameter: "n", values: [1, 2], numPoints: 0 }] };
    for (const name of ["random", "auto", "quasi_random"]) {
      const e = catchError(() => createSampler(spec(name, { grid }), space));
      expect(e.field).toBe("study.spec.algorithm.grid");
      expect(e.message).toMatch(/grid options need algorithm "grid"/);
    }
    // An empty GridOptions message is not an error.
    expect(createSampler(spec("random", { grid: { axes: [] } }), space).resolved).toBe("random");
    expect(createSampler(spec("grid", { grid }), space).resolved).toBe("grid");
  });

  it("validates grid studies up front, with search-space fields beside the algorithm's", () => {
    const e = catchError(() => createSampler(spec("grid"), continuous));
    expect(e.field).toBe("study.spec.search_space.parameters[1]");
    expect(e.message).toContain('grid needs a step or a grid axis for float parameter "x"');
    const nested = catchError(() => createSampler(spec("grid"), continuous, "req.study.spec.algorithm"));
    expect(nested.field).toBe("req.study.spec.search_space.parameters[1]");
    const axisError = catchError(() =>
      createSampler(spec("grid", { grid: { axes: [{ parameter: "y", values: [], numPoints: 2 }] } }), continuous),
    );
    expect(axisError.field).toBe("study.spec.algorithm.grid.axes[0].parameter");
  });

  it("validates the quasi-random sequence up front", () => {
    const bad = JSON.parse('{"sequence": "faure", "scrambled": true}') as AlgorithmSpec["quasiRandom"];
    const e = catchError(() => createSampler(spec("quasi_random", { quasiRandom: bad }), space));
    expect(e.field).toBe("study.spec.algorithm.quasi_random.sequence");
  });
});
