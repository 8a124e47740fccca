/**
 * The trial state machine of one study, in memory. Every method is
 * synchronous and pure with respect to I/O: it changes the in-memory study and
 * returns the records that must become durable (`Effects`) before the caller
 * acknowledges anything. The caller serialises calls per study.
 */
import { invalid, notFound, precondition } from "./errors.js";
import {
  isFinished,
  type Decision,
  type Measurement,
  type Study,
  type StudyState,
  type Trial,
  type TrialSource,
  type TrialState,
} from "./model.js";
import { dominates, isFeasible, paretoFront } from "./pareto.js";
import type { SampleContext, SampleResult, Sampler, TrialView } from "./samplers/sampler.js";
import type { CompiledSpace, FlatParams, Params } from "./space.js";

export type TrialEventKind = "CREATED" | "STARTED" | "REPORTED" | "FINISHED";

export interface TrialEvent {
  kind: TrialEventKind;
  trial: Trial;
}

/** What a mutation changed: to persist, then to announce. */
export interface Effects {
  trials: Trial[];
  measurements: Array<{ trialId: number; measurement: Measurement }>;
  study: boolean;
  events: TrialEvent[];
}

const emptyEffects = (): Effects => ({ trials: [], measurements: [], study: false, events: [] });

export const DEFAULT_RETRY_AFTER_MS = 2000;
export const MAX_SUGGEST_COUNT = 100;
const MAX_METRICS = 256;
const MAX_REASON_LENGTH = 4096;

export interface SuggestResult {
  trials: Trial[];
  done: boolean;
  retryAfterMs: number;
  reason: string;
  effects: Effects;
}

export interface ReportInput {
  trialId: number;
  step?: number;
  values: number[];
  constraintValues: number[];
  metrics: Record<string, number>;
  elapsedMs?: number;
  final: boolean;
  failed: boolean;
  failureReason: string;
  workerId: string;
}

export interface ReportResult {
  decision: Decision;
  reason: string;
  state: TrialState;
  effects: Effects;
}

export interface AddTrialInput {
  params: Params;
  state: TrialState;
  intermediate: Measurement[];
  final?: Measurement;
  stateReason: string;
  userAttrs: Record<string, string>;
}

/**
 * Decides continue or prune on an intermediate report. The default (until a
 * pruner is configured) always continues.
 */
export interface PruneDecider {
  decide(trial: Trial, runtime: StudyRuntime): { decision: Decision; reason: string; forecast?: number };
}

export const neverPrune: PruneDecider = { decide: () => ({ decision: "CONTINUE", reason: "" }) };

export class StudyRuntime {
  study: Study;
  readonly space: CompiledSpace;
  readonly sampler: Sampler;
  readonly pruner: PruneDecider;
  /** Indexed by trial id. */
  readonly trials: Trial[] = [];
  /** Sampler's view of each trial, indexed by id, kept in step with `trials`. */
  readonly views: TrialView[] = [];
  readonly counts: Record<TrialState, number> = { QUEUED: 0, RUNNING: 0, COMPLETE: 0, PRUNED: 0, FAILED: 0 };
  /** RUNNING trial ids. */
  readonly running = new Set<number>();
  private readonly byWorker = new Map<string, Set<number>>();
  private readonly queue: number[] = [];
  /** FAILED trials whose parameters were retried: they do not count toward max_trials. */
  private retried = 0;
  private bestId: number | undefined;

  constructor(study: Study, space: CompiledSpace, sampler: Sampler, pruner: PruneDecider, trials: Trial[], now: number) {
    this.study = study;
    this.space = space;
    this.sampler = sampler;
    this.pruner = pruner;
    for (const t of trials) {
      if (!t) continue;
      // A restart grants every running trial a fresh lease: the daemon, not
      // the worker, was away.
      if (t.state === "RUNNING") t.heartbeatTime = now;
      this.trials[t.id] = t;
      this.views[t.id] = this.viewOf(t);
      this.counts[t.state]++;
      if (t.state === "RUNNING") this.hold(t);
      if (t.state === "QUEUED") this.queue.push(t.id);
      if (t.retryOf !== undefined && this.trials[t.retryOf]?.state === "FAILED") this.retried++;
      this.considerBest(t);
    }
    this.study.nextTrialId = Math.max(this.study.nextTrialId, this.trials.length);
  }

