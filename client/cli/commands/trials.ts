/**
 * `hpo trials STUDY` and `hpo best STUDY`.
 */
import { GetBestTrialsResponse, ListTrialsResponse } from "../../gen/hpod/v1/hpod_service.js";
import { TrialState, type Trial } from "../../gen/hpod/v1/trial.js";
import { messageToJson } from "../../proto-json.js";
import { intOption, type OptionValues } from "../args.js";
import type { CliContext } from "../context.js";
import { trialsTable } from "../trial-table.js";
import { UsageError } from "../usage.js";

const STATE_NAMES: ReadonlyMap<string, TrialState> = new Map([
  ["queued", TrialState.TRIAL_STATE_QUEUED],
  ["running", TrialState.TRIAL_STATE_RUNNING],
  ["complete", TrialState.TRIAL_STATE_COMPLETE],
  ["completed", TrialState.TRIAL_STATE_COMPLETE],
  ["pruned", TrialState.TRIAL_STATE_PRUNED],
  ["failed", TrialState.TRIAL_STATE_FAILED],
]);

/** Trial states of `--state` values (repeated and/or comma-separated, any case, prefix optional). */
export function parseStates(values: readonly string[] | undefined): TrialState[] {
  const states = new Set<TrialState>();
  for (const value of values ?? []) {
    for (const part of value.split(",")) {
      const key = part.trim().toLowerCase().replace(/^trial_state_/, "");
      if (key === "") continue;
      const state = STATE_NAMES.get(key);
      if (state === undefined) {
        throw new UsageError(`--state: unknown state "${part.trim()}" (queued, running, complete, pruned, failed)`);
      }
      states.add(state);
    }
  }
  return [...states];
}

export async function trialsCommand(ctx: CliContext, args: string[], values: OptionValues): Promise<void> {
  const name = args[0];
  const states = parseStates(values.state);
  const limit = intOption("limit", values.limit, 1, Number.MAX_SAFE_INTEGER);
  const client = ctx.client();
  const { study } = await client.getStudy({ name });
  const trials: Trial[] = [];
  const pageSize = limit === undefined ? 1000 : Math.min(limit, 1000);
  for await (const trial of client.iterateTrials({ study: name, states, pageSize, omitIntermediate: true })) {
    trials.push(trial);
    if (limit !== undefined && trials.length >= limit) break;
  }
  if (ctx.json) {
    await ctx.printJson(messageToJson("hpod.v1.ListTrialsResponse", ListTrialsResponse, { trials, nextPageToken: "" }));
    return;
  }
  await ctx.out(trialsTable(study, trials));
}

export async function bestCommand(ctx: CliContext, args: string[]): Promise<void> {
  const name = args[0];
  const client = ctx.client();
  const response = await client.getBestTrials({ study: name });
  if (ctx.json) {
    await ctx.printJson(messageToJson("hpod.v1.GetBestTrialsResponse", GetBestTrialsResponse, response));
    return;
  }
  if (response.trials.length === 0) {
    ctx.note(`study ${name} has no feasible complete trial yet`);
    return;
  }
  const { study } = await client.getStudy({ name });
  await ctx.out(trialsTable(study, response.trials));
}
