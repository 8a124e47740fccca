/**
 * `hpo export STUDY --format csv|json [-o FILE]`: every trial, paged through
 * ListTrials.
 */
import { writeFile } from "node:fs/promises";

import { Trial } from "../../gen/hpod/v1/trial.js";
import { messageToJson } from "../../proto-json.js";
import type { OptionValues } from "../args.js";
import type { CliContext } from "../context.js";
import { trialsToCsv } from "../csv.js";
import { UsageError } from "../usage.js";

export async function exportCommand(ctx: CliContext, args: string[], values: OptionValues): Promise<void> {
  const name = args[0];
  const format = (values.format ?? "csv").toLowerCase();
  if (format !== "csv" && format !== "json") throw new UsageError(`--format must be csv or json, got "${values.format}"`);
  const client = ctx.client();
  const { study } = await client.getStudy({ name });
  const trials: Trial[] = [];
  for await (const trial of client.iterateTrials({ study: name, pageSize: 1000, omitIntermediate: format === "csv" })) {
    trials.push(trial);
  }
  const text =
    format === "csv"
      ? trialsToCsv(study, trials)
      : `${JSON.stringify(
          trials.map((t) => messageToJson("hpod.v1.Trial", Trial, t)),
          null,
          2,
        )}\n`;
  if (values.output === undefined || values.output === "-") {
    await ctx.out(text);
    return;
  }
  await writeFile(values.output, text);
  ctx.note(`exported ${trials.length} trials of ${name} to ${values.output}`);
}