  get objectiveCount(): number {
    return this.study.spec.objectives.length;
  }

  /** Trials that count toward max_trials. */
  get budgetUsed(): number {
    return this.study.nextTrialId - this.retried;
  }

  private budgetLeft(): boolean {
    return this.study.spec.maxTrials === 0 || this.budgetUsed < this.study.spec.maxTrials;
  }

  trial(id: number, field = "trial_id"): Trial {
    const t = Number.isSafeInteger(id) && id >= 0 ? this.trials[id] : undefined;
    if (!t) throw notFound(`study "${this.study.name}" has no trial ${id}`, field);
    return t;
  }

  // ---- Suggest ------------------------------------------------------------

  /**
   * How many new trials a Suggest would sample (after held and queued trials
   * and within the budget). Lets the caller compute proposals ahead, e.g. in a
   * worker thread, and hand them to `suggest`.
   */
  samplesNeeded(count: number, workerId: string): number {
    const held = workerId ? this.byWorker.get(workerId) : undefined;
    if ((held && held.size > 0) || this.study.state !== "ACTIVE") return 0;
    const max = this.study.spec.maxTrials;
    const budget = max === 0 ? Infinity : Math.max(0, max - this.budgetUsed);
    return Math.max(0, Math.min(count - this.queue.length, budget));
  }

  /**
   * The sampler's view for the next trial, with `pending` proposals (not yet
   * trials) counted as RUNNING, exactly as `suggest` would see them.
   */
  sampleContext(pending: readonly FlatParams[] = []): SampleContext {
    const base = this.study.nextTrialId;
    const trials: TrialView[] =
      pending.length === 0 ? this.views : [...this.views, ...pending.map((flat, i): TrialView => ({ id: base + i, state: "RUNNING", flat }))];
    return {
      space: this.space,
      seed: this.study.spec.algorithm.seed,
      trialId: base + pending.length,
      trials,
      directions: this.study.spec.objectives.map((o) => o.direction),
    };
  }

  /**
   * Hands out trials. New points come from `proposals` when given (computed
   * ahead from `sampleContext`, in order), else from the sampler here.
   */
  suggest(count: number, workerId: string, now: number, proposals?: SampleResult[]): SuggestResult {
    const effects = emptyEffects();
    const held = workerId ? this.byWorker.get(workerId) : undefined;
    if (held && held.size > 0) {
      // A restarted worker resumes what it holds instead of leaking a lease.
      const trials = [...held].sort((a, b) => a - b).map((id) => this.trial(id));
      for (const t of trials) t.heartbeatTime = now;
      return { trials, done: false, retryAfterMs: 0, reason: "resumed trials held by this worker", effects };
    }
    const state = this.study.state;
    if (state === "STOPPED" || state === "COMPLETED") {
      return { trials: [], done: true, retryAfterMs: 0, reason: `study is ${state}`, effects };
    }
    if (state === "PAUSED") {
      return { trials: [], done: false, retryAfterMs: DEFAULT_RETRY_AFTER_MS, reason: "study is PAUSED", effects };
    }
    const out: Trial[] = [];
    let reason = "";
    let wait = false;
    let exhausted = false;
    while (out.length < count) {
      const queuedId = this.queue.shift();
      if (queuedId !== undefined) {
        const t = this.trial(queuedId);
        this.transition(t, "RUNNING", now);
        this.start(t, workerId, now);
        out.push(t);
        effects.trials.push(t);
        effects.events.push({ kind: "STARTED", trial: t });
        continue;
      }
      if (!this.budgetLeft()) {
        reason = "max_trials reached";
        break;
      }
      const result: SampleResult = proposals ? (proposals.shift() ?? { kind: "wait" }) : this.sampler.sample(this.sampleContext());
      if (result.kind === "wait") {
        wait = true;
        reason = "every remaining point of the space is running; ask again later";
        break;
      }
      if (result.kind === "exhausted") {
        exhausted = true;
        reason = "search space exhausted";
        break;
      }
      const t = this.newTrial(this.space.assemble(result.flat), "SAMPLED", "RUNNING", now);
      this.start(t, workerId, now);
      out.push(t);
      effects.trials.push(t);
      effects.events.push({ kind: "STARTED", trial: t });
    }
    let done = false;
    if (out.length === 0 && !wait) {
      // Budget reached or space exhausted: nothing more will ever be handed out
      // (a stale retry may still appear while trials run; workers asking again
      // then get it).
      done = this.running.size === 0 || exhausted || !this.budgetLeft();
      if (this.running.size === 0) this.complete(reason, now, effects);
    }
    return { trials: out, done, retryAfterMs: out.length === 0 && !done ? DEFAULT_RETRY_AFTER_MS : 0, reason, effects };
  }

