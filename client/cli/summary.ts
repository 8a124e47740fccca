/**
 * Live summary of a study's trials: counts by state and the best value (or
 * the size of the Pareto front for several objectives).
 */
import { Direction, type Study } from "../gen/hpod/v1/study.js";
import { TrialState, type Trial } from "../gen/hpod/v1/trial.js";
import { formatNumber, studyStateName, trialStateName } from "./display.js";

const STATES = [
  TrialState.TRIAL_STATE_QUEUED,
  TrialState.TRIAL_STATE_RUNNING,
  TrialState.TRIAL_STATE_COMPLETE,
  TrialState.TRIAL_STATE_PRUNED,
  TrialState.TRIAL_STATE_FAILED,
] as const;

export function countByState(trials: Iterable<Trial>): Map<TrialState, number> {
  const counts = new Map<TrialState, number>(STATES.map((s) => [s, 0]));
  for (const t of trials) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  return counts;
}

function feasibleValues(t: Trial): number[] | undefined {
  if (t.state !== TrialState.TRIAL_STATE_COMPLETE) return undefined;
  const m = t.finalMeasurement;
  if (m === undefined || m.values.length === 0 || !m.values.every(Number.isFinite)) return undefined;
  if (!m.constraintValues.every((c) => c <= 0)) return undefined;
  return m.values;
}

/** The best feasible COMPLETE trial of a single-objective study. */
export function bestTrial(trials: Iterable<Trial>, direction: Direction): { trial: Trial; value: number } | undefined {
  const sign = direction === Direction.DIRECTION_MAXIMIZE ? -1 : 1;
  let best: { trial: Trial; value: number } | undefined;
  for (const t of trials) {
    const v = feasibleValues(t)?.[0];
    if (v === undefined) continue;
    if (best === undefined || sign * v < sign * best.value || (v === best.value && t.id < best.trial.id)) best = { trial: t, value: v };
  }
  return best;
}

/** The non-dominated feasible COMPLETE trials (directions per objective). */
export function paretoFront(trials: Iterable<Trial>, directions: readonly Direction[]): Trial[] {
  const points = [...trials].flatMap((t) => {
    const v = feasibleValues(t);
    if (v === undefined) return [];
    return [{ t, v: v.map((x, i) => (directions[i] === Direction.DIRECTION_MAXIMIZE ? -x : x)) }];
  });
  const dominates = (a: number[], b: number[]): boolean => a.every((x, i) => x <= b[i]) && a.some((x, i) => x < b[i]);
  return points.filter((p) => !points.some((q) => q !== p && dominates(q.v, p.v))).map((p) => p.t);
}

/**
 * Counts come from `trials` (or, while none are known, from the study's
 * trial_counts).
 *
 * `ACTIVE  queued 0  running 2  complete 5  pruned 1  failed 0  best loss=0.12 (trial 3)` */
export function summaryLine(study: Study | undefined, trials: Iterable<Trial>): string {
  const list = [...trials];
  const counts = countByState(list);
  const c = study?.trialCounts;
  if (list.length === 0 && c !== undefined) {
    // Nothing streamed yet: the study's own counts.
    counts.set(TrialState.TRIAL_STATE_QUEUED, c.queued);
    counts.set(TrialState.TRIAL_STATE_RUNNING, c.running);
    counts.set(TrialState.TRIAL_STATE_COMPLETE, c.complete);
    counts.set(TrialState.TRIAL_STATE_PRUNED, c.pruned);
    counts.set(TrialState.TRIAL_STATE_FAILED, c.failed);
  }
  const parts = STATES.map((s) => `${trialStateName(s).toLowerCase()} ${counts.get(s) ?? 0}`);
  const objectives = study?.spec?.objectives ?? [];
  let best = "best -";
  if (objectives.length > 1) {
    best = `pareto front ${paretoFront(list, objectives.map((o) => o.direction)).length} trials`;
  } else {
    const b = bestTrial(list, objectives[0]?.direction ?? Direction.DIRECTION_MINIMIZE);
    const label = objectives[0]?.name !== undefined && objectives[0].name !== "" ? objectives[0].name : "value";
    if (b !== undefined) best = `best ${label}=${formatNumber(b.value)} (trial ${b.trial.id})`;
  }
  const state = study === undefined ? "" : `${studyStateName(study.state)}  `;
  return `${state}${parts.join("  ")}  ${best}`;
}
