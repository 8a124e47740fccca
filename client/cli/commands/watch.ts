/**
 * `hpo watch STUDY`: follows WatchStudy. On a terminal it redraws a header
 * (counts by state, best value) over a table of the latest trials; otherwise
 * it prints one line per event with the summary; with --json, one proto3 JSON
 * event per line.
 */
import { TrialEventKind, trialEventKindToJSON, WatchStudyResponse } from "../../gen/hpod/v1/hpod_service.js";
import type { Study } from "../../gen/hpod/v1/study.js";
import type { Trial } from "../../gen/hpod/v1/trial.js";
import { messageToJson } from "../../proto-json.js";
import { objectiveNames } from "../columns.js";
import type { CliContext } from "../context.js";
import { formatNumber, studyStateName, trialStateName } from "../display.js";
import { summaryLine } from "../summary.js";
import { trialsTable } from "../trial-table.js";

const REDRAW_MS = 100;

function kindName(kind: TrialEventKind): string {
  return trialEventKindToJSON(kind).replace(/^TRIAL_EVENT_KIND_/, "");
}

/** One plain line for an event (without the summary). */
export function eventLine(event: WatchStudyResponse, study: Study | undefined): string {
  const kind = kindName(event.kind);
  const t = event.trial;
  if (t === undefined) {
    const s = event.study;
    return s === undefined ? kind : `${kind} study ${s.name} ${studyStateName(s.state)}${s.stateReason !== "" ? ` (${s.stateReason})` : ""}`;
  }
  const names = objectiveNames(study, [t]);
  const named = (values: readonly number[]): string => values.map((v, i) => `${names[i] ?? i}=${formatNumber(v)}`).join(" ");
  let detail = "";
  if (event.kind === TrialEventKind.TRIAL_EVENT_KIND_REPORTED) {
    const last = t.intermediate[t.intermediate.length - 1];
    if (last !== undefined) detail = ` step ${last.step ?? "?"} ${named(last.values)}`;
  } else if (t.finalMeasurement !== undefined) {
    detail = ` ${named(t.finalMeasurement.values)}`;
  }
  const reason = t.stateReason !== "" ? ` (${t.stateReason})` : "";
  return `${kind} trial ${t.id} ${trialStateName(t.state)}${detail}${reason}`;
}

export async function watchCommand(ctx: CliContext, args: string[]): Promise<void> {
  const name = args[0];
  const client = ctx.client();
  let { study } = await client.getStudy({ name }, { signal: ctx.signal });
  const trials = new Map<number, Trial>();
  const tty = ctx.io.stdout.isTTY === true && !ctx.json;
  let lastDraw = 0;
  let pending: NodeJS.Timeout | undefined;

  const draw = (): void => {
    pending = undefined;
    lastDraw = Date.now();
    const rows = Math.max(5, (ctx.io.stdout.rows ?? 40) - 5);
    const latest = [...trials.values()].sort((a, b) => b.id - a.id).slice(0, rows);
    const header = `hpo watch ${name}   ${new Date().toISOString()}\n${summaryLine(study, trials.values())}\n\n`;
    ctx.io.stdout.write(`\x1b[H\x1b[2J${header}${trialsTable(study, latest)}`);
  };
  const scheduleDraw = (): void => {
    if (pending !== undefined) return;
    const wait = Math.max(0, lastDraw + REDRAW_MS - Date.now());
    pending = setTimeout(draw, wait);
  };

  // On a terminal, redraw each second too, so running durations advance.
  const ticker = tty ? setInterval(scheduleDraw, 1000) : undefined;
  ticker?.unref();
  if (tty) draw();
  else if (!ctx.json) await ctx.out(`watching study ${name}: ${summaryLine(study, trials.values())}\n`);
  try {
    for await (const event of client.watchStudy({ study: name, includeExisting: true }, { signal: ctx.signal })) {
      if (event.study !== undefined) study = event.study;
      if (event.trial !== undefined) trials.set(event.trial.id, event.trial);
      if (ctx.json) {
        await ctx.out(`${JSON.stringify(messageToJson("hpod.v1.WatchStudyResponse", WatchStudyResponse, event))}\n`);
      } else if (tty) {
        scheduleDraw();
      } else {
        await ctx.out(`${new Date().toISOString()} ${eventLine(event, study)} | ${summaryLine(study, trials.values())}\n`);
      }
    }
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    if (pending !== undefined) {
      clearTimeout(pending);
      draw();
    }
  }
}