  // ---- Report / heartbeat --------------------------------------------------

  report(input: ReportInput, now: number): ReportResult {
    const t = this.trial(input.trialId);
    this.checkReportShape(input);
    this.checkWorker(t, input.workerId);
    const effects = emptyEffects();
    if (t.state === "QUEUED") {
      throw precondition(`trial ${t.id} is QUEUED: it has not been handed out by Suggest yet`, "trial_id");
    }
    if (t.state === "COMPLETE" || t.state === "FAILED") {
      // A retried acknowledgement (same final, or an already stored step) is a
      // no-op; anything else would silently rewrite a finished result.
      if (input.final && t.final && sameValues(t.final.values, input.values)) return this.answer(t, effects);
      if (!input.final && !input.failed && input.step !== undefined && t.intermediate.some((m) => m.step === input.step)) {
        return this.answer(t, effects);
      }
      if (input.failed && t.state === "FAILED") return this.answer(t, effects);
      throw precondition(`trial ${t.id} is already ${t.state}`, "trial_id");
    }
    t.heartbeatTime = now;
    const m = measurementOf(input, now);
    if (input.failed) {
      if (t.state === "RUNNING") {
        t.stateReason = `worker reported failure: ${input.failureReason || "(no reason given)"}`;
        this.finish(t, "FAILED", now, effects);
      }
      return this.answer(t, effects);
    }
    if (input.final) {
      if (t.state === "PRUNED") {
        // Stored for the record; the trial stays PRUNED.
        if (!t.final) {
          t.final = m;
          effects.trials.push(t);
        }
        return this.answer(t, effects);
      }
      t.final = m;
      const bad = [...m.values, ...m.constraintValues].find((v) => !Number.isFinite(v));
      if (bad !== undefined) {
        t.stateReason = `objective or constraint value is ${bad}`;
        this.finish(t, "FAILED", now, effects);
      } else {
        this.finish(t, "COMPLETE", now, effects);
      }
      return this.answer(t, effects);
    }
    const step = input.step as number;
    if (t.intermediate.some((x) => x.step === step)) return this.answer(t, effects);
    insertByStep(t.intermediate, m);
    this.views[t.id] = this.viewOf(t);
    effects.measurements.push({ trialId: t.id, measurement: m });
    effects.events.push({ kind: "REPORTED", trial: t });
    if (t.state === "RUNNING") {
      const d = this.pruner.decide(t, this);
      // Only a prune is recorded on the trial (it changes its state); CONTINUE
      // is what every unpruned trial with intermediate values implies.
      if (d.decision === "PRUNE") {
        t.decision = "PRUNE";
        t.decisionReason = d.reason;
        t.stateReason = d.reason;
        if (d.forecast !== undefined && Number.isFinite(d.forecast)) t.decisionForecast = d.forecast;
        this.finish(t, "PRUNED", now, effects);
      }
    }
    return this.answer(t, effects);
  }

  heartbeat(trialId: number, workerId: string, now: number): ReportResult {
    const t = this.trial(trialId);
    this.checkWorker(t, workerId);
    if (t.state === "RUNNING") t.heartbeatTime = now;
    return this.answer(t, emptyEffects());
  }

  private answer(t: Trial, effects: Effects): ReportResult {
    const prune = t.state === "PRUNED";
    return {
      decision: prune ? "PRUNE" : "CONTINUE",
      reason: prune ? t.decisionReason || t.stateReason : "",
      state: t.state,
      effects,
    };
  }

  private checkWorker(t: Trial, workerId: string): void {
    if (workerId && t.workerId && workerId !== t.workerId) {
      throw precondition(`trial ${t.id} is held by worker "${t.workerId}", not "${workerId}"`, "worker_id");
    }
  }

