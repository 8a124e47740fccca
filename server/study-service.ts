/**
 * The daemon's tuning service: holds every study's runtime in memory, runs
 * each mutation under its study's lock, makes its effects durable through the
 * store's group commit, and only then answers and announces it.
 */
import { Code, HpodError, invalid, notFound } from "./core/errors.js";
import { type Decision, type Study, type StudyState, type Trial, type TrialState } from "./core/model.js";
import { validateNewStudy, buildRuntime } from "./core/study-spec.js";
import type { AddTrialInput, Effects, ReportInput, ReportResult, StudyRuntime, SuggestResult } from "./core/study-runtime.js";
import { MAX_SUGGEST_COUNT } from "./core/study-runtime.js";
import { RandomSampler } from "./core/samplers/random.js";
import type { SampleResult } from "./core/samplers/sampler.js";
import type { FlatParams, Params } from "./core/space.js";
import type { SamplerPool } from "./sampler-pool.js";
import { KeyedMutex } from "./keyed-mutex.js";
import type { Logger } from "./log.js";
import { decodePageToken, encodePageToken, pageSize } from "./page-token.js";
import type { BatchOp } from "./store/group-commit.js";
import { putMeasurement, putStudy, putTrial, type Store } from "./store/store.js";
import { WatchHub, type WatchEvent, type WatchListener } from "./watch-hub.js";

/** Cheap samplers run on the event loop; everything else goes to the worker pool. */
const IN_THREAD_ALGORITHMS = new Set(["random", "grid", "quasi_random"]);

/**
 * Optional hooks for metrics; called synchronously, so they must be cheap and
 * must not throw. `onTrialsChanged` runs under the study's lock, right after
 * the mutation, so the trials it sees are in the state the effects describe.
 */
export interface StudyObserver {
  onTrialsChanged?(effects: Effects, rt: StudyRuntime): void;
  /** Time spent choosing the new points of one Suggest (lock wait and commit excluded). */
  onSuggest?(algorithm: string, seconds: number): void;
  /** A new intermediate value was recorded and the pruner decided ("default" when the spec names none). */
  onReport?(pruner: string, decision: Decision): void;
  /** `n` RUNNING trials of `rt` failed because their lease ran out. */
  onStaleReclaimed?(n: number, rt: StudyRuntime): void;
}

