/**
 * The CLI's help text and the error that prints it (exit code 2).
 */

export const USAGE = `Usage: hpo [--address HOST:PORT] [--json] <command> [options]

Commands:
  study create -f FILE [--load-if-exists]     create a study from a YAML or JSON spec
                                              (an hpod.v1.Study in proto3 JSON form)
  study list [--page-size N] [--all]          list studies (one page unless --all)
  study get NAME                              show a study
  study delete NAME [--yes]                   delete a study and its trials
  study pause NAME                            hand out no new trials
  study resume NAME                           hand out trials again
  study stop NAME                             stop the study for good
  trials STUDY [--state S]... [--limit N]     list trials; S: queued, running, complete,
                                              pruned, failed (repeat or comma-separate)
  best STUDY                                  the best trial (the Pareto set for several
                                              objectives)
  export STUDY [--format csv|json] [-o FILE]  every trial as CSV (default) or a JSON array
  watch STUDY                                 follow a study's trials live
  runner --study S --command CMD [...]        run the study's trials on this machine's GPUs
                                              (or CPU slots) or as Slurm jobs; see
                                              hpo runner --help and docs/RUNNER.md
  tune --data FILE --target COL [...]         tune a built-in TensorFlow.js MLP on a CSV file
                                              (embedded daemon unless --address); see
                                              hpo tune --help and docs/TUNE.md
  predict --model DIR --data FILE [...]       apply a model saved by hpo tune to a CSV file
                                              (scored when it has the target column); see
                                              hpo predict --help
  admin backup --out DIR                      online backup of the daemon's store into DIR
                                              (on the daemon's host; must not exist yet;
                                              restore with hpod serve --data-dir DIR; reads
                                              HPOD_TOKEN, HPOD_TLS_CA/_CERT/_KEY if set)

Global options:
  --address HOST:PORT  daemon address (env HPOD_ADDRESS, default 127.0.0.1:50551)
  --json               print proto3 JSON instead of tables
  -h, --help           show this help

Exit status: 0 on success, 1 when a call or input fails, 2 on a usage error.
`;

/** A command line that does not parse; printed with the usage text, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
