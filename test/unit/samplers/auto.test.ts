/** The auto policy and its centre-first start. */
import { describe, expect, it } from "vitest";
import { centrePoint, chooseAlgorithm } from "../../../server/core/samplers/auto.js";
import { createSampler } from "../../../server/core/samplers/index.js";
import { compileSpace } from "../../../server/core/space.js";
import { cat, float, int, when } from "./fixtures.js";

const numeric = compileSpace({ parameters: [float("x", -5, 10), float("lr", 1e-4, 1, { log: true }), int("n", 1, 9)] });
const mixed = compileSpace({ parameters: [float("x", 0, 1), cat("act", ["relu", "tanh"])] });
const conditional = compileSpace({ parameters: [cat("opt", ["sgd", "adam"]), when(float("m", 0, 1), "opt", ["sgd"])] });

describe("chooseAlgorithm", () => {
  it("follows the documented policy", () => {
    expect(chooseAlgorithm(numeric, { objectives: 2, maxTrials: 50 })).toBe("nsga2");
    expect(chooseAlgorithm(conditional, { objectives: 1, maxTrials: 50 })).toBe("tpe");
    expect(chooseAlgorithm(numeric, { objectives: 1, maxTrials: 50 })).toBe("gp");
    expect(chooseAlgorithm(mixed, { objectives: 1, maxTrials: 1000 })).toBe("gp");
    expect(chooseAlgorithm(numeric, { objectives: 1, maxTrials: 0 })).toBe("cmaes");
    expect(chooseAlgorithm(numeric, { objectives: 1, maxTrials: 5000 })).toBe("cmaes");
    expect(chooseAlgorithm(mixed, { objectives: 1, maxTrials: 0 })).toBe("tpe");
  });
});

describe("centre first", () => {
  it("proposes the centre of the space as the first trial (log scale for log parameters)", () => {
    const c = centrePoint(numeric);
    expect(c.x).toBeCloseTo(2.5, 12);
    expect(c.lr).toBeCloseTo(1e-2, 12);
    expect(c.n).toBe(5);
    const { sampler } = createSampler({ name: "auto", seed: 3 }, numeric, "study.spec.algorithm", { objectives: 1, maxTrials: 50 });
    const first = sampler.sample({ space: numeric, seed: 3, trialId: 0, trials: [], directions: ["minimize"] });
    expect(first).toEqual({ kind: "params", flat: c });
  });

  it("only the first trial: a second worker asking while it runs gets the inner sampler's point", () => {
    const { sampler } = createSampler({ name: "auto", seed: 3 }, numeric, "study.spec.algorithm", { objectives: 1, maxTrials: 50 });
    const c = centrePoint(numeric);
    const second = sampler.sample({ space: numeric, seed: 3, trialId: 1, trials: [{ id: 0, state: "RUNNING", flat: c }], directions: ["minimize"] });
    expect(second.kind).toBe("params");
    expect(second.kind === "params" && second.flat).not.toEqual(c);
  });

  it("respects conditions in the centre point", () => {
    expect(centrePoint(conditional)).toEqual({ opt: "sgd", m: 0.5 });
  });
});
