/**
 * Pruner selection. The decision field is part of the API from the start;
 * the pruning rules themselves arrive with the pruning issue, so for now the
 * only pruner is "none" (always continue), which is also the default.
 */
import { invalid } from "../errors.js";
import type { PrunerSpec } from "../model.js";
import { neverPrune, type PruneDecider } from "../study-runtime.js";

export const KNOWN_PRUNERS = ["none"] as const;
const PLANNED = ["median", "percentile", "threshold", "patience", "asha", "hyperband", "curve"];

export function createPruner(spec: PrunerSpec, field = "study.spec.pruner"): PruneDecider {
  const name = spec.name;
  if (name === "" || name === "none") return neverPrune;
  if (PLANNED.includes(name)) {
    throw invalid(`${field}.name`, `pruner "${name}" is not available in this version (available: ${KNOWN_PRUNERS.join(", ")})`);
  }
  throw invalid(`${field}.name`, `unknown pruner "${name}" (known: ${KNOWN_PRUNERS.join(", ")})`);
}
