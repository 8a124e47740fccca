/**
 * Record codecs. Records are JSON: readable with any LevelDB tool, and new
 * optional fields need no migration. Non-finite numbers (a NaN objective of a
 * failed trial) are not JSON, so they travel as strings behind a NUL marker;
 * a user string that itself starts with NUL gets a second one, so no user
 * value can be mistaken for a tag.
 */
import type { Measurement, Study, Trial } from "../core/model.js";

const MARK = "\u0000";
const TAGS: Record<string, number> = { [MARK + "NaN"]: NaN, [MARK + "+Inf"]: Infinity, [MARK + "-Inf"]: -Infinity };

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return MARK + (Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf");
  }
  if (typeof value === "string" && value.startsWith(MARK)) return MARK + value;
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value !== "string" || !value.startsWith(MARK)) return value;
  if (value.startsWith(MARK + MARK)) return value.slice(1);
  return value in TAGS ? TAGS[value] : value;
}

export interface StudyRecord extends Omit<Study, "nextTrialId"> {
  /** Set while DeleteStudy is removing the study's keys; finished on start-up. */
  deleting?: boolean;
}

export type TrialRecord = Omit<Trial, "intermediate" | "heartbeatTime">;

export const encodeStudy = (s: StudyRecord): string => JSON.stringify(s, replacer);
export const decodeStudy = (v: string): StudyRecord => JSON.parse(v, reviver) as StudyRecord;

export function encodeTrial(t: Trial): string {
  const { intermediate: _i, heartbeatTime: _h, ...rest } = t;
  return JSON.stringify(rest, replacer);
}
export const decodeTrial = (v: string): TrialRecord => JSON.parse(v, reviver) as TrialRecord;

export const encodeMeasurement = (m: Measurement): string => JSON.stringify(m, replacer);
export const decodeMeasurement = (v: string): Measurement => JSON.parse(v, reviver) as Measurement;
