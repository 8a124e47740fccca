/**
 * CSV export of trials: one row per trial.
 */
import { LrSchedule } from "../gen/hpod/v1/search_space.js";
import type { ParameterValue } from "../gen/hpod/v1/search_space.js";
import type { Study } from "../gen/hpod/v1/study.js";
import type { Trial } from "../gen/hpod/v1/trial.js";
import { messageToJson } from "../proto-json.js";
import { objectiveNames, paramNames } from "./columns.js";
import { formatTime, trialStateName } from "./display.js";

/** Quotes a CSV cell when it holds a comma, quote or line break (RFC 4180). */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A parameter value in full precision; a schedule as its proto3 JSON. */
export function csvParam(value: ParameterValue | undefined): string {
  const kind = value?.kind;
  switch (kind?.$case) {
    case undefined:
      return "";
    case "numberValue":
    case "intValue":
    case "boolValue":
      return String(kind.value);
    case "stringValue":
      return kind.value;
    case "lrScheduleValue":
      return JSON.stringify(messageToJson("hpod.v1.LrSchedule", LrSchedule, kind.value));
  }
}

/**
 * The CSV text of `trials`: columns id, state, `params.<name>` per parameter,
 * `values.<objective>` per objective, start_time, end_time,
 * duration_seconds, state_reason.
 */
export function trialsToCsv(study: Study | undefined, trials: readonly Trial[]): string {
  const params = paramNames(study, trials);
  const objectives = objectiveNames(study, trials);
  const header = [
    "id",
    "state",
    ...params.map((p) => `params.${p}`),
    ...objectives.map((o) => `values.${o}`),
    "start_time",
    "end_time",
    "duration_seconds",
    "state_reason",
  ];
  const rows = trials.map((t) => {
    const values = t.finalMeasurement?.values ?? [];
    const duration =
      t.startTime !== undefined && t.endTime !== undefined ? String((t.endTime.getTime() - t.startTime.getTime()) / 1000) : "";
    return [
      String(t.id),
      trialStateName(t.state),
      ...params.map((p) => csvParam(t.params[p])),
      ...objectives.map((_, i) => (values[i] === undefined ? "" : String(values[i]))),
      formatTime(t.startTime),
      formatTime(t.endTime),
      duration,
      t.stateReason,
    ];
  });
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\n") + "\n";
}
