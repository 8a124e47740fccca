/**
 * Record codecs. Records are JSON: readable with any LevelDB tool, and new
 * optional fields need no migration. Non-finite numbers (a NaN objective of a
 * failed trial, an infinite pruner bound) are not JSON. In study records they
 * travel as strings behind a NUL marker; a user string that itself starts
 * with NUL gets a second one, so no user value can be mistaken for a tag.
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

// Trials and measurements are written on every report, so they skip the
// generic replacer: only their numeric measurement fields can hold non-finite
// numbers, which travel there as the strings "NaN", "Infinity", "-Infinity"
// (unambiguous, since those fields hold nothing but numbers).
const numOut = (x: number): number | string => (Number.isFinite(x) ? x : String(x));
const numIn = (x: number | string): number => (typeof x === "number" ? x : Number(x));
const allFinite = (xs: readonly number[]): boolean => xs.every(Number.isFinite);

type Encoded<T> = Omit<T, "values" | "constraintValues" | "metrics"> & {
  values: Array<number | string>;
  constraintValues: Array<number | string>;
  metrics: Record<string, number | string>;
};

function measurementOut(m: Measurement): Measurement | Encoded<Measurement> {
  const metrics = Object.values(m.metrics);
  if (allFinite(m.values) && allFinite(m.constraintValues) && allFinite(metrics)) return m;
  return {
    ...m,
    values: m.values.map(numOut),
    constraintValues: m.constraintValues.map(numOut),
    metrics: Object.fromEntries(Object.entries(m.metrics).map(([k, v]) => [k, numOut(v)])),
  };
}

function measurementIn(m: Encoded<Measurement>): Measurement {
  return {
    ...m,
    values: m.values.map(numIn),
    constraintValues: m.constraintValues.map(numIn),
    metrics: Object.fromEntries(Object.entries(m.metrics).map(([k, v]) => [k, numIn(v)])),
  };
}

export function encodeTrial(t: Trial): string {
  const { intermediate: _i, heartbeatTime: _h, ...rest } = t;
  return JSON.stringify(rest.final ? { ...rest, final: measurementOut(rest.final) } : rest);
}

export function decodeTrial(v: string): TrialRecord {
  const t = JSON.parse(v) as Omit<TrialRecord, "final"> & { final?: Encoded<Measurement> };
  return t.final ? { ...t, final: measurementIn(t.final) } : (t as TrialRecord);
}

export const encodeMeasurement = (m: Measurement): string => JSON.stringify(measurementOut(m));
export const decodeMeasurement = (v: string): Measurement => measurementIn(JSON.parse(v) as Encoded<Measurement>);
