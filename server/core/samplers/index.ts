/**
 * The sampler factory: resolves an algorithm name and checks its options, so
 * CreateStudy rejects a study the algorithm cannot run before storing it.
 */
import { invalid } from "../errors.js";
import type { AlgorithmSpec } from "../model.js";
import type { CompiledSpace } from "../space.js";
import { GridSampler } from "./grid.js";
import { quasiRandomOptions, QuasiRandomSampler } from "./quasi-random.js";
import { RandomSampler } from "./random.js";
import type { Sampler } from "./sampler.js";

export type { SampleContext, SampleResult, Sampler, TrialView } from "./sampler.js";
export { GridSampler, MAX_GRID_POINTS } from "./grid.js";
export { QuasiRandomSampler, type QuasiRandomOptions } from "./quasi-random.js";
export { RandomSampler } from "./random.js";

/** Names this version runs ("auto" picks one of the others). */
export const AVAILABLE_ALGORITHMS = ["auto", "random", "grid", "quasi_random"] as const;
/** Names of the API reserved for algorithms not implemented yet. */
export const PLANNED_ALGORITHMS = ["tpe", "gp", "cmaes", "genetic", "nsga2"] as const;
/** Every name the API defines. */
export const KNOWN_ALGORITHMS: readonly string[] = [...AVAILABLE_ALGORITHMS, ...PLANNED_ALGORITHMS];

/** What "auto" (or an empty name) runs until model-based samplers exist. */
const AUTO_RESOLVES_TO = "quasi_random" as const;

export interface CreatedSampler {
  sampler: Sampler;
  /** The algorithm actually run (never "auto"), for Study.resolvedAlgorithm. */
  resolved: string;
}

export function createSampler(spec: AlgorithmSpec, space: CompiledSpace, field = "study.spec.algorithm"): CreatedSampler {
  const resolved = resolveName(spec.name, `${field}.name`);
  // An empty GridOptions message decodes to no axes; only real axes are an error.
  if (resolved !== "grid" && (spec.grid?.axes.length ?? 0) > 0) {
    throw invalid(`${field}.grid`, `grid options need algorithm "grid" (the algorithm is "${resolved}")`);
  }
  switch (resolved) {
    case "random":
      return { sampler: new RandomSampler(), resolved };
    case "grid":
      return {
        sampler: new GridSampler(space, spec.grid?.axes ?? [], { algorithm: field, space: siblingField(field, "search_space") }),
        resolved,
      };
    default:
      return {
        sampler: new QuasiRandomSampler(quasiRandomOptions(spec.quasiRandom, `${field}.quasi_random`)),
        resolved,
      };
  }
}

/** The canonical name of an available algorithm, or an error naming the field. */
function resolveName(given: string, field: string): "random" | "grid" | "quasi_random" {
  const name = given.trim().toLowerCase();
  switch (name) {
    case "":
    case "auto":
      return AUTO_RESOLVES_TO;
    case "quasi_random":
    case "random":
    case "grid":
      return name;
  }
  if ((PLANNED_ALGORITHMS as readonly string[]).includes(name)) {
    throw invalid(field, `algorithm "${name}" is not available in this version (available: ${AVAILABLE_ALGORITHMS.join(", ")})`);
  }
  throw invalid(field, `unknown algorithm "${given}" (known: ${KNOWN_ALGORITHMS.join(", ")})`);
}

/**
 * The path of a field next to the algorithm spec: the search space sits beside
 * it in the study spec ("study.spec.algorithm" -> "study.spec.search_space").
 */
function siblingField(algorithmField: string, sibling: string): string {
  const dot = algorithmField.lastIndexOf(".");
  return dot < 0 ? sibling : `${algorithmField.slice(0, dot + 1)}${sibling}`;
}
