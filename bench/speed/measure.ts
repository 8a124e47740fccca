/**
 * One concurrency level: a fresh study, then the echo phase and the trials
 * phase with the same client processes and the same connections per process,
 * so the two differ only in what the daemon does per call.
 */
import * as grpc from "@grpc/grpc-js";
import { HpodServiceClient, type CreateStudyResponse } from "../../client/gen/hpod/v1/hpod_service.js";
import { Direction, Study, StudySpec } from "../../client/gen/hpod/v1/study.js";
import { clientProcsFor, type Options } from "./args.js";
import { cpuTimeMs, cpuTimes, machineBusyMs } from "./daemon.js";
import { ClientPool, split } from "./pool.js";
import type { Assignment, ChildResult, Phase, Window } from "./protocol.js";
import { summarize, type Summary } from "./stats.js";

const CALL_TIMEOUT_MS = 10_000;
const ECHO_PAYLOAD_BYTES = 32;
/** Children answer within call timeout + their drain grace; this only catches a hung child. */
const RESULT_SLACK_MS = CALL_TIMEOUT_MS + 15_000;

export interface Target {
  address: string;
  daemonPid: number | undefined;
}

export interface PhaseResult {
  phase: Phase;
  seconds: number;
  /** Trials (Suggest + final Report) or echo calls completed inside the window. */
  completed: number;
  perSecond: number;
  errors: number;
  firstError: string;
  stuckLoops: number;
  latencyMs: { suggest?: Summary; report?: Summary; roundTrip?: Summary; echo?: Summary };
  /** null where /proc could not be read. */
  daemonCpuMs: number | null;
  daemonCpuMsPerOp: number | null;
  /** The kernel's share of it: syscalls, fsync and the file system's journal included. */
  daemonSysCpuMsPerOp: number | null;
  /** Daemon CPU seconds per wall second: 1.0 is one core fully busy. */
  daemonCores: number | null;
  /** All client processes together, same unit. */
  clientCores: number | null;
  /** Everything else on the machine, same unit: well above 0 means the numbers are skewed by other load. */
  otherCores: number | null;
}

export interface LevelResult {
  workers: number;
  clientProcs: number;
  connections: number;
  study: string;
  echo: PhaseResult;
  trials: PhaseResult;
  ratios: {
    /** The N=1 bar: <= 3. */
    roundTripP50OverTwoEchoP50: number;
    /** The N=64 bar: >= 0.5. */
    trialsPerSecOverHalfEchoPerSec: number;
  };
}

/** What runs a phase's workers: forked grpc-js processes (ClientPool) or, in bench/load, Python processes. */
export interface ClientGroup {
  pids(): number[];
  prepare(assignments: Assignment[]): Promise<void>;
  go(window: Window, resultTimeoutMs: number): Promise<ChildResult[]>;
}

/** The measured part of a phase: `warmup` seconds unmeasured, then `seconds` measured. */
export interface PhaseTiming {
  warmup: number;
  seconds: number;
}

export async function measureLevel(target: Target, n: number, opts: Options, script: string): Promise<LevelResult> {
  const study = await createStudy(target.address, `speed-n${n}-${Date.now().toString(36)}`);
  const pool = ClientPool.start(clientProcsFor(n, opts), script);
  try {
    const phase = (p: Phase): Promise<PhaseResult> => runPhase(pool, target, assignments(p, target.address, study, workerIds(n), pool.size, opts.workersPerChannel), opts);
    const echo = await phase("echo");
    const trials = await phase("trials");
    return {
      workers: n,
      clientProcs: pool.size,
      connections: split(workerIds(n), pool.size).reduce((sum, ids) => sum + Math.ceil(ids.length / opts.workersPerChannel), 0),
      study,
      echo,
      trials,
      ratios: {
        roundTripP50OverTwoEchoP50: (trials.latencyMs.roundTrip?.p50 ?? NaN) / (2 * (echo.latencyMs.echo?.p50 ?? NaN)),
        trialsPerSecOverHalfEchoPerSec: trials.perSecond / (echo.perSecond / 2),
      },
    };
  } finally {
    await pool.close();
  }
}

export interface StudyOptions {
  /** Sampler (default "random"); bench/load also uses "tpe". */
  algorithm?: string;
  /** Pruner name; absent: the daemon's default. */
  pruner?: string;
}

/**
 * Random sampler (by default) on a small mixed space: the sampler is cheap, so the cost measured is the daemon's
 * plumbing and durable writes.
 */
function studySpec(name: string, o: StudyOptions = {}): Study {
  return Study.fromPartial({
    name,
    spec: StudySpec.fromPartial({
      searchSpace: {
        parameters: [
          { name: "x", description: "", domain: { $case: "floatDomain", value: { low: -5, high: 5, log: false } } },
          { name: "lr", description: "", domain: { $case: "floatDomain", value: { low: 1e-5, high: 1, log: true } } },
          { name: "n", description: "", domain: { $case: "intDomain", value: { low: 1, high: 8, log: false } } },
        ],
      },
      objectives: [{ name: "loss", direction: Direction.DIRECTION_MINIMIZE }],
      algorithm: { name: o.algorithm ?? "random", seed: 42 },
      ...(o.pruner !== undefined ? { pruner: { name: o.pruner } } : {}),
      maxTrials: 0,
    }),
  });
}

