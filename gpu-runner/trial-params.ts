/**
 * A trial's parameters as plain JSON, the form trials receive
 * (HPOD_PARAMS_JSON, params.json, `{name}` placeholders).
 *
 * Scalars become JSON numbers, strings and booleans. A learning-rate schedule
 * becomes an object in the proto3 JSON form of hpod.v1.LrSchedule with every
 * field present and int64 fields as JSON numbers, e.g.
 * `{"kind":"LR_SCHEDULE_KIND_STEP","values":{"gamma":0.5,"step_size":3},"milestones":[],"mode":"",
 *   "totalSteps":20,"warmupSteps":0,"warmupStartFactor":0}` — protobuf's
 * `json_format.ParseDict(d, LrSchedule())` accepts it as it is.
 */
import { lrScheduleKindToJSON, type LrSchedule, type ParameterValue } from "../client/gen/hpod/v1/search_space.js";
import type { LrScheduleValue } from "../server/core/space.js";

/** The shared schedule shape (core/space.ts), with the kind spelled as its proto enum name. */
export type ScheduleJson = Omit<LrScheduleValue, "kind"> & { kind: string };

export type PlainParam = number | string | boolean | ScheduleJson;

export function scheduleToJson(s: LrSchedule): ScheduleJson {
  const values: Record<string, number> = {};
  for (const key of Object.keys(s.values).sort()) values[key] = s.values[key];
  return {
    kind: String(lrScheduleKindToJSON(s.kind)),
    values,
    milestones: [...s.milestones],
    mode: s.mode,
    totalSteps: s.totalSteps,
    warmupSteps: s.warmupSteps,
    warmupStartFactor: s.warmupStartFactor,
  };
}

/** One value as plain JSON; undefined for an empty oneof. */
export function plainParam(value: ParameterValue): PlainParam | undefined {
  const kind = value.kind;
  if (kind === undefined) return undefined;
  return kind.$case === "lrScheduleValue" ? scheduleToJson(kind.value) : kind.value;
}

/** Every present parameter, sorted by name. */
export function plainParams(params: Readonly<Record<string, ParameterValue>>): Record<string, PlainParam> {
  const out: Record<string, PlainParam> = {};
  for (const name of Object.keys(params).sort()) {
    const v = plainParam(params[name]);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
