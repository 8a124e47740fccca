/**
 * The CLI as a function: parses argv, runs the command, prints errors as
 * `hpo: <CODE>: <message>` and returns the exit status.
 */
import { status as Status } from "@grpc/grpc-js";

import { HpodClientError, statusName } from "../errors.js";
import { ProtoJsonError } from "../proto-json.js";
import { parseCommandLine, type CommandName, type OptionValues } from "./args.js";
import { adminBackup } from "./commands/admin.js";
import { exportCommand } from "./commands/export.js";
import { predictArgv, predictMain } from "./commands/predict.js";
import { runnerArgv, runnerMain } from "./commands/runner.js";
import { studyCreate, studyDelete, studyGet, studyList, studyPause, studyResume, studyStop } from "./commands/study.js";
import { bestCommand, trialsCommand } from "./commands/trials.js";
import { tuneArgv, tuneMain } from "./commands/tune.js";
import { watchCommand } from "./commands/watch.js";
import { CliContext, type CliIo } from "./context.js";
import { USAGE, UsageError } from "./usage.js";

type Handler = (ctx: CliContext, args: string[], values: OptionValues) => Promise<void>;

const HANDLERS: Record<CommandName, Handler> = {
  "study create": studyCreate,
  "study list": studyList,
  "study get": studyGet,
  "study delete": studyDelete,
  "study pause": studyPause,
  "study resume": studyResume,
  "study stop": studyStop,
  trials: trialsCommand,
  best: bestCommand,
  export: exportCommand,
  watch: watchCommand,
  "admin backup": adminBackup,
};

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The `CODE: message` of an error, as printed after `hpo: `. */
export function describeError(error: unknown): string {
  if (error instanceof HpodClientError) return `${error.codeName}: ${error.details}`;
  if (error instanceof ProtoJsonError) return `${statusName(Status.INVALID_ARGUMENT)}: ${error.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return `${statusName(Status.UNKNOWN)}: ${message}`;
}

/** Runs the CLI; resolves to the exit status. */
export async function runCli(argv: readonly string[], io: CliIo, signal: AbortSignal = new AbortController().signal): Promise<number> {
  // `hpo runner` has its own flags (gpu-runner/options.ts).
  const runnerArgs = runnerArgv(argv);
  if (runnerArgs !== undefined) return runnerMain(runnerArgs, io, signal);
  // `hpo tune` too (client/cli/commands/tune.ts).
  const tuneArgs = tuneArgv(argv);
  if (tuneArgs !== undefined) return tuneMain(tuneArgs, io, signal);
  // And `hpo predict` (client/cli/commands/predict.ts).
  const predictArgs = predictArgv(argv);
  if (predictArgs !== undefined) return predictMain(predictArgs, io);
  let ctx: CliContext | undefined;
  try {
    const line = parseCommandLine(argv, io.env);
    if (line.command === undefined) {
      if (line.values.help === true) {
        io.stdout.write(USAGE);
        return EXIT_OK;
      }
      throw new UsageError("missing command");
    }
    ctx = new CliContext(io, line.address, line.json, signal);
    await HANDLERS[line.command](ctx, line.args, line.values);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`hpo: ${error.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (error instanceof HpodClientError && error.code === Status.CANCELLED && signal.aborted) return EXIT_OK;
    io.stderr.write(`hpo: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  } finally {
    ctx?.close();
  }
}
