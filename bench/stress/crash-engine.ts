/**
 * Crash consistency under SIGKILL: worker loops (Suggest, intermediate Reports, final Report) on several studies
 * while the daemon is killed at random moments and restarted on the same directory. A worker whose Report did not
 * come back retries the same (trial, step) after the restart. Optionally some of the workers are Python (grpcio)
 * workers in one process (bench/load_worker.py crash) that live across the restarts; their acknowledged Reports
 * are checked the same way. Optionally a churn phase (create, fill, delete many
 * studies) is killed too. Afterwards: every acknowledged report is there, no duplicate trial id or step, no trial
 * RUNNING past its lease, every study loads, and every churned study is fully there or fully gone.
 */
import * as grpc from "@grpc/grpc-js";
import { Study, StudySpec } from "../../client/gen/hpod/v1/study.js";
import { TrialState, type Trial } from "../../client/gen/hpod/v1/trial.js";
import { ReportRequest } from "../../client/gen/hpod/v1/hpod_service.js";
import { createRng } from "../../server/core/rng.js";
import { connectStress, grpcCode, listAllTrials, type StressClient } from "./client.js";
import { startStressDaemon, type StressDaemon } from "./daemon.js";
import { PythonCrashWorkers, pythonCan, pythonEnv, type PythonCrashDone } from "../load/python.js";

export interface CrashOptions {
  dataDir: string;
  kills: number;
  workers: number;
  studies: number;
  steps: number;
  seed: number;
  /** Kill moments are uniform in [minRunMs, maxRunMs] after the workers start. */
  minRunMs: number;
  maxRunMs: number;
  /** Kills (out of `kills`) that hit the churn phase (create, fill, delete studies) instead of the workers. */
  churnKills: number;
  /** Of `workers`, how many are Python workers (default 0; needs /usr/bin/python3 with grpcio). */
  pythonWorkers?: number;
  log?: (line: string) => void;
}

export interface CrashFigures {
  kills: number;
  acknowledgedReports: number;
  acknowledgedFinals: number;
  retriedAfterRestart: number;
  lost: number;
  wrongValue: number;
  duplicateTrialIds: number;
  duplicateSteps: number;
  stuckRunning: number;
  studiesLoaded: number;
  churnStudies: number;
  churnDeletedAcked: number;
  churnHalf: number;
  churnLost: number;
  /** Python workers and their share of the acknowledged reports and retries. */
  python: { workers: number; acknowledgedReports: number; acknowledgedFinals: number; retried: number; expired: number; stillPending: number } | null;
  problems: string[];
}

const value = (study: string, trial: number, step: number): number => (trial * 1000 + step) / 7 + study.length;

interface Ack {
  study: string;
  trial: number;
  step: number | "final";
}

interface Pending {
  study: string;
  trial: number;
  step: number | "final";
}

const HEARTBEAT_S = 2;

function spec(): StudySpec {
  return StudySpec.fromPartial({
    searchSpace: { parameters: [{ name: "x", domain: { $case: "floatDomain", value: { low: 0, high: 1, log: false } } }] },
    objectives: [{ name: "loss", direction: 1 }],
    algorithm: { name: "random", seed: 3 },
    pruner: { name: "none" },
    heartbeatTimeout: { seconds: HEARTBEAT_S, nanos: 0 },
    maxStaleRetries: 0,
  });
}

async function start(dataDir: string): Promise<StressDaemon> {
  return startStressDaemon({ dataDir, args: ["--lease-sweep-ms", "100"] });
}