export interface StudyServiceOptions {
  /** Metrics hooks; none by default. */
  observer?: StudyObserver;
  /** Worker threads for model-fitting samplers; without one they run in-thread. */
  pool?: SamplerPool;
  /** How often leases are checked. Default 1000 ms. */
  leaseSweepMs?: number;
  /** How often a failed store is probed for recovery. Default 1000 ms. */
  storeProbeMs?: number;
  now?: () => number;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export class StudyService {
  private readonly store: Store;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly runtimes = new Map<string, StudyRuntime>();
  /** Study names in order, for pagination. */
  private sortedNames: string[] = [];
  private readonly locks = new KeyedMutex();
  readonly hub = new WatchHub();
  private degraded: string | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly storeProbeMs: number;
  private readonly pool: SamplerPool | undefined;
  private probing = false;
  private readonly observer: StudyObserver | undefined;

  private constructor(store: Store, log: Logger, opts: StudyServiceOptions) {
    this.observer = opts.observer;
    this.store = store;
    this.log = log;
    this.now = opts.now ?? Date.now;
    this.storeProbeMs = opts.storeProbeMs ?? 1000;
    this.pool = opts.pool;
    const sweep = setInterval(() => void this.sweepLeases(), opts.leaseSweepMs ?? 1000);
    sweep.unref();
    this.timers.push(sweep);
  }

  static async open(store: Store, log: Logger, opts: StudyServiceOptions = {}): Promise<StudyService> {
    const svc = new StudyService(store, log, opts);
    await svc.reload();
    return svc;
  }

  /** Replaces the in-memory state with what the store holds. */
  private async reload(): Promise<void> {
    const loaded = await this.store.loadAll();
    this.runtimes.clear();
    const now = this.now();
    for (const { study, trials } of loaded) {
      try {
        this.runtimes.set(study.name, buildRuntime(study, trials, now));
      } catch (e) {
        // A study this version cannot serve must not stop the others.
        this.log.error("study cannot be loaded", { study: study.name, error: (e as Error).message });
      }
    }
    this.sortedNames = [...this.runtimes.keys()].sort();
  }

  get studyCount(): number {
    return this.runtimes.size;
  }

  // ---- Studies -------------------------------------------------------------

  async createStudy(input: Study, loadIfExists: boolean): Promise<{ study: Study; created: boolean }> {
    validateNewStudy(input);
    return this.locks.run(`study:${input.name}`, async () => {
      const existing = this.runtimes.get(input.name);
      if (existing) {
        if (!loadIfExists) throw new HpodError(Code.ALREADY_EXISTS, `study "${input.name}" already exists`, "study.name");
        // max_trials may have been raised since; it is not part of the identity.
        if (specIdentity(existing.study) !== specIdentity(input)) {
          throw new HpodError(
            Code.ALREADY_EXISTS,
            `study "${input.name}" exists with a different spec (load_if_exists only returns an identical study)`,
            "study.spec",
          );
        }
        await this.durable();
        return { study: existing.study, created: false };
      }
      this.checkWritable();
      const now = this.now();
      const study: Study = { ...input, state: "ACTIVE", stateReason: "", createTime: now, updateTime: now, nextTrialId: 0 };
      const rt = buildRuntime(study, [], now);
      this.runtimes.set(study.name, rt);
      insertSorted(this.sortedNames, study.name);
      await this.commit([putStudy(studyRecord(study))]);
      return { study, created: true };
    });
  }

  getStudy(name: string, field = "name"): Study {
    return this.runtime(name, field).study;
  }

  runtime(name: string, field = "study"): StudyRuntime {
    const rt = this.runtimes.get(name);
    if (!rt) throw notFound(`no study named "${name}"`, field);
    return rt;
  }

  listStudies(size: number, token: string, namespace: string): Page<Study> {
    const scope = `studies:${namespace}`;
    const n = pageSize(size);
    const after = decodePageToken(token, scope);
    let i = after === undefined ? 0 : upperBound(this.sortedNames, String(after));
    const items: Study[] = [];
    while (i < this.sortedNames.length && items.length < n) {
      const rt = this.runtimes.get(this.sortedNames[i++] as string);
      if (rt && (namespace === "" || rt.study.namespace === namespace)) items.push(rt.study);
    }
    const more = items.length === n && this.hasMore(i, namespace);
    return { items, nextPageToken: more ? encodePageToken(scope, items[items.length - 1]!.name) : "" };
  }

  private hasMore(from: number, namespace: string): boolean {
    for (let i = from; i < this.sortedNames.length; i++) {
      if (namespace === "" || this.runtimes.get(this.sortedNames[i] as string)?.study.namespace === namespace) return true;
    }
    return false;
  }

  async updateStudy(name: string, state: StudyState | undefined, maxTrials: number | undefined): Promise<Study> {
    return this.mutate(name, "name", (rt) => ({ result: rt.study, effects: rt.update(state, maxTrials, this.now()) }));
  }

  async deleteStudy(name: string): Promise<void> {
    await this.locks.run(`study:${name}`, async () => {
      const rt = this.runtime(name, "name");
      this.checkWritable();
      this.runtimes.delete(name);
      this.sortedNames.splice(this.sortedNames.indexOf(name), 1);
      try {
        await this.store.deleteStudy(studyRecord(rt.study));
      } catch (e) {
        this.enterDegraded(e);
        throw e;
      }
      this.hub.end(name, "deleted");
      this.pool?.forget(`${name}@${rt.study.createTime}`);
    });
  }

  // ---- Trials --------------------------------------------------------------

  async suggest(name: string, count: number, workerId: string): Promise<SuggestResult> {
    if (count === 0) count = 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_SUGGEST_COUNT) {
      throw invalid("count", `must be in [1, ${MAX_SUGGEST_COUNT}] (0 means 1)`);
    }
    checkWorkerId(workerId);
    return this.mutate(name, "study", async (rt) => {
      const started = this.observer?.onSuggest ? performance.now() : 0;
      const proposals = this.pool && !IN_THREAD_ALGORITHMS.has(rt.study.resolvedAlgorithm) ? await this.propose(this.pool, rt, count, workerId) : undefined;
      const r = rt.suggest(count, workerId, this.now(), proposals);
      this.observer?.onSuggest?.(rt.study.resolvedAlgorithm, (performance.now() - started) / 1000);
      return { result: r, effects: r.effects };
    });
  }

