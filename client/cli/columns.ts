/**
 * Which parameter and objective columns a set of trials gets, in the study's
 * declaration order.
 */
import type { Study } from "../gen/hpod/v1/study.js";
import type { Trial } from "../gen/hpod/v1/trial.js";

/** Objective column names: the study's objective names, `<index>` where unnamed or unknown. */
export function objectiveNames(study: Study | undefined, trials: Iterable<Trial>): string[] {
  const declared = study?.spec?.objectives.map((o) => o.name) ?? [];
  let count = declared.length;
  for (const t of trials) count = Math.max(count, t.finalMeasurement?.values.length ?? 0);
  return Array.from({ length: count }, (_, i) => {
    const name = declared[i];
    return name !== undefined && name !== "" ? name : String(i);
  });
}

/** Parameter names: the search space's order, then any others seen in trials, sorted. */
export function paramNames(study: Study | undefined, trials: Iterable<Trial>): string[] {
  const names = (study?.spec?.searchSpace?.parameters ?? []).map((p) => p.name);
  const known = new Set(names);
  const extra = new Set<string>();
  for (const t of trials) for (const name of Object.keys(t.params)) if (!known.has(name)) extra.add(name);
  return [...names, ...[...extra].sort()];
}
