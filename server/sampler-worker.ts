/**
 * Worker-thread side of the sampler pool: holds, per study, the compiled
 * space, the sampler and a copy of the trial views (patched incrementally),
 * and answers sampling requests. Samplers are deterministic functions of
 * their context, so the cache only saves work; it never changes a result.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { AlgorithmSpec, Direction } from "./core/model.js";
import { createSampler } from "./core/samplers/index.js";
import type { Sampler, SampleResult, TrialView } from "./core/samplers/sampler.js";
import { compileSpace, type CompiledSpace, type SearchSpaceDef } from "./core/space.js";

export interface SampleRequest {
  id: number;
  key: string;
  /** Present when the worker does not hold this key yet (or it changed). */
  setup?: { algorithm: AlgorithmSpec; space: SearchSpaceDef };
  /** Replace the worker's views from scratch (first call, or after a reset). */
  reset: boolean;
  length: number;
  patches: Array<[number, TrialView]>;
  seed: number;
  trialId: number;
  directions: Direction[];
}

export type SampleReply = { id: number; result: SampleResult } | { id: number; error: string; missing?: boolean };

/** What the pool passes as `workerData`. */
export interface SamplerWorkerData {
  /** Nice value for this thread only (0: leave it). */
  niceness: number;
}

/** The first message a worker sends: whether its priority was lowered. */
export interface SamplerWorkerHello {
  hello: true;
  niceness: number;
  error?: string;
}

interface Entry {
  space: CompiledSpace;
  sampler: Sampler;
  views: TrialView[];
}

const MAX_ENTRIES = 512;
const entries = new Map<string, Entry>();

function handle(req: SampleRequest): SampleReply {
  let entry = entries.get(req.key);
  if (req.setup) {
    const space = compileSpace(req.setup.space);
    entry = { space, sampler: createSampler(req.setup.algorithm, space).sampler, views: [] };
    entries.set(req.key, entry);
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
  }
  if (!entry) return { id: req.id, error: "unknown study key", missing: true };
  // Most recently used last, so eviction drops the coldest study.
  entries.delete(req.key);
  entries.set(req.key, entry);
  if (req.reset) entry.views = [];
  entry.views.length = req.length;
  for (const [i, v] of req.patches) entry.views[i] = v;
  const result = entry.sampler.sample({
    space: entry.space,
    seed: req.seed,
    trialId: req.trialId,
    trials: entry.views,
    directions: req.directions,
  });
  return { id: req.id, result };
}

/**
 * Lowers the priority of this thread alone. On Linux, setpriority() on a
 * thread id applies to that thread, so a long GP fit yields the core to the
 * event loop (Report, Health, metrics) whenever both are runnable, instead of
 * splitting it evenly; on a 2-core node that is the difference between
 * sub-millisecond and multi-millisecond RPCs during a fit. /proc/thread-self
 * names "<pid>/task/<tid>"; elsewhere the call is skipped.
 */
function lowerPriority(niceness: number): SamplerWorkerHello {
  if (niceness === 0) return { hello: true, niceness: 0 };
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (!Number.isInteger(tid) || tid <= 0) return { hello: true, niceness: 0, error: "no thread id" };
    setPriority(tid, niceness);
    return { hello: true, niceness };
  } catch (e) {
    return { hello: true, niceness: 0, error: (e as Error).message };
  }
}

parentPort?.postMessage(lowerPriority((workerData as SamplerWorkerData | undefined)?.niceness ?? 0));

parentPort?.on("message", (req: SampleRequest) => {
  let reply: SampleReply;
  try {
    reply = handle(req);
  } catch (e) {
    reply = { id: req.id, error: (e as Error).stack ?? String(e) };
  }
  parentPort?.postMessage(reply);
});