  /** Samples the new points of a Suggest in a worker thread, in order, each seeing the ones before as RUNNING. */
  private async propose(pool: SamplerPool, rt: StudyRuntime, count: number, workerId: string): Promise<SampleResult[]> {
    const n = rt.samplesNeeded(count, workerId);
    const key = `${rt.study.name}@${rt.study.createTime}`;
    const setup = { algorithm: { ...rt.study.spec.algorithm, name: rt.study.resolvedAlgorithm }, space: rt.study.spec.space };
    const out: SampleResult[] = [];
    const pending: FlatParams[] = [];
    for (let i = 0; i < n; i++) {
      const ctx = rt.sampleContext(pending);
      let r: SampleResult;
      try {
        r = await pool.sample(key, setup, ctx);
      } catch (e) {
        // A sampler bug must not take the study down: this one point is random.
        this.log.error("sampler failed in its worker; falling back to random for this trial", {
          study: rt.study.name,
          algorithm: rt.study.resolvedAlgorithm,
          error: (e as Error).message,
        });
        r = new RandomSampler().sample(ctx);
      }
      out.push(r);
      if (r.kind !== "params") break;
      pending.push(r.flat);
    }
    return out;
  }

  async report(name: string, input: ReportInput): Promise<ReportResult> {
    checkWorkerId(input.workerId);
    return this.mutate(name, "study", (rt) => {
      const running = rt.trials[input.trialId]?.state === "RUNNING"; // only then does the pruner decide
      const r = rt.report(input, this.now());
      if (running && r.effects.measurements.length > 0 && !input.final) this.observer?.onReport?.(rt.study.spec.pruner.name || "default", r.decision);
      return { result: r, effects: r.effects };
    });
  }

  async heartbeat(name: string, trialId: number, workerId: string): Promise<ReportResult> {
    checkWorkerId(workerId);
    // Leases live in memory (a restart renews them), so a heartbeat needs no write.
    return this.locks.run(`study:${name}`, () => this.runtime(name).heartbeat(trialId, workerId, this.now()));
  }

  getTrial(name: string, id: number): Trial {
    return this.runtime(name).trial(id);
  }

  listTrials(name: string, size: number, token: string, states: TrialState[]): Page<Trial> {
    const rt = this.runtime(name);
    const filter = new Set(states);
    const scope = `trials:${name}:${[...filter].sort().join(",")}`;
    const n = pageSize(size);
    const after = decodePageToken(token, scope);
    const items: Trial[] = [];
    let id = after === undefined ? 0 : Number(after) + 1;
    const trials = rt.trials;
    for (; id < trials.length && items.length < n; id++) {
      const t = trials[id];
      if (t && (filter.size === 0 || filter.has(t.state))) items.push(t);
    }
    let more = false;
    for (let j = id; j < trials.length; j++) {
      const t = trials[j];
      if (t && (filter.size === 0 || filter.has(t.state))) {
        more = true;
        break;
      }
    }
    return { items, nextPageToken: more && items.length > 0 ? encodePageToken(scope, items[items.length - 1]!.id) : "" };
  }

  bestTrials(name: string): Trial[] {
    return this.runtime(name).best();
  }

  async enqueue(name: string, params: Params, userAttrs: Record<string, string>): Promise<Trial> {
    return this.mutate(name, "study", (rt) => {
      const r = rt.enqueue(params, userAttrs, this.now());
      return { result: r.trial, effects: r.effects };
    });
  }

  async addTrial(name: string, input: AddTrialInput): Promise<Trial> {
    return this.mutate(name, "study", (rt) => {
      const r = rt.add(input, this.now());
      return { result: r.trial, effects: r.effects };
    });
  }

  /** Subscribe to a study's durable events. */
  watch(name: string, listener: WatchListener): () => void {
    this.runtime(name);
    return this.hub.subscribe(name, listener);
  }

  // ---- Leases --------------------------------------------------------------