  private checkReportShape(r: ReportInput): void {
    if (r.final && r.failed) throw invalid("failed", "cannot be set together with final");
    if (!r.final && !r.failed && r.step === undefined) {
      throw invalid("step", "is required for an intermediate report (set final for the result)");
    }
    if (r.step !== undefined && !(Number.isSafeInteger(r.step) && r.step >= 0)) {
      throw invalid("step", `must be an integer >= 0 (got ${r.step})`);
    }
    if (!r.failed && r.values.length !== this.objectiveCount) {
      throw invalid("values", `expected ${this.objectiveCount} value(s), one per objective, got ${r.values.length}`);
    }
    const nc = this.study.spec.constraints.length;
    if (r.final && r.constraintValues.length !== nc) {
      throw invalid("constraint_values", `expected ${nc} value(s), one per constraint, got ${r.constraintValues.length}`);
    }
    if (!r.final && r.constraintValues.length !== 0 && r.constraintValues.length !== nc) {
      throw invalid("constraint_values", `expected 0 or ${nc} value(s), got ${r.constraintValues.length}`);
    }
    checkMetrics(r.metrics, "metrics");
    if (r.failureReason.length > MAX_REASON_LENGTH) throw invalid("failure_reason", `longer than ${MAX_REASON_LENGTH} characters`);
  }

  // ---- Enqueue / add -------------------------------------------------------

  enqueue(params: Params, userAttrs: Record<string, string>, now: number): { trial: Trial; effects: Effects } {
    this.checkOpen();
    const t = this.newTrial(this.space.normalizeParams(params, "params"), "ENQUEUED", "QUEUED", now);
    t.userAttrs = userAttrs;
    this.queue.push(t.id);
    const effects = emptyEffects();
    if (this.study.state === "COMPLETED") {
      // Enqueued trials are handed out past the budget or an exhausted space.
      this.study.state = "ACTIVE";
      this.study.stateReason = "";
      this.study.updateTime = now;
      effects.study = true;
    }
    effects.trials.push(t);
    effects.events.push({ kind: "CREATED", trial: t });
    return { trial: t, effects };
  }

  add(input: AddTrialInput, now: number): { trial: Trial; effects: Effects } {
    if (!isFinished(input.state)) throw invalid("state", "must be COMPLETE, PRUNED or FAILED");
    const params = this.space.normalizeParams(input.params, "params");
    const steps = new Set<number>();
    input.intermediate.forEach((m, i) => {
      const f = `intermediate[${i}]`;
      if (m.step === undefined || !(Number.isSafeInteger(m.step) && m.step >= 0)) throw invalid(`${f}.step`, "must be an integer >= 0");
      if (steps.has(m.step)) throw invalid(`${f}.step`, `duplicate step ${m.step}`);
      steps.add(m.step);
      if (m.values.length !== this.objectiveCount) throw invalid(`${f}.values`, `expected ${this.objectiveCount} value(s)`);
      checkMetrics(m.metrics, `${f}.metrics`);
    });
    if (input.state === "COMPLETE") {
      if (!input.final) throw invalid("final_measurement", "is required for a COMPLETE trial");
      if (input.final.values.length !== this.objectiveCount) {
        throw invalid("final_measurement.values", `expected ${this.objectiveCount} value(s), one per objective`);
      }
      if (input.final.constraintValues.length !== this.study.spec.constraints.length) {
        throw invalid("final_measurement.constraint_values", `expected ${this.study.spec.constraints.length} value(s)`);
      }
      if ([...input.final.values, ...input.final.constraintValues].some((v) => !Number.isFinite(v))) {
        throw invalid("final_measurement.values", "must be finite for a COMPLETE trial (add it as FAILED instead)");
      }
    }
    if (input.final) checkMetrics(input.final.metrics, "final_measurement.metrics");
    if (input.stateReason.length > MAX_REASON_LENGTH) throw invalid("state_reason", `longer than ${MAX_REASON_LENGTH} characters`);
    const t = this.newTrial(params, "ADDED", input.state, now);
    t.intermediate = [...input.intermediate].sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    if (input.final) t.final = input.final;
    t.stateReason = input.stateReason;
    t.userAttrs = input.userAttrs;
    t.startTime = now;
    t.endTime = now;
    this.views[t.id] = this.viewOf(t);
    this.considerBest(t);
    const effects = emptyEffects();
    effects.trials.push(t);
    for (const m of t.intermediate) effects.measurements.push({ trialId: t.id, measurement: m });
    effects.events.push({ kind: "CREATED", trial: t });
    return { trial: t, effects };
  }

