/**
 * The `auto` algorithm: picks a sampler from the search space, the trial
 * budget and the number of objectives when the study is created, and records
 * the choice as `auto:<name>` (Study.resolved_algorithm), so a later change of
 * max_trials never switches algorithms mid-study.
 *
 * Policy (measured with bench/quality.ts on the shared test functions; see
 * bench/README.md "auto"):
 * - several objectives -> NSGA-II;
 * - conditional parameters (including learning-rate schedules) -> TPE, which
 *   models them natively;
 * - otherwise, a known budget of at most 1,000 trials -> Gaussian-process BO,
 *   the most sample-efficient here at 50 and 200 trials (its cost is bounded,
 *   see gp-sampler.ts);
 * - otherwise (no budget or a larger one): CMA-ES for all-numeric spaces, TPE
 *   when there are categorical parameters.
 * Whatever it picks, the very first trial is the centre of the space (the
 * midpoint of every numeric range, on the log scale for log parameters, and
 * the first choice of categoricals): a cheap, deterministic probe that many
 * real spaces are designed around.
 */
import type { CompiledSpace, FlatParams } from "../space.js";
import { fromUnit } from "./domain-map.js";
import type { SampleContext, SampleResult, Sampler } from "./sampler.js";

export interface AutoHints {
  objectives: number;
  /** 0: no budget given. */
  maxTrials: number;
}

export const AUTO_PREFIX = "auto:";
export const AUTO_GP_MAX_TRIALS = 1000;

export function chooseAlgorithm(space: CompiledSpace, hints: AutoHints): "nsga2" | "tpe" | "gp" | "cmaes" {
  if (hints.objectives > 1) return "nsga2";
  if (space.dims.some((d) => d.condition !== undefined)) return "tpe";
  if (hints.maxTrials > 0 && hints.maxTrials <= AUTO_GP_MAX_TRIALS) return "gp";
  return space.dims.some((d) => d.domain.type === "categorical") ? "tpe" : "cmaes";
}

/** The centre of the space, as flat values of the active dimensions. */
export function centrePoint(space: CompiledSpace): FlatParams {
  const flat: FlatParams = {};
  for (const dim of space.dims) {
    if (!space.isActive(dim, flat)) continue;
    flat[dim.name] = dim.domain.type === "categorical" ? (dim.domain.choices[0] as FlatParams[string]) : fromUnit(0.5, dim.domain);
  }
  return flat;
}

/** Proposes the centre as the study's first trial, then defers to `inner`. */
export class CentreFirstSampler implements Sampler {
  readonly name: string;
  private readonly inner: Sampler;

  constructor(inner: Sampler, name: string) {
    this.inner = inner;
    this.name = name;
  }

  sample(ctx: SampleContext): SampleResult {
    if (ctx.trials.length === 0) return { kind: "params", flat: centrePoint(ctx.space) };
    return this.inner.sample(ctx);
  }
}
