/**
 * One concurrency level N of bench/load.ts: Echo (the bare-RPC reference), hpod trials for every sampler and client
 * kind, each on a fresh study, then Optuna with N processes (capped) on each storage. Every phase uses the window
 * scheme of bench/speed (warm-up unmeasured, only work finishing inside the window counted, CPU read at its edges).
 */
import { assignments, createStudy, runPhase, workerIds, type PhaseResult, type Target } from "../speed/measure.js";
import { ClientPool } from "../speed/pool.js";
import type { Phase } from "../speed/protocol.js";
import { clientProcsFor } from "../speed/args.js";
import { pythonProcsFor, type ClientKind, type LoadOptions, type Sampler, type Storage } from "./args.js";
import { runOptuna, type OptunaResult } from "./optuna.js";
import { startPythonPool } from "./python.js";

export interface LatPair {
  p50: number | null;
  p99: number | null;
}

export interface Row {
  label: string;
  kind: "echo" | "hpod" | "optuna";
  client?: ClientKind;
  sampler?: Sampler;
  storage?: Storage;
  /** Client processes (hpod, echo) or Optuna processes. */
  procs: number;
  /** Optuna: fewer processes than N (--optuna-max-procs). */
  capped: boolean;
  /** Trials per second (echo: calls per second). */
  perSecond: number;
  completed: number;
  /** Suggest (Optuna: ask; echo: the Echo call). */
  suggest: LatPair | null;
  /** Every Report call (Optuna: each trial.report and the tell). */
  report: LatPair | null;
  errors: number;
  firstError: string;
  /** hpod, echo: daemon CPU ms per trial (call); Optuna: CPU ms of all its processes per trial. */
  cpuMsPerTrial: number | null;
  /** Cores used by unrelated processes during the phase (hpod, echo). */
  otherCores: number | null;
  hpod?: PhaseResult;
  optuna?: OptunaResult;
}

export interface LevelRows {
  workers: number;
  rows: Row[];
}

export interface LevelContext {
  target: Target;
  script: string;
  pythonEnv: NodeJS.ProcessEnv | undefined;
  log(line: string): void;
}

const pair = (s: { p50: number | null; p99: number | null } | undefined): LatPair | null => (s ? { p50: s.p50, p99: s.p99 } : null);

function hpodRow(label: string, kind: "echo" | "hpod", procs: number, p: PhaseResult, extra: Partial<Row>): Row {
  const lat = p.latencyMs;
  return {
    label,
    kind,
    procs,
    capped: false,
    perSecond: p.perSecond,
    completed: p.completed,
    suggest: pair(kind === "echo" ? lat.echo : lat.suggest),
    report: kind === "echo" ? null : pair(lat.report),
    errors: p.errors,
    firstError: p.firstError,
    cpuMsPerTrial: p.daemonCpuMsPerOp,
    otherCores: p.otherCores,
    hpod: p,
    ...extra,
  };
}

export async function runLevel(n: number, o: LoadOptions, ctx: LevelContext): Promise<LevelRows> {
  const rows: Row[] = [];
  const stamp = Date.now().toString(36);
  const pools: Partial<Record<ClientKind, ClientPool>> = {};
  const pool = (k: ClientKind): ClientPool => {
    let p = pools[k];
    if (!p) {
      if (k === "python" && !ctx.pythonEnv) throw new Error("Python clients asked for but not available");
      p = k === "ts" ? ClientPool.start(clientProcsFor(n, o), ctx.script) : startPythonPool(pythonProcsFor(n, o), ctx.pythonEnv!);
      pools[k] = p;
    }
    return p;
  };
  const phase = async (k: ClientKind, ph: Phase, study: string): Promise<PhaseResult> => {
    const p = pool(k);
    const work = assignments(ph, ctx.target.address, study, workerIds(n, `load-${k}-w`), p.size, o.workersPerChannel, ph === "trials" ? o.intermediate : 0);
    return runPhase(p, ctx.target, work, o);
  };
  try {
    // Echo goes through the same server, interceptors and connections and does no work: the bare unary call.
    for (const k of o.clients) {
      ctx.log(`  N=${n}: echo (${k})`);
      rows.push(hpodRow(`echo (${k})`, "echo", pool(k).size, await phase(k, "echo", ""), { client: k }));
    }
    if (o.clients.length === 0) {
      ctx.log(`  N=${n}: echo (ts)`);
      rows.push(hpodRow("echo (ts)", "echo", pool("ts").size, await phase("ts", "echo", ""), { client: "ts" }));
    }
    for (const s of o.samplers) {
      for (const k of o.clients) {
        const study = await createStudy(ctx.target.address, `load-n${n}-${s}-${k}-${stamp}`, { algorithm: s, pruner: "none" });
        ctx.log(`  N=${n}: hpod ${s} (${k})`);
        rows.push(hpodRow(`hpod ${s} ${k}`, "hpod", pool(k).size, await phase(k, "trials", study), { client: k, sampler: s }));
      }
    }
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.close()));
  }
  const procs = Math.min(n, o.optunaMaxProcs);
  for (const s of o.optunaSamplers ?? o.samplers) {
    for (const st of o.optuna) {
      ctx.log(`  N=${n}: optuna ${s} ${st} (${procs} processes${procs < n ? `, capped from ${n}` : ""})`);
      const r = await runOptuna({ storage: st, sampler: s, procs, warmup: o.warmup, seconds: o.seconds, intermediate: o.intermediate });
      rows.push({
        label: `optuna ${s} ${st}`,
        kind: "optuna",
        sampler: s,
        storage: st,
        procs,
        capped: procs < n,
        perSecond: r.perSecond,
        completed: r.completed,
        suggest: pair(r.latencyMs.ask),
        report: pair(r.latencyMs.tell),
        errors: r.errors,
        firstError: r.firstError,
        cpuMsPerTrial: r.cpuMsPerTrial,
        otherCores: null,
        optuna: r,
      });
    }
  }
  return { workers: n, rows };
}
