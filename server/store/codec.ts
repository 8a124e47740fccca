/**
 * Record codecs. Records are JSON: readable with any LevelDB tool, and new
 * optional fields need no migration. Non-finite numbers (a NaN objective of a
 * failed trial) are not JSON, so they travel as tagged strings.
 */
import type { Measurement, Study, Trial } from "../core/model.js";

const NAN = "__NaN__";
const POS_INF = "__+Inf__";
const NEG_INF = "__-Inf__";

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    return Number.isNaN(value) ? NAN : value > 0 ? POS_INF : NEG_INF;
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value === NAN) return NaN;
  if (value === POS_INF) return Infinity;
  if (value === NEG_INF) return -Infinity;
  return value;
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
