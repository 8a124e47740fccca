/**
 * `hpo runner`: runs a study's trials on this machine's GPUs (or CPU slots)
 * or through Slurm. It has its own flags (see gpu-runner/options.ts), so the
 * dispatcher hands it the raw argv instead of the shared option table.
 */
import { parseArgs } from "node:util";

import { Runner, RunnerSetupError } from "../../../gpu-runner/runner.js";
import { resolveRunnerOptions, RUNNER_FLAGS, RUNNER_USAGE, RunnerOptionsError, type RawValues } from "../../../gpu-runner/options.js";
import { createLogger } from "../../../server/log.js";
import { HpodClientError } from "../../errors.js";
import { DEFAULT_ADDRESS, HpodClient } from "../../hpod-client.js";
import type { CliIo } from "../context.js";
import { ownCommandArgv } from "../own-command.js";

/**
 * When argv is a runner command (`[--address A] [--json] runner ...`), the
 * argv without the word `runner`; else undefined.
 */
export function runnerArgv(argv: readonly string[]): string[] | undefined {
  const own = ownCommandArgv(argv, "runner");
  return own === undefined ? undefined : [...own.globals, ...own.args];
}

/** Runs `hpo runner`; resolves to the exit status (0 ok, 1 daemon/trial setup failure, 2 bad options). */
export async function runnerMain(argv: readonly string[], io: CliIo, signal: AbortSignal): Promise<number> {
  let values: RawValues & { help?: boolean; address?: string; json?: boolean };
  try {
    values = parseArgs({ args: [...argv], options: RUNNER_FLAGS, allowPositionals: false, strict: true }).values;
  } catch (error) {
    io.stderr.write(`hpo runner: ${error instanceof Error ? error.message : String(error)}\n\n${RUNNER_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout.write(RUNNER_USAGE);
    return 0;
  }
  const envAddress = io.env.HPOD_ADDRESS !== undefined && io.env.HPOD_ADDRESS !== "" ? io.env.HPOD_ADDRESS : undefined;
  const address = values.address ?? envAddress ?? DEFAULT_ADDRESS;
  let options;
  try {
    options = resolveRunnerOptions(values, address);
  } catch (error) {
    if (error instanceof RunnerOptionsError) {
      io.stderr.write(`hpo runner: ${error.message}\n\n${RUNNER_USAGE}`);
      return 2;
    }
    throw error;
  }

  const log = createLogger({ format: options.json ? "json" : "text", write: (line) => io.stderr.write(`${line}\n`) });
  const client = new HpodClient({ address });
  const runner = new Runner(options, { api: client, log });
  // The first SIGTERM/SIGINT aborts `signal` (graceful); a second one stops running trials at once.
  let signals = 0;
  const onSignal = (): void => {
    if (++signals >= 2) runner.shutdown();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await runner.run(signal);
    return 0;
  } catch (error) {
    if (error instanceof RunnerSetupError) {
      io.stderr.write(`hpo runner: ${error.message}\n`);
      return 2;
    }
    if (error instanceof HpodClientError) {
      io.stderr.write(`hpo runner: ${error.codeName}: ${error.details}\n`);
      return 1;
    }
    io.stderr.write(`hpo runner: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    client.close();
  }
}