  private checkOpen(): void {
    if (this.study.state === "STOPPED") throw precondition(`study "${this.study.name}" is STOPPED`, "study");
  }

  // ---- Study state ---------------------------------------------------------

  update(state: StudyState | undefined, maxTrials: number | undefined, now: number): Effects {
    const effects = emptyEffects();
    const s = this.study;
    // Every check before any change: a refused update changes nothing.
    if (maxTrials !== undefined && !(Number.isSafeInteger(maxTrials) && maxTrials >= 0)) {
      throw invalid("max_trials", "must be an integer >= 0");
    }
    const budgetReopens =
      maxTrials !== undefined &&
      s.state === "COMPLETED" &&
      s.stateReason === "max_trials reached" &&
      (maxTrials === 0 || this.budgetUsed < maxTrials);
    const current = budgetReopens ? "ACTIVE" : s.state;
    if (state !== undefined && state !== current) {
      if (s.state === "STOPPED") throw precondition(`study "${s.name}" is STOPPED; a stopped study cannot change state`, "state");
      if (state === "COMPLETED") throw invalid("state", "COMPLETED is set by the daemon, not by users");
      if (state === "ACTIVE" && current === "COMPLETED") {
        throw precondition(`study "${s.name}" is COMPLETED (${s.stateReason}); raise max_trials to resume it`, "state");
      }
    }
    if (maxTrials !== undefined) s.spec.maxTrials = maxTrials;
    if (budgetReopens) {
      s.state = "ACTIVE";
      s.stateReason = "";
    }
    if (state !== undefined && state !== s.state) {
      s.state = state;
      s.stateReason = state === "STOPPED" ? "stopped by a user" : state === "PAUSED" ? "paused by a user" : "";
    }
    s.updateTime = now;
    effects.study = true;
    return effects;
  }

  // ---- Leases --------------------------------------------------------------

  /** Fails RUNNING trials whose lease ran out; retries their parameters when allowed. */
  expireLeases(now: number): Effects {
    const effects = emptyEffects();
    const timeout = this.study.spec.heartbeatTimeoutMs;
    for (const id of [...this.running]) {
      const t = this.trial(id);
      const last = t.heartbeatTime ?? t.startTime ?? now;
      if (now - last <= timeout) continue;
      t.stateReason = `stale: no heartbeat from worker "${t.workerId}" for ${Math.round((now - last) / 1000)} s`;
      // The retry is queued before the trial finishes, so finishing the last
      // running trial cannot complete the study under the retry's feet.
      let retry: Trial | undefined;
      if (this.retryDepth(t) < this.study.spec.maxStaleRetries && this.study.state !== "STOPPED") {
        retry = this.newTrial(t.params, "RETRY", "QUEUED", now);
        retry.retryOf = t.id;
        retry.userAttrs = { ...t.userAttrs };
        this.retried++;
        this.queue.push(retry.id);
      }
      this.finish(t, "FAILED", now, effects);
      if (retry) {
        effects.trials.push(retry);
        effects.events.push({ kind: "CREATED", trial: retry });
      }
    }
    return effects;
  }

  private retryDepth(t: Trial): number {
    let depth = 0;
    let cur: Trial | undefined = t;
    while (cur?.retryOf !== undefined) {
      depth++;
      cur = this.trials[cur.retryOf];
    }
    return depth;
  }

  // ---- Queries -------------------------------------------------------------

  /** The best feasible COMPLETE trial, or the Pareto set for several objectives. */
  best(): Trial[] {
    if (this.objectiveCount === 1) {
      return this.bestId === undefined ? [] : [this.trial(this.bestId)];
    }
    const dirs = this.study.spec.objectives.map((o) => o.direction);
    const candidates = this.trials.filter((t) => t && t.state === "COMPLETE" && t.final && isFeasible(t.final.constraintValues));
    return paretoFront(candidates, (t) => (t.final as Measurement).values, dirs);
  }

  // ---- Internals -----------------------------------------------------------

