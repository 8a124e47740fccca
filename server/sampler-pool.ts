/**
 * Runs model-fitting samplers (TPE, GP, CMA-ES, ...) in worker threads so a
 * fit never blocks the event loop that serves Health, Report and metrics.
 *
 * Each study sticks to one worker, which keeps the study's sampler and a copy
 * of its trial views; only views that changed since the last call (compared
 * by object identity: the runtime replaces a view whenever its trial changes)
 * cross the thread boundary.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { SampleContext, SampleResult, TrialView } from "./core/samplers/sampler.js";
import type { AlgorithmSpec } from "./core/model.js";
import type { SearchSpaceDef } from "./core/space.js";
import type { Logger } from "./log.js";
import type { SampleReply, SampleRequest, SamplerWorkerData, SamplerWorkerHello } from "./sampler-worker.js";

export interface SamplerPoolOptions {
  /** Worker threads. Default: one per core beyond the first, at least 1, at most 4. */
  threads?: number;
  /**
   * Nice value of each worker thread (Linux; 0 leaves it alone). Default 10:
   * fits take the CPU the event loop leaves idle, and RPCs preempt them.
   */
  niceness?: number;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: SampleReply) => void; reject: (e: Error) => void }>;
  /** What this worker holds per study key: the spec identity and the views last sent. */
  sent: Map<string, { setupKey: string; views: TrialView[] }>;
}

export class SamplerPool {
  private readonly slots: Slot[];
  private readonly log: Logger;
  private readonly niceness: number;
  private nextId = 0;
  private closed = false;

  constructor(log: Logger, opts: SamplerPoolOptions = {}) {
    this.log = log;
    this.niceness = opts.niceness ?? 10;
    const n = opts.threads ?? Math.min(4, Math.max(1, availableParallelism() - 1));
    this.slots = Array.from({ length: n }, () => this.spawn());
  }

  private spawn(): Slot {
    const workerData: SamplerWorkerData = { niceness: this.niceness };
    const worker = new Worker(new URL("./sampler-worker.js", import.meta.url), { workerData });
    const slot: Slot = { worker, pending: new Map(), sent: new Map() };
    worker.on("message", (reply: SampleReply | SamplerWorkerHello) => {
      if ("hello" in reply) {
        if (reply.error) this.log.warn("sampler worker runs at normal priority", { niceness: this.niceness, error: reply.error });
        else this.log.debug("sampler worker started", { niceness: reply.niceness });
        return;
      }
      const p = slot.pending.get(reply.id);
      slot.pending.delete(reply.id);
      p?.resolve(reply);
    });
    worker.on("error", (e) => this.fail(slot, e));
    worker.on("exit", (code) => {
      if (!this.closed) this.fail(slot, new Error(`sampler worker exited with code ${code}`));
    });
    worker.unref();
    return slot;
  }

  /** Rejects the slot's calls and replaces its worker (which lost all state). */
  private fail(slot: Slot, e: Error): void {
    this.log.error("sampler worker failed; restarting it", { error: e.message });
    for (const p of slot.pending.values()) p.reject(e);
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
  }

  /**
   * Samples in a worker. `key` identifies the study incarnation (name and
   * creation time), `setupKey` the algorithm and space it runs.
   */
  async sample(key: string, setup: { algorithm: AlgorithmSpec; space: SearchSpaceDef }, ctx: SampleContext): Promise<SampleResult> {
    const slot = this.slots[hash(key) % this.slots.length] as Slot;
    const setupKey = JSON.stringify(setup);
    for (let attempt = 0; attempt < 2; attempt++) {
      const known = slot.sent.get(key);
      const fresh = !known || known.setupKey !== setupKey || attempt > 0;
      const last = fresh ? [] : known.views;
      const patches: Array<[number, TrialView]> = [];
      const views = ctx.trials;
      for (let i = 0; i < views.length; i++) if (views[i] !== last[i]) patches.push([i, views[i] as TrialView]);
      const req: SampleRequest = {
        id: this.nextId++,
        key,
        reset: fresh,
        length: views.length,
        patches,
        seed: ctx.seed,
        trialId: ctx.trialId,
        directions: [...ctx.directions],
        ...(fresh ? { setup } : {}),
      };
      const reply = await new Promise<SampleReply>((resolve, reject) => {
        slot.pending.set(req.id, { resolve, reject });
        slot.worker.postMessage(req);
      });
      if ("result" in reply) {
        slot.sent.set(key, { setupKey, views: [...views] });
        return reply.result;
      }
      slot.sent.delete(key);
      if (!reply.missing) throw new Error(reply.error);
    }
    throw new Error("sampler worker lost the study twice");
  }

  /** Forget a study (deleted): its worker-side state is dropped lazily by LRU. */
  forget(key: string): void {
    for (const s of this.slots) s.sent.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