export async function createStudy(address: string, name: string, o: StudyOptions = {}): Promise<string> {
  const client = new HpodServiceClient(address, grpc.credentials.createInsecure());
  try {
    const res = await new Promise<CreateStudyResponse>((resolve, reject) =>
      client.createStudy({ study: studySpec(name, o), loadIfExists: false }, new grpc.Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, r) =>
        err ? reject(err) : resolve(r),
      ),
    );
    return res.study?.name ?? name;
  } finally {
    client.close();
  }
}

export function workerIds(n: number, prefix = "speed-w"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

/** The worker ids split over `procs` client processes, one assignment each. */
export function assignments(phase: Phase, address: string, study: string, ids: string[], procs: number, workersPerChannel: number, intermediate = 0): Assignment[] {
  return split(ids, procs).map((share) => ({
    phase,
    address,
    study,
    workerIds: share,
    workersPerChannel,
    callTimeoutMs: CALL_TIMEOUT_MS,
    payloadBytes: ECHO_PAYLOAD_BYTES,
    ...(intermediate > 0 ? { intermediate } : {}),
  }));
}

/** One phase on a prepared group: connect, run the common window, aggregate samples and the CPU read at its edges. */
export async function runPhase(pool: ClientGroup, target: Target, work: Assignment[], opts: PhaseTiming): Promise<PhaseResult> {
  await pool.prepare(work);
  const start = Date.now();
  const window: Window = { measureFrom: start + opts.warmup * 1000, measureUntil: start + (opts.warmup + opts.seconds) * 1000 };
  const cpu = sampleCpu(window, target.daemonPid, pool.pids());
  const results = await pool.go(window, opts.warmup * 1000 + opts.seconds * 1000 + RESULT_SLACK_MS);
  return aggregate(work[0].phase, results, await cpu, opts.seconds);
}

interface CpuDelta {
  wallMs: number;
  daemonMs: number | undefined;
  daemonSysMs: number | undefined;
  clientsMs: number | undefined;
  machineMs: number | undefined;
}

/** Reads CPU times at the window's edges, so the warm-up and the drain are left out as for the latencies. */
function sampleCpu(window: Window, daemonPid: number | undefined, clientPids: number[]): Promise<CpuDelta> {
  const read = () => ({ at: Date.now(), daemon: cpuTimes(daemonPid), clients: sumDefined(clientPids.map((p) => cpuTimeMs(p))), machine: machineBusyMs() });
  const at = <T>(time: number, f: () => T): Promise<T> => new Promise((r) => setTimeout(() => r(f()), Math.max(0, time - Date.now())));
  return Promise.all([at(window.measureFrom, read), at(window.measureUntil, read)]).then(([a, b]) => ({
    wallMs: b.at - a.at,
    daemonMs: delta(a.daemon && a.daemon.userMs + a.daemon.systemMs, b.daemon && b.daemon.userMs + b.daemon.systemMs),
    daemonSysMs: delta(a.daemon?.systemMs, b.daemon?.systemMs),
    clientsMs: delta(a.clients, b.clients),
    machineMs: delta(a.machine, b.machine),
  }));
}

function delta(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined ? b - a : undefined;
}

function sumDefined(xs: (number | undefined)[]): number | undefined {
  return xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((s, x) => s + (x ?? 0), 0);
}

function aggregate(phase: Phase, results: ChildResult[], cpu: CpuDelta, seconds: number): PhaseResult {
  const all = (pick: (r: ChildResult) => number[]): number[] => results.flatMap(pick);
  const completed = results.reduce((s, r) => s + r.completed, 0);
  const latencyMs: PhaseResult["latencyMs"] =
    phase === "echo"
      ? { echo: summarize(all((r) => r.echoMs)) }
      : { suggest: summarize(all((r) => r.suggestMs)), report: summarize(all((r) => r.reportMs)), roundTrip: summarize(all((r) => r.roundTripMs)) };
  return {
    phase,
    seconds,
    completed,
    perSecond: completed / seconds,
    errors: results.reduce((s, r) => s + r.errors, 0),
    firstError: results.map((r) => r.firstError).find((e) => e !== "") ?? "",
    stuckLoops: results.reduce((s, r) => s + r.stuckLoops, 0),
    latencyMs,
    daemonCpuMs: cpu.daemonMs ?? null,
    daemonCpuMsPerOp: cpu.daemonMs !== undefined && completed > 0 ? cpu.daemonMs / completed : null,
    daemonSysCpuMsPerOp: cpu.daemonSysMs !== undefined && completed > 0 ? cpu.daemonSysMs / completed : null,
    daemonCores: cpu.daemonMs !== undefined ? cpu.daemonMs / cpu.wallMs : null,
    clientCores: cpu.clientsMs !== undefined ? cpu.clientsMs / cpu.wallMs : null,
    otherCores: otherCores(cpu),
  };
}

function otherCores(cpu: CpuDelta): number | null {
  if (cpu.machineMs === undefined || cpu.daemonMs === undefined || cpu.clientsMs === undefined) return null;
  // Tick rounding can push a near-zero remainder below 0.
  return Math.max(0, cpu.machineMs - cpu.daemonMs - cpu.clientsMs) / cpu.wallMs;
}
