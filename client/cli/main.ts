#!/usr/bin/env node
/**
 * `hpo`: the command-line client of the hpod daemon. See `hpo --help`.
 */
import { runCli } from "./run.js";

const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort());
process.once("SIGTERM", () => interrupted.abort());
// `hpo export ... | head`: a closed pipe ends the output quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
}, interrupted.signal);