  async sweepLeases(): Promise<void> {
    if (this.degraded) return;
    const now = this.now();
    for (const [name, rt] of this.runtimes) {
      if (rt.running.size === 0) continue;
      const timeout = rt.study.spec.heartbeatTimeoutMs;
      let due = false;
      for (const id of rt.running) {
        const t = rt.trials[id];
        if (t && now - (t.heartbeatTime ?? now) > timeout) {
          due = true;
          break;
        }
      }
      if (!due) continue;
      try {
        await this.mutate(name, "study", (r) => {
          const effects = r.expireLeases(this.now());
          const n = effects.events.filter((e) => e.kind === "FINISHED").length;
          if (n > 0) this.observer?.onStaleReclaimed?.(n, r);
          return { result: undefined, effects };
        });
      } catch (e) {
        this.log.warn("lease sweep failed", { study: name, error: (e as Error).message });
      }
    }
  }

  // ---- Durability ----------------------------------------------------------

  private async mutate<T>(
    name: string,
    field: string,
    fn: (rt: StudyRuntime) => { result: T; effects: Effects } | Promise<{ result: T; effects: Effects }>,
  ): Promise<T> {
    let pending: Promise<void> = Promise.resolve();
    let events: WatchEvent[] = [];
    const result = await this.locks.run(`study:${name}`, async () => {
      const rt = this.runtime(name, field);
      this.checkWritable();
      const { result, effects } = await fn(rt);
      this.observer?.onTrialsChanged?.(effects, rt);
      const ops = opsOf(rt, effects);
      events = effects.events.map((e) => ({ kind: e.kind, trial: e.trial }));
      if (effects.study) events.push({ kind: "STUDY_UPDATED", study: rt.study });
      // Submitted under the lock so the study's writes keep their order, but
      // awaited outside it so concurrent mutations share one synced batch.
      pending = ops.length > 0 ? this.commit(ops) : this.durable();
      return result;
    });
    await pending;
    this.hub.publish(name, events);
    return result;
  }

  private async commit(ops: BatchOp[]): Promise<void> {
    try {
      await this.store.commit(ops);
    } catch (e) {
      this.enterDegraded(e);
      throw e;
    }
  }

  /** Waits until every earlier write is durable (no-op answers depend on them). */
  private async durable(): Promise<void> {
    try {
      await this.store.barrier();
    } catch (e) {
      this.enterDegraded(e);
      throw e;
    }
  }

  private checkWritable(): void {
    if (this.degraded) {
      throw new HpodError(Code.UNAVAILABLE, `the store is not accepting writes (${this.degraded}); retry later`);
    }
  }

  /**
   * After a failed write the in-memory state may hold changes that never
   * became durable: refuse writes, probe the disk, and reload from it once it
   * accepts writes again.
   */
  private enterDegraded(e: unknown): void {
    if (this.degraded) return;
    this.degraded = (e as Error).message;
    this.log.error("store write failed; refusing writes until it recovers", { error: this.degraded });
    const timer = setInterval(() => void this.tryRecover(timer), this.storeProbeMs);
    timer.unref();
    this.timers.push(timer);
  }

  private async tryRecover(timer: NodeJS.Timeout): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await this.store.probe();
      await this.store.reopen();
      await this.store.probe();
      await this.reload();
      clearInterval(timer);
      this.degraded = undefined;
      this.log.info("store accepts writes again; state reloaded from disk");
    } catch {
      /* still failing: keep probing */
    } finally {
      this.probing = false;
    }
  }

  get writable(): boolean {
    return this.degraded === undefined;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.hub.end(undefined, "shutdown");
    await this.store.barrier().catch(() => undefined);
  }
}

function specIdentity(s: Study): string {
  return JSON.stringify({ ...s.spec, maxTrials: 0 });
}

function studyRecord(s: Study) {
  const { nextTrialId: _n, ...rec } = s;
  return rec;
}

function opsOf(rt: StudyRuntime, e: Effects): BatchOp[] {
  const ops: BatchOp[] = [];
  if (e.study) ops.push(putStudy(studyRecord(rt.study)));
  const seen = new Set<number>();
  for (const t of e.trials) {
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    ops.push(putTrial(t));
  }
  for (const m of e.measurements) ops.push(putMeasurement(rt.study.name, m.trialId, m.measurement));
  return ops;
}

const MAX_WORKER_ID_LENGTH = 256;
function checkWorkerId(w: string): void {
  if (w.length > MAX_WORKER_ID_LENGTH) throw invalid("worker_id", `longer than ${MAX_WORKER_ID_LENGTH} characters`);
}

function upperBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: string[], key: string): void {
  sorted.splice(upperBound(sorted, key), 0, key);
}