  private newTrial(params: Params, source: TrialSource, state: TrialState, now: number): Trial {
    const t: Trial = {
      study: this.study.name,
      id: this.study.nextTrialId++,
      state,
      params,
      intermediate: [],
      workerId: "",
      stateReason: "",
      source,
      createTime: now,
      decisionReason: "",
      userAttrs: {},
    };
    this.trials[t.id] = t;
    this.views[t.id] = this.viewOf(t);
    this.counts[state]++;
    return t;
  }

  private start(t: Trial, workerId: string, now: number): void {
    t.workerId = workerId;
    t.startTime = now;
    t.heartbeatTime = now;
    this.hold(t);
  }

  private hold(t: Trial): void {
    this.running.add(t.id);
    if (!t.workerId) return;
    let set = this.byWorker.get(t.workerId);
    if (!set) this.byWorker.set(t.workerId, (set = new Set()));
    set.add(t.id);
  }

  private release(t: Trial): void {
    this.running.delete(t.id);
    const set = this.byWorker.get(t.workerId);
    if (!set) return;
    set.delete(t.id);
    if (set.size === 0) this.byWorker.delete(t.workerId);
  }

  private transition(t: Trial, to: TrialState, now: number): void {
    this.counts[t.state]--;
    this.counts[to]++;
    if (t.state === "RUNNING" && to !== "RUNNING") this.release(t);
    t.state = to;
    if (isFinished(to)) t.endTime = now;
    this.views[t.id] = this.viewOf(t);
  }

  private finish(t: Trial, to: TrialState, now: number, effects: Effects): void {
    this.transition(t, to, now);
    this.considerBest(t);
    effects.trials.push(t);
    effects.events.push({ kind: "FINISHED", trial: t });
    if (this.running.size === 0 && this.queue.length === 0 && !this.budgetLeft() && this.study.state === "ACTIVE") {
      this.complete("max_trials reached", now, effects);
    }
  }

  private complete(reason: string, now: number, effects: Effects): void {
    if (this.study.state !== "ACTIVE" || this.queue.length > 0) return;
    this.study.state = "COMPLETED";
    this.study.stateReason = reason;
    this.study.updateTime = now;
    effects.study = true;
  }

  private considerBest(t: Trial): void {
    if (this.objectiveCount !== 1 || t.state !== "COMPLETE" || !t.final || !isFeasible(t.final.constraintValues)) return;
    const dir = this.study.spec.objectives[0]?.direction ?? "minimize";
    const cur = this.bestId === undefined ? undefined : this.trials[this.bestId]?.final;
    if (!cur || dominates(t.final.values, cur.values, [dir])) this.bestId = t.id;
  }

  private viewOf(t: Trial): TrialView {
    const v: TrialView = { id: t.id, state: t.state, flat: this.space.flatten(t.params) };
    if (t.final && (t.state === "COMPLETE" || t.state === "FAILED")) {
      v.values = t.final.values;
      if (t.final.constraintValues.length > 0) v.constraints = t.final.constraintValues;
    }
    const last = t.intermediate[t.intermediate.length - 1];
    if (last && last.step !== undefined && last.values[0] !== undefined) v.lastIntermediate = { step: last.step, value: last.values[0] };
    // Only finite forecasts are stored (finish of a PRUNE decision above).
    if (t.state === "PRUNED" && this.objectiveCount === 1 && t.decisionForecast !== undefined) v.forecast = t.decisionForecast;
    return v;
  }
}

function measurementOf(r: ReportInput, now: number): Measurement {
  const m: Measurement = {
    values: r.values,
    constraintValues: r.constraintValues,
    metrics: r.metrics,
    time: now,
  };
  if (r.step !== undefined) m.step = r.step;
  if (r.elapsedMs !== undefined) m.elapsedMs = r.elapsedMs;
  return m;
}

function insertByStep(list: Measurement[], m: Measurement): void {
  let i = list.length;
  while (i > 0 && (list[i - 1]?.step ?? 0) > (m.step ?? 0)) i--;
  list.splice(i, 0, m);
}

function sameValues(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

function checkMetrics(metrics: Record<string, number>, field: string): void {
  const keys = Object.keys(metrics);
  if (keys.length > MAX_METRICS) throw invalid(field, `more than ${MAX_METRICS} metrics`);
  for (const k of keys) {
    if (k.length === 0 || k.length > 128) throw invalid(`${field}["${k.slice(0, 32)}"]`, "metric names must be 1..128 characters");
  }
}

