/** Command line of bench/load.ts. */
import { commonFlag, eachFlag, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, UsageError, type CommonOptions } from "../speed/args.js";

export { UsageError };

export const USAGE = `usage: node dist/bench/load.js [options]
       node dist/bench/load.js --soak SECONDS [--workers 64] [options]

Load: per N, echo, hpod trials (samplers x clients) and Optuna 3.1 doing the same
loop with N processes on its journal file and SQLite storages, all in one run.

  --workers LIST            concurrency levels N (default 1,8,64,256; soak: 64)
  --seconds S               measured seconds per phase (default 10)
  --warmup S                unmeasured seconds before each phase (default 1)
  --samplers LIST           hpod samplers: random,tpe (default both)
  --clients LIST            hpod client kinds: ts,python (default both)
  --optuna LIST             Optuna storages: journal,sqlite (default both)
  --no-optuna               skip Optuna
  --optuna-samplers LIST    Optuna samplers (default: same as --samplers)
  --optuna-max-procs P      at most P Optuna processes per phase (default 64); a capped
                            level says so
  --intermediate K          intermediate Reports per trial before the final one (default 0)
  --client-procs K          grpc-js client processes (default 1 for N=1, 2 for N>=8)
  --python-procs K          Python client processes (default ceil(N/32))
  --workers-per-channel M   workers sharing one connection (default 8)
  --json FILE               also write every number to FILE
  --soak SECONDS            soak mode: N TS workers (random sampler) for SECONDS; daemon RSS,
                            event-loop lag and throughput every --sample-every seconds
  --sample-every S          soak sampling period (default 10)
  --soak-rotate S           soak: move the workers to a fresh study every S seconds and delete
                            the previous one, so the data kept in memory stays bounded
                            (default 0: one study that grows for the whole soak)
`;

export type ClientKind = "ts" | "python";
export type Storage = "journal" | "sqlite";
export type Sampler = "random" | "tpe";

export interface LoadOptions extends CommonOptions {
  samplers: Sampler[];
  clients: ClientKind[];
  optuna: Storage[];
  optunaSamplers: Sampler[] | undefined;
  optunaMaxProcs: number;
  intermediate: number;
  pythonProcs: number | undefined;
  soak: number | undefined;
  sampleEvery: number;
  soakRotate: number;
}

export function parseLoadArgs(argv: readonly string[]): LoadOptions {
  const o: LoadOptions = {
    workers: [],
    seconds: 10,
    warmup: 1,
    samplers: ["random", "tpe"],
    clients: ["ts", "python"],
    optuna: ["journal", "sqlite"],
    optunaSamplers: undefined,
    optunaMaxProcs: 64,
    intermediate: 0,
    clientProcs: undefined,
    pythonProcs: undefined,
    workersPerChannel: 8,
    json: undefined,
    soak: undefined,
    sampleEvery: 10,
    soakRotate: 0,
    child: false,
    help: false,
  };
  eachFlag(argv, (flag, value) => {
    if (commonFlag(o, flag, value)) return;
    switch (flag) {
      case "--samplers":
        o.samplers = list(flag, value(), ["random", "tpe"] as const);
        break;
      case "--clients":
        o.clients = list(flag, value(), ["ts", "python"] as const);
        break;
      case "--optuna":
        o.optuna = list(flag, value(), ["journal", "sqlite"] as const);
        break;
      case "--no-optuna":
        o.optuna = [];
        break;
      case "--optuna-samplers":
        o.optunaSamplers = list(flag, value(), ["random", "tpe"] as const);
        break;
      case "--optuna-max-procs":
        o.optunaMaxProcs = positiveInt(flag, value());
        break;
      case "--intermediate":
        o.intermediate = nonNegativeInt(flag, value());
        break;
      case "--python-procs":
        o.pythonProcs = positiveInt(flag, value());
        break;
      case "--soak":
        o.soak = positiveNumber(flag, value());
        break;
      case "--sample-every":
        o.sampleEvery = positiveNumber(flag, value());
        break;
      case "--soak-rotate":
        o.soakRotate = nonNegativeNumber(flag, value());
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  });
  if (o.workers.length === 0) o.workers = o.soak !== undefined ? [64] : [1, 8, 64, 256];
  if (o.soak !== undefined && o.workers.length !== 1) throw new UsageError("--soak takes one worker count");
  return o;
}

/** Python client processes for N workers: up to 32 worker threads per process. */
export function pythonProcsFor(n: number, o: LoadOptions): number {
  return Math.min(n, o.pythonProcs ?? Math.ceil(n / 32));
}

function list<T extends string>(flag: string, s: string, allowed: readonly T[]): T[] {
  const items = s.split(",").filter((x) => x !== "");
  for (const x of items) if (!(allowed as readonly string[]).includes(x)) throw new UsageError(`${flag}: "${x}" is not one of ${allowed.join(", ")}`);
  return items as T[];
}
