/**
 * Pruner selection and validation. `createPruner` resolves the name (empty:
 * the default, "curve"), checks every field of the PrunerSpec for that
 * pruner - a field the pruner does not use must be left unset (0) - and
 * returns the decider the study runtime consults on each intermediate report
 * of a RUNNING trial. Errors are INVALID_ARGUMENT naming
 * `study.spec.pruner.<field>`.
 *
 * Zero means "default" for every numeric field (proto3 has no presence):
 * startup_trials 0 -> 5, interval_steps 0 -> 1, confidence 0 -> 0.95,
 * reduction_factor 0 -> 4 (asha) or 3 (hyperband), min_resource 0 -> auto
 * (asha) or 1 (hyperband), max_resource 0 -> auto. startup_trials 1 behaves
 * as Optuna's 0 (nothing is compared before one trial completes anyway).
 *
 * Pruning looks at the first objective and its direction. With several
 * objectives the default pruner does not prune (a trial worse on the first
 * objective may still be Pareto-optimal); a pruner named explicitly prunes
 * on the first objective. When the caller passes the objectives' directions,
 * a named pruner other than "none" is refused for a multi-objective study.
 */
import { invalid } from "../errors.js";
import type { Direction, PrunerSpec } from "../model.js";
import { neverPrune, type PruneDecider, type StudyRuntime } from "../study-runtime.js";
import { AshaPruner } from "./asha.js";
import { CONTINUE } from "./common.js";
import { CURVE_DEFAULTS, CurvePruner } from "./curve.js";
import { HyperbandPruner } from "./hyperband.js";
import { PatiencePruner } from "./patience.js";
import { PercentilePruner } from "./percentile.js";
import { ThresholdPruner } from "./threshold.js";

export { AshaPruner, SuccessiveHalving } from "./asha.js";
export { CurvePruner, DEFAULT_TUNING, type CurveTuning } from "./curve.js";
export { HyperbandPruner } from "./hyperband.js";
export { PatiencePruner } from "./patience.js";
export { PercentilePruner } from "./percentile.js";
export { ThresholdPruner } from "./threshold.js";

export const KNOWN_PRUNERS = ["none", "median", "percentile", "threshold", "patience", "asha", "hyperband", "curve"] as const;
export type PrunerName = (typeof KNOWN_PRUNERS)[number];
/** What an empty pruner name runs. */
export const DEFAULT_PRUNER: PrunerName = "curve";

export const DEFAULT_STARTUP_TRIALS = 5;
export const DEFAULT_ASHA_REDUCTION_FACTOR = 4;
export const DEFAULT_HYPERBAND_REDUCTION_FACTOR = 3;
const MAX_BRACKETS = 32;
const MAX_WRAP_DEPTH = 4;

type Field = Exclude<keyof PrunerSpec, "name">;

/** Fields each pruner reads; any other must be unset. */
const USES: Record<PrunerName, readonly Field[]> = {
  none: [],
  median: ["startupTrials", "warmupSteps", "intervalSteps"],
  percentile: ["percentile", "startupTrials", "warmupSteps", "intervalSteps"],
  threshold: ["lower", "upper", "warmupSteps", "intervalSteps"],
  patience: ["patience", "wrapped"],
  asha: ["minResource", "reductionFactor"],
  hyperband: ["minResource", "maxResource", "reductionFactor", "brackets"],
  curve: ["startupTrials", "warmupSteps", "intervalSteps", "minResource", "maxResource", "confidence"],
};

const SNAKE: Record<Field, string> = {
  startupTrials: "startup_trials",
  warmupSteps: "warmup_steps",
  intervalSteps: "interval_steps",
  percentile: "percentile",
  lower: "lower",
  upper: "upper",
  patience: "patience",
  minResource: "min_resource",
  maxResource: "max_resource",
  reductionFactor: "reduction_factor",
  brackets: "brackets",
  wrapped: "wrapped",
  confidence: "confidence",
};

/** The pruner an (already trimmed, lower-case) name runs. */
export function resolvePrunerName(name: string): PrunerName | undefined {
  const n = name.trim().toLowerCase();
  if (n === "") return DEFAULT_PRUNER;
  return (KNOWN_PRUNERS as readonly string[]).includes(n) ? (n as PrunerName) : undefined;
}

/**
 * Validates `spec` and builds its decider. `directions` (the study's
 * objectives), when given, lets a multi-objective study be refused a named
 * pruner at creation.
 */
export function createPruner(spec: PrunerSpec, field = "study.spec.pruner", directions?: readonly Direction[]): PruneDecider {
  const name = resolvePrunerName(spec.name);
  if (name === undefined) {
    throw invalid(`${field}.name`, `unknown pruner "${spec.name}" (known: ${KNOWN_PRUNERS.join(", ")}; empty for the default, ${DEFAULT_PRUNER})`);
  }
  const explicit = spec.name.trim() !== "";
  if (explicit && name !== "none" && directions !== undefined && directions.length > 1) {
    throw invalid(
      `${field}.name`,
      `pruner "${name}" needs a single objective (this study has ${directions.length}); use "none" or leave it empty`,
    );
  }
  const decider = build(spec, name, field, 0);
  if (explicit || name === "none") return decider;
  // The default prunes single-objective studies only.
  return {
    decide: (trial, runtime: StudyRuntime) => (runtime.objectiveCount > 1 ? CONTINUE : decider.decide(trial, runtime)),
  };
}

