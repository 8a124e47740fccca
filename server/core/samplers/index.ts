/**
 * The sampler factory: resolves an algorithm name and checks its options, so
 * CreateStudy rejects a study the algorithm cannot run before storing it.
 */
import { invalid } from "../errors.js";
import type { AlgorithmSpec } from "../model.js";
import type { CompiledSpace } from "../space.js";
import { AUTO_PREFIX, CentreFirstSampler, chooseAlgorithm, type AutoHints } from "./auto.js";
import { GridSampler } from "./grid.js";
import { quasiRandomOptions, QuasiRandomSampler } from "./quasi-random.js";
import { RandomSampler } from "./random.js";
import type { Sampler } from "./sampler.js";
import { CmaEsSampler } from "./cmaes/index.js";
import { GeneticSampler } from "./genetic.js";
import { Nsga2Sampler } from "./nsga2.js";
import { TpeSampler } from "./tpe.js";
import { GpSampler } from "./gp/gp-sampler.js";

export type { SampleContext, SampleResult, Sampler, TrialView } from "./sampler.js";
export { GridSampler, MAX_GRID_POINTS } from "./grid.js";
export { QuasiRandomSampler, type QuasiRandomOptions } from "./quasi-random.js";
export { RandomSampler } from "./random.js";
export { CmaEsSampler, type CmaEsOptions } from "./cmaes/index.js";
export { GeneticSampler, type GeneticOptions } from "./genetic.js";
export { Nsga2Sampler, type Nsga2Options } from "./nsga2.js";
export { TpeSampler, DEFAULT_TPE_SETTINGS, type TpeSettings } from "./tpe.js";
export { GpSampler, DEFAULT_GP_OPTIONS, type GpSamplerOptions } from "./gp/gp-sampler.js";

/** Names this version runs ("auto" picks one of the others). */
export const AVAILABLE_ALGORITHMS = ["auto", "random", "grid", "quasi_random", "tpe", "tpe_independent", "tpe_multivariate", "gp", "cmaes", "genetic", "nsga2"] as const;
/** Names of the API reserved for algorithms not implemented yet. */
export const PLANNED_ALGORITHMS = [] as const;
/** Every name the API defines. */
export const KNOWN_ALGORITHMS: readonly string[] = [...AVAILABLE_ALGORITHMS, ...PLANNED_ALGORITHMS];


/**
 * The TPE variant behind the plain name "tpe", chosen with the quality
 * benchmark (bench/quality.ts, see bench/README.md): independent TPE is far
 * better at 200 trials and on par at 50, so "tpe" is independent TPE and
 * "tpe_multivariate" the joint variant.
 */
export const TPE_MULTIVARIATE_BY_DEFAULT = false;

type AvailableName = Exclude<(typeof AVAILABLE_ALGORITHMS)[number], "auto">;

export interface CreatedSampler {
  sampler: Sampler;
  /** The algorithm actually run ("auto:<name>" for auto), for Study.resolvedAlgorithm. */
  resolved: string;
}

/**
 * Builds the sampler of a study. `hints` feed the `auto` policy (auto.ts);
 * a resolved `auto:<name>` (as recorded on a study) rebuilds the same choice.
 */
export function createSampler(
  spec: AlgorithmSpec,
  space: CompiledSpace,
  field = "study.spec.algorithm",
  hints: AutoHints = { objectives: 1, maxTrials: 0 },
): CreatedSampler {
  const given = spec.name.trim().toLowerCase();
  if (given === "" || given === "auto" || given.startsWith(AUTO_PREFIX)) {
    const choice = given.startsWith(AUTO_PREFIX) ? resolveName(given.slice(AUTO_PREFIX.length), `${field}.name`) : chooseAlgorithm(space, hints);
    const inner = createSampler({ ...spec, name: choice }, space, field, hints).sampler;
    const resolved = AUTO_PREFIX + choice;
    return { sampler: new CentreFirstSampler(inner, resolved), resolved };
  }
  const resolved = resolveName(spec.name, `${field}.name`);
  // An empty GridOptions message decodes to no axes; only real axes are an error.
  if (resolved !== "grid" && (spec.grid?.axes.length ?? 0) > 0) {
    throw invalid(`${field}.grid`, `grid options need algorithm "grid" (the algorithm is "${resolved}")`);
  }
  switch (resolved) {
    case "random":
      return { sampler: new RandomSampler(), resolved };
    case "tpe":
      return { sampler: new TpeSampler({ multivariate: TPE_MULTIVARIATE_BY_DEFAULT }, "tpe"), resolved };
    case "tpe_independent":
      return { sampler: new TpeSampler({ multivariate: false }, resolved), resolved };
    case "tpe_multivariate":
      return { sampler: new TpeSampler({ multivariate: true }, resolved), resolved };
    case "gp":
      return { sampler: new GpSampler(), resolved };
    case "cmaes":
      return { sampler: new CmaEsSampler(), resolved };
    case "genetic":
      return { sampler: new GeneticSampler(), resolved };
    case "nsga2":
      return { sampler: new Nsga2Sampler(), resolved };
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
function resolveName(given: string, field: string): AvailableName {
  const name = given.trim().toLowerCase();
  switch (name) {
    case "quasi_random":
    case "random":
    case "grid":
    case "tpe":
    case "tpe_independent":
    case "tpe_multivariate":
    case "gp":
    case "cmaes":
    case "genetic":
    case "nsga2":
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
