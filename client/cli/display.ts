/**
 * Human renderings of API values: enum names without prefixes, numbers,
 * parameters, durations and times.
 */
import { lrScheduleKindToJSON, type LrSchedule, type ParameterValue } from "../gen/hpod/v1/search_space.js";
import { directionToJSON, studyStateToJSON, type Direction, type StudyState } from "../gen/hpod/v1/study.js";
import { trialStateToJSON, type Trial, type TrialState } from "../gen/hpod/v1/trial.js";

function stripPrefix(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** `COMPLETE` for TRIAL_STATE_COMPLETE. */
export function trialStateName(state: TrialState): string {
  return stripPrefix(trialStateToJSON(state), "TRIAL_STATE_");
}

/** `ACTIVE` for STUDY_STATE_ACTIVE. */
export function studyStateName(state: StudyState): string {
  return stripPrefix(studyStateToJSON(state), "STUDY_STATE_");
}

/** `minimize` for DIRECTION_MINIMIZE. */
export function directionName(direction: Direction): string {
  return stripPrefix(directionToJSON(direction), "DIRECTION_").toLowerCase();
}

/** A number in at most 6 significant digits (integers in full). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e9)) return value.toExponential(4).replace(/\.?0+e/, "e");
  return String(Number(value.toPrecision(6)));
}

/** `cosine_annealing(T_max=100, eta_min=0.001)` and the like. */
export function formatSchedule(schedule: LrSchedule): string {
  const kind = stripPrefix(lrScheduleKindToJSON(schedule.kind), "LR_SCHEDULE_KIND_").toLowerCase();
  const parts = Object.entries(schedule.values)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${formatNumber(v)}`);
  if (schedule.milestones.length > 0) parts.push(`milestones=[${schedule.milestones.join(",")}]`);
  if (schedule.mode !== "") parts.push(`mode=${schedule.mode}`);
  if (schedule.warmupSteps > 0) parts.push(`warmup=${schedule.warmupSteps}x${formatNumber(schedule.warmupStartFactor)}`);
  return `${kind}(${parts.join(", ")})`;
}

/** A parameter value for tables. */
export function formatParam(value: ParameterValue | undefined): string {
  const kind = value?.kind;
  switch (kind?.$case) {
    case undefined:
      return "";
    case "numberValue":
      return formatNumber(kind.value);
    case "intValue":
      return String(kind.value);
    case "stringValue":
      return kind.value;
    case "boolValue":
      return String(kind.value);
    case "lrScheduleValue":
      return formatSchedule(kind.value);
  }
}

/** `1.5s`, `2m03s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Milliseconds a trial ran (until now when still running), or undefined. */
export function trialDurationMs(trial: Trial, now = Date.now()): number | undefined {
  if (trial.startTime === undefined) return undefined;
  const end = trial.endTime?.getTime() ?? now;
  return end - trial.startTime.getTime();
}

/** An ISO time, or empty. */
export function formatTime(time: Date | undefined): string {
  return time === undefined ? "" : time.toISOString();
}

/** Final values of a trial, empty when it has none. */
export function finalValues(trial: Trial): number[] {
  return trial.finalMeasurement?.values ?? [];
}
