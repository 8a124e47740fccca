/** Command line of bench/speed.ts (its number parsers are shared with bench/load). */

export const USAGE = `usage: node dist/bench/speed.js [options]

  --workers LIST            concurrency levels, comma-separated (default 1,8,64)
  --seconds S               measured seconds per phase (default 10)
  --warmup S                warm-up seconds before each measurement (default 1)
  --client-procs K          client processes the workers are split across
                            (default: 1 for N=1, 2 for N>=8; never more than N)
  --workers-per-channel M   workers sharing one gRPC connection (default 8)
  --json FILE               also write every number to FILE
  --address HOST:PORT       use a running daemon instead of starting one
  --daemon-pid PID          with --address: the daemon's pid, for CPU accounting
`;

export interface Options extends CommonOptions {
  address: string | undefined;
  daemonPid: number | undefined;
}

export class UsageError extends Error {}

/** The options bench/speed and bench/load share. */
export interface CommonOptions {
  workers: number[];
  seconds: number;
  warmup: number;
  /** undefined: the per-N default. */
  clientProcs: number | undefined;
  workersPerChannel: number;
  json: string | undefined;
  /** Set when this process is a forked client process. */
  child: boolean;
  help: boolean;
}

/** Walks argv; `value()` takes the flag's argument (the next one) or throws. */
export function eachFlag(argv: readonly string[], handle: (flag: string, value: () => string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    handle(flag, () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    });
  }
}

/** Sets a flag both benches share; false when `flag` is not one of them. */
export function commonFlag(o: CommonOptions, flag: string, value: () => string): boolean {
  switch (flag) {
    case "--workers":
      o.workers = value().split(",").map((s) => positiveInt(flag, s));
      return true;
    case "--seconds":
      o.seconds = positiveNumber(flag, value());
      return true;
    case "--warmup":
      o.warmup = nonNegativeNumber(flag, value());
      return true;
    case "--client-procs":
      o.clientProcs = positiveInt(flag, value());
      return true;
    case "--workers-per-channel":
      o.workersPerChannel = positiveInt(flag, value());
      return true;
    case "--json":
      o.json = value();
      return true;
    case "--child":
      o.child = true;
      return true;
    case "--help":
    case "-h":
      o.help = true;
      return true;
    default:
      return false;
  }
}

export function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    workers: [1, 8, 64],
    seconds: 10,
    warmup: 1,
    clientProcs: undefined,
    workersPerChannel: 8,
    json: undefined,
    address: undefined,
    daemonPid: undefined,
    child: false,
    help: false,
  };
  eachFlag(argv, (flag, value) => {
    if (commonFlag(o, flag, value)) return;
    switch (flag) {
      case "--address":
        o.address = value();
        break;
      case "--daemon-pid":
        o.daemonPid = positiveInt(flag, value());
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  });
  return o;
}

/** Client processes for N workers: one process cannot drive more than ~5k calls/s. */
export function clientProcsFor(n: number, o: Pick<CommonOptions, "clientProcs">): number {
  return Math.min(n, o.clientProcs ?? (n >= 8 ? 2 : 1));
}

export function positiveInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a positive integer, got "${s}"`);
  return n;
}

export function positiveNumber(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a positive number, got "${s}"`);
  return n;
}

export function nonNegativeNumber(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: expected a number >= 0, got "${s}"`);
  return n;
}

export function nonNegativeInt(flag: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag}: expected an integer >= 0, got "${s}"`);
  return n;
}