export async function runCrash(o: CrashOptions): Promise<CrashFigures> {
  const log = o.log ?? (() => undefined);
  const rng = createRng(o.seed, 0xc4a5);
  const studies = Array.from({ length: o.studies }, (_, i) => `crash-${i}`);
  const acks: Ack[] = [];
  const pending = new Map<string, Pending>(); // worker id -> report to retry
  let retried = 0;
  const churn = new Map<string, { addsAcked: number; deleteSent: boolean; deleteAcked: boolean; created: boolean }>();
  const problems: string[] = [];
  let kills = 0;
  const pyCount = o.pythonWorkers ?? 0;
  const tsWorkers = o.workers - pyCount;
  if (pyCount < 0 || tsWorkers < 0) throw new Error(`pythonWorkers must be between 0 and workers (${o.workers})`);
  let py: PythonCrashWorkers | undefined;
  let pyEnv: ReturnType<typeof pythonEnv> | undefined;
  const pyAcks = { reports: 0, finals: 0 };
  if (pyCount > 0) {
    const can = pythonCan("grpc");
    if (!can.ok) throw new Error(`Python workers asked for: ${can.why}`);
    pyEnv = pythonEnv();
    py = new PythonCrashWorkers(
      { studies, workers: pyCount, steps: o.steps, env: pyEnv.env },
      {
        ack: (a, wasRetry) => {
          acks.push({ study: a.study, trial: a.trial, step: a.step });
          if (a.step === "final") pyAcks.finals++;
          else pyAcks.reports++;
          if (wasRetry) retried++;
        },
        problem: (p) => problems.push(p),
      },
    );
  }

  for (let round = 0; round < o.kills; round++) {
    const d = await start(o.dataDir);
    const clients = Array.from({ length: 4 }, () => connectStress(d.address, true));
    if (round === 0) for (const s of studies) await clients[0].createStudy({ study: Study.fromPartial({ name: s, spec: spec() }), loadIfExists: true });
    py?.address(d.address);
    const stop = { now: false };
    const isChurn = round >= o.kills - o.churnKills;
    const loops: Promise<void>[] = [];
    for (let w = 0; w < tsWorkers; w++) loops.push(worker(clients[w % clients.length], `w${w}`, studies[w % studies.length], stop));
    if (isChurn) for (let k = 0; k < 4; k++) loops.push(churner(clients[k % clients.length], round, k, stop));
    // A churn round runs long enough for studies to be filled and deleted, so kills land in every part of it.
    const runMs = (isChurn ? 1500 : 0) + o.minRunMs + rng.int(o.maxRunMs - o.minRunMs + 1);
    await new Promise((r) => setTimeout(r, runMs));
    await d.kill();
    kills++;
    stop.now = true;
    await Promise.all(loops);
    clients.forEach((c) => c.close());
    log(`kill ${kills}: after ${runMs} ms${isChurn ? " (churn phase)" : ""}, acknowledged so far ${acks.length}, pending retries ${pending.size}`);
  }

  // The last restart: retry what is pending, then let every lease run out.
  const d = await start(o.dataDir);
  const c = connectStress(d.address);
  let pyDone: PythonCrashDone | undefined;
  if (py) {
    py.address(d.address);
    pyDone = await py.stop();
    pyEnv?.cleanup();
    if (pyDone && pyDone.stillPending > 0) problems.push(`python workers: ${pyDone.stillPending} Reports still unanswered after the last restart`);
  }
  for (const [wid, p] of pending) {
    try {
      await c.report(reportFor(p, wid));
      acks.push(p);
      retried++;
    } catch (e) {
      // A lease may have run out before: FAILED_PRECONDITION is an honest answer, not a loss.
      if (grpcCode(e) !== grpc.status.FAILED_PRECONDITION) problems.push(`retry of ${JSON.stringify(p)} failed: ${(e as Error).message}`);
    }
  }
  pending.clear();
  await new Promise((r) => setTimeout(r, HEARTBEAT_S * 1000 + 1000));

  let lost = 0;
  let wrongValue = 0;
  let dupIds = 0;
  let dupSteps = 0;
  let stuck = 0;
  let loaded = 0;
  const byStudy = new Map<string, Map<number, Trial>>();
  for (const s of studies) {
    try {
      const st = await c.getStudy({ name: s });
      if (st.study?.name === s) loaded++;
      const trials = await listAllTrials(c, s);
      const ids = new Set<number>();
      const m = new Map<number, Trial>();
      for (const t of trials) {
        if (ids.has(t.id)) dupIds++;
        ids.add(t.id);
        m.set(t.id, t);
        const steps = t.intermediate.map((x) => x.step);
        if (new Set(steps).size !== steps.length) {
          dupSteps += steps.length - new Set(steps).size;
          problems.push(`${s} trial ${t.id}: duplicate steps ${JSON.stringify(steps)}`);
        }
        if (t.state === TrialState.TRIAL_STATE_RUNNING) {
          stuck++;
          problems.push(`${s} trial ${t.id} still RUNNING ${HEARTBEAT_S + 1} s after the last restart`);
        }
      }
      byStudy.set(s, m);
    } catch (e) {
      problems.push(`study ${s} does not load: ${(e as Error).message}`);
    }
  }
  for (const a of acks) {
    const t = byStudy.get(a.study)?.get(a.trial);
    if (!t) {
      lost++;
      problems.push(`lost: ${JSON.stringify(a)} (trial missing)`);
      continue;
    }
    if (a.step === "final") {
      const v = t.finalMeasurement?.values[0];
      if (t.state !== TrialState.TRIAL_STATE_COMPLETE || v === undefined) {
        lost++;
        problems.push(`lost: ${JSON.stringify(a)} (state ${TrialState[t.state]})`);
      } else if (v !== value(a.study, a.trial, -1)) wrongValue++;
    } else {
      const m = t.intermediate.find((x) => x.step === a.step);
      if (!m) {
        lost++;
        problems.push(`lost: ${JSON.stringify(a)}`);
      } else if (m.values[0] !== value(a.study, a.trial, a.step)) wrongValue++;
    }
  }
  // Churned studies: fully there or fully gone.
  let churnDeleted = 0;
  let churnHalf = 0;
  let churnLost = 0;
  for (const [name, st] of churn) {
    let exists = true;
    try {
      await c.getStudy({ name });
    } catch (e) {
      if (grpcCode(e) !== grpc.status.NOT_FOUND) problems.push(`churn ${name}: GetStudy ${(e as Error).message}`);
      exists = false;
    }
    if (st.deleteAcked) churnDeleted++;
    if (exists) {
      if (st.deleteAcked) {
        churnHalf++;
        problems.push(`churn ${name}: deleted (acknowledged) but still there`);
        continue;
      }
      const trials = await listAllTrials(c, name);
      const counts = (await c.getStudy({ name })).study?.trialCounts;
      const dense = trials.every((t, i) => t.id === i);
      if (trials.length < st.addsAcked || !dense || (counts?.complete ?? 0) !== trials.length) {
        churnHalf++;
        problems.push(`churn ${name}: half there: ${trials.length} trials (acknowledged ${st.addsAcked}), dense ${dense}, counts ${JSON.stringify(counts)}`);
      }
    } else {
      // Trials under a study that is gone would resurface only through the store; ListTrials must agree.
      try {
        await c.listTrials({ study: name, pageSize: 10, pageToken: "", states: [], omitIntermediate: true });
        churnHalf++;
        problems.push(`churn ${name}: GetStudy NOT_FOUND but ListTrials answers`);
      } catch {
        /* gone */
      }
      if (st.created && !st.deleteSent) {
        churnLost++;
        problems.push(`churn ${name}: created (acknowledged), never deleted, but gone`);
      }
    }
  }
  c.close();
  const up = d.alive();
  await d.stop();
  if (!up) problems.push("the daemon died during the checks");

  return {
    kills,
    acknowledgedReports: acks.filter((a) => a.step !== "final").length,
    acknowledgedFinals: acks.filter((a) => a.step === "final").length,
    retriedAfterRestart: retried,
    lost,
    wrongValue,
    duplicateTrialIds: dupIds,
    duplicateSteps: dupSteps,
    stuckRunning: stuck,
    studiesLoaded: loaded,
    churnStudies: churn.size,
    churnDeletedAcked: churnDeleted,
    churnHalf,
    churnLost,
    python: py
      ? {
          workers: pyCount,
          acknowledgedReports: pyAcks.reports,
          acknowledgedFinals: pyAcks.finals,
          retried: pyDone?.retried ?? 0,
          expired: pyDone?.expired ?? 0,
          stillPending: pyDone?.stillPending ?? 0,
        }
      : null,
    problems,
  };

  function reportFor(p: Pending, wid: string): ReportRequest {
    return p.step === "final"
      ? ReportRequest.fromPartial({ study: p.study, trialId: p.trial, values: [value(p.study, p.trial, -1)], final: true, workerId: wid })
      : ReportRequest.fromPartial({ study: p.study, trialId: p.trial, step: p.step, values: [value(p.study, p.trial, p.step)], workerId: wid });
  }

  async function worker(c: StressClient, wid: string, study: string, stop: { now: boolean }): Promise<void> {
    // First the report the kill interrupted, exactly as it was sent.
    const p = pending.get(wid);
    if (p) {
      try {
        await c.report(reportFor(p, wid), 10_000);
        acks.push(p);
        retried++;
        pending.delete(wid);
      } catch (e) {
        if (stop.now) return;
        if (grpcCode(e) === grpc.status.FAILED_PRECONDITION) pending.delete(wid); // lease ran out meanwhile
        else return;
      }
    }
    while (!stop.now) {
      let t: Trial | undefined;
      try {
        t = (await c.suggest({ study, count: 1, workerId: wid }, 10_000)).trials[0];
      } catch {
        return;
      }
      if (!t) return;
      const have = new Set(t.intermediate.map((m) => m.step));
      for (let step = 0; step <= o.steps; step++) {
        const cur: Pending = { study, trial: t.id, step: step === o.steps ? "final" : step };
        if (cur.step !== "final" && have.has(cur.step)) continue;
        if (stop.now) return;
        try {
          await c.report(reportFor(cur, wid), 10_000);
          acks.push(cur);
        } catch (e) {
          const code = grpcCode(e);
          if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.CANCELLED) pending.set(wid, cur);
          else if (!stop.now) problems.push(`${wid} report ${JSON.stringify(cur)}: ${(e as Error).message}`);
          return;
        }
      }
    }
  }

  async function churner(c: StressClient, round: number, k: number, stop: { now: boolean }): Promise<void> {
    for (let n = 0; !stop.now; n++) {
      const name = `churn-${round}-${k}-${n}`;
      const st = { addsAcked: 0, deleteSent: false, deleteAcked: false, created: false };
      churn.set(name, st);
      try {
        await c.createStudy({ study: Study.fromPartial({ name, spec: spec() }), loadIfExists: false }, 10_000);
        st.created = true;
        for (let b = 0; b < 4 && !stop.now; b++) {
          await Promise.all(
            Array.from({ length: 25 }, () =>
              c
                .addTrial({ study: name, params: { x: { kind: { $case: "numberValue", value: 0.5 } } }, state: TrialState.TRIAL_STATE_COMPLETE, intermediate: [{ step: 0, values: [1], constraintValues: [], metrics: {} }, { step: 1, values: [0.5], constraintValues: [], metrics: {} }], finalMeasurement: { values: [0.25], constraintValues: [], metrics: {} }, stateReason: "", userAttrs: {} }, 10_000)
                .then(() => {
                  st.addsAcked++;
                }),
            ),
          );
        }
        if (stop.now) return;
        st.deleteSent = true;
        await c.deleteStudy({ name }, 10_000);
        st.deleteAcked = true;
      } catch {
        return;
      }
    }
  }
}