function build(spec: PrunerSpec, name: PrunerName, field: string, depth: number): PruneDecider {
  checkUnused(spec, name, field);
  checkFields(spec, field);
  const startupTrials = spec.startupTrials === 0 ? DEFAULT_STARTUP_TRIALS : spec.startupTrials;
  const intervalSteps = spec.intervalSteps === 0 ? 1 : spec.intervalSteps;
  const warmupSteps = spec.warmupSteps;
  switch (name) {
    case "none":
      return neverPrune;
    case "median":
      return new PercentilePruner({ percentile: 50, startupTrials, warmupSteps, intervalSteps, label: "median" });
    case "percentile":
      return new PercentilePruner({ percentile: spec.percentile, startupTrials, warmupSteps, intervalSteps, label: "percentile" });
    case "threshold": {
      if (spec.lower === undefined && spec.upper === undefined) {
        throw invalid(`${field}.lower`, "the threshold pruner needs lower, upper or both");
      }
      const lower = spec.lower ?? -Infinity;
      const upper = spec.upper ?? Infinity;
      if (lower > upper) throw invalid(`${field}.lower`, `must not exceed upper (got lower ${spec.lower} > upper ${spec.upper})`);
      return new ThresholdPruner({ lower, upper, warmupSteps, intervalSteps });
    }
    case "patience": {
      if (spec.patience === 0) throw invalid(`${field}.patience`, "is required for the patience pruner: an integer >= 1");
      let wrapped: PruneDecider | undefined;
      if (spec.wrapped) {
        if (depth + 1 > MAX_WRAP_DEPTH) throw invalid(`${field}.wrapped`, `nested more than ${MAX_WRAP_DEPTH} deep`);
        const inner = resolvePrunerName(spec.wrapped.name);
        if (inner === undefined) {
          throw invalid(`${field}.wrapped.name`, `unknown pruner "${spec.wrapped.name}" (known: ${KNOWN_PRUNERS.join(", ")})`);
        }
        wrapped = build(spec.wrapped, inner, `${field}.wrapped`, depth + 1);
      }
      return new PatiencePruner(spec.patience, wrapped);
    }
    case "asha":
      return new AshaPruner({
        minResource: spec.minResource === 0 ? "auto" : spec.minResource,
        reductionFactor: spec.reductionFactor === 0 ? DEFAULT_ASHA_REDUCTION_FACTOR : spec.reductionFactor,
        minEarlyStoppingRate: 0,
      });
    case "hyperband":
      return new HyperbandPruner({
        minResource: spec.minResource === 0 ? 1 : spec.minResource,
        maxResource: spec.maxResource === 0 ? "auto" : spec.maxResource,
        reductionFactor: spec.reductionFactor === 0 ? DEFAULT_HYPERBAND_REDUCTION_FACTOR : spec.reductionFactor,
        brackets: spec.brackets,
      });
    case "curve":
      return new CurvePruner({
        startupTrials,
        warmupSteps,
        intervalSteps,
        minResource: spec.minResource,
        maxResource: spec.maxResource,
        confidence: spec.confidence === 0 ? CURVE_DEFAULTS.confidence : spec.confidence,
      });
  }
}

function isSet(spec: PrunerSpec, f: Field): boolean {
  const v = spec[f];
  if (f === "lower" || f === "upper" || f === "wrapped") return v !== undefined;
  return v !== 0;
}

function checkUnused(spec: PrunerSpec, name: PrunerName, field: string): void {
  const uses = USES[name];
  for (const f of Object.keys(SNAKE) as Field[]) {
    if (!uses.includes(f) && isSet(spec, f)) {
      throw invalid(`${field}.${SNAKE[f]}`, `is not used by the ${name} pruner (leave it unset)`);
    }
  }
}

function checkFields(spec: PrunerSpec, field: string): void {
  const int = (f: Field, v: number, min: number, max = 2 ** 31 - 1): void => {
    if (!(Number.isSafeInteger(v) && v >= min && v <= max)) {
      throw invalid(`${field}.${SNAKE[f]}`, `must be an integer in [${min}, ${max}] (got ${v})`);
    }
  };
  int("startupTrials", spec.startupTrials, 0);
  int("warmupSteps", spec.warmupSteps, 0, Number.MAX_SAFE_INTEGER);
  int("intervalSteps", spec.intervalSteps, 0, Number.MAX_SAFE_INTEGER);
  int("patience", spec.patience, 0);
  int("minResource", spec.minResource, 0, Number.MAX_SAFE_INTEGER);
  int("maxResource", spec.maxResource, 0, Number.MAX_SAFE_INTEGER);
  int("brackets", spec.brackets, 0, MAX_BRACKETS);
  if (!(spec.percentile >= 0 && spec.percentile <= 100)) {
    throw invalid(`${field}.percentile`, `must be between 0 and 100 inclusive (got ${spec.percentile})`);
  }
  if (!(spec.reductionFactor === 0 || (spec.reductionFactor > 1 && Number.isFinite(spec.reductionFactor)))) {
    throw invalid(`${field}.reduction_factor`, `must be a finite number > 1, or 0 for the default (got ${spec.reductionFactor})`);
  }
  if (!(spec.confidence >= 0 && spec.confidence < 1)) {
    throw invalid(`${field}.confidence`, `must be in (0, 1), or 0 for the default ${CURVE_DEFAULTS.confidence} (got ${spec.confidence})`);
  }
  if (spec.lower !== undefined && Number.isNaN(spec.lower)) throw invalid(`${field}.lower`, "must be a number (got NaN)");
  if (spec.upper !== undefined && Number.isNaN(spec.upper)) throw invalid(`${field}.upper`, "must be a number (got NaN)");
  if (spec.maxResource > 0 && spec.minResource > spec.maxResource) {
    throw invalid(`${field}.min_resource`, `must not exceed max_resource (got ${spec.minResource} > ${spec.maxResource})`);
  }
}
