/**
 * The human table of trials: id, state, one column per objective and per
 * parameter, duration and reason.
 */
import type { Study } from "../gen/hpod/v1/study.js";
import type { Trial } from "../gen/hpod/v1/trial.js";
import { objectiveNames, paramNames } from "./columns.js";
import { formatDuration, formatNumber, formatParam, trialDurationMs, trialStateName } from "./display.js";
import { formatTable, type Column } from "./table.js";

export function trialsTable(study: Study | undefined, trials: readonly Trial[], now = Date.now()): string {
  const objectives = objectiveNames(study, trials);
  const params = paramNames(study, trials);
  const columns: Column[] = [
    { header: "ID", align: "right" },
    { header: "STATE" },
    ...objectives.map((o) => ({ header: o.toUpperCase(), align: "right" as const })),
    ...params.map((p) => ({ header: p })),
    { header: "DURATION", align: "right" },
    { header: "REASON" },
  ];
  const rows = trials.map((t) => {
    const values = t.finalMeasurement?.values ?? [];
    const duration = trialDurationMs(t, now);
    return [
      String(t.id),
      trialStateName(t.state),
      ...objectives.map((_, i) => (values[i] === undefined ? "" : formatNumber(values[i]))),
      ...params.map((p) => formatParam(t.params[p])),
      duration === undefined ? "" : formatDuration(duration),
      t.stateReason,
    ];
  });
  return formatTable(columns, rows);
}