export function formatCrash(f: CrashFigures): string {
  return [
    `kills                   ${f.kills}`,
    `acknowledged reports    ${f.acknowledgedReports} intermediate + ${f.acknowledgedFinals} final`,
    `retried after restart   ${f.retriedAfterRestart}`,
    `lost                    ${f.lost}`,
    `wrong value             ${f.wrongValue}`,
    `duplicate trial ids     ${f.duplicateTrialIds}`,
    `duplicate steps         ${f.duplicateSteps}`,
    `stuck RUNNING           ${f.stuckRunning}`,
    `studies loaded          ${f.studiesLoaded}`,
    `churn studies           ${f.churnStudies} (deletes acknowledged ${f.churnDeletedAcked}, half-there ${f.churnHalf}, lost ${f.churnLost})`,
    ...(f.python
      ? [
          `python workers          ${f.python.workers} of the workers: ${f.python.acknowledgedReports} intermediate + ${f.python.acknowledgedFinals} final acknowledged (in the totals above), retried after restart ${f.python.retried}, lease ran out before the retry ${f.python.expired}`,
        ]
      : []),
    ...(f.problems.length ? [`problems (${f.problems.length}):`, ...f.problems.slice(0, 30).map((p) => `  ${p}`)] : []),
  ].join("\n");
}
