/**
 * The daemon's Prometheus metrics, on a registry of their own (never the
 * global one). Event counts come from the StudyService observer, the RPC
 * interceptor and the store's commit hooks; everything that describes the
 * current state (trials by state, best values, workers, store health) is
 * computed at scrape time from the service's runtimes in collect() callbacks,
 * so it cannot drift from what the API answers.
 *
 * Names follow the Prometheus conventions: an `hpod_` prefix, base units
 * (seconds, bytes) in the name, `_total` for counters only. With
 * `perStudy: false` no metric carries a study or namespace label, for
 * deployments with very many studies.
 *
 * Nothing here sees request metadata: no token can reach a label.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Decision, Study, TrialState } from "../core/model.js";
import { TRIAL_STATES, STUDY_STATES } from "../core/model.js";
import { isFeasible } from "../core/pareto.js";
import type { Effects, StudyRuntime } from "../core/study-runtime.js";
import type { CommitStats } from "../store/group-commit.js";
import type { StudyObserver } from "../study-service.js";
import { VERSION } from "../version.js";

/** What the scrape-time collectors read. */
export interface MetricsSource {
  /** Every study's runtime, at scrape time. */
  runtimes(): Iterable<StudyRuntime>;
  /** False while the store refuses writes. */
  writable(): boolean;
  /** The data directory, for its size on disk; undefined: not reported. */
  dataDir?: string;
}

/** Pages through a StudyService (the only way in, without touching its internals). */
export function serviceSource(
  svc: {
    listStudies(size: number, token: string, namespace: string): { items: Study[]; nextPageToken: string };
    runtime(name: string): StudyRuntime;
    readonly writable: boolean;
  },
  dataDir?: string,
): MetricsSource {
  return {
    *runtimes() {
      let token = "";
      do {
        const page = svc.listStudies(1000, token, "");
        for (const s of page.items) {
          try {
            yield svc.runtime(s.name);
          } catch {
            /* deleted meanwhile */
          }
        }
        token = page.nextPageToken;
      } while (token !== "");
    },
    writable: () => svc.writable,
    ...(dataDir !== undefined ? { dataDir } : {}),
  };
}

export interface MetricsOptions {
  /** Study and namespace labels on per-study metrics. Default true. */
  perStudy?: boolean;
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
}

const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

const lower = (s: TrialState): string => s.toLowerCase();

export class HpodMetrics implements StudyObserver {
  readonly registry = new Registry();
  readonly perStudy: boolean;
  private readonly rpcHandled: Counter<"service" | "method" | "code">;
  private readonly rpcDuration: Histogram<"service" | "method" | "code">;
  private readonly rpcInFlight: Gauge;
  private readonly transitions: Counter<string>;
  private readonly staleReclaimed: Counter;
  private readonly reports: Counter<"pruner">;
  private readonly pruneDecisions: Counter<"pruner" | "decision">;
  private readonly suggestDuration: Histogram<"algorithm">;
  private readonly storeWrite: Histogram;
  private readonly storeSync: Histogram;
  private readonly storeBatch: Histogram;
  private source: MetricsSource | undefined;
  private readonly paths = new Map<string, { service: string; method: string }>();

  constructor(opts: MetricsOptions = {}) {
    this.perStudy = opts.perStudy ?? true;
    const r = this.registry;
    const studyLabels = this.perStudy ? (["study", "namespace"] as const) : ([] as const);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: r });

    new Gauge({
      name: "hpod_build_info",
      help: "Always 1; the labels say which hpod and Node.js run.",
      labelNames: ["version", "node_version"],
      registers: [r],
    }).set({ version: VERSION, node_version: process.version }, 1);

    // ---- RPCs
    this.rpcHandled = new Counter({
      name: "hpod_rpc_handled_total",
      help: "gRPC calls completed, by service, method and status code.",
      labelNames: ["service", "method", "code"],
      registers: [r],
    });
    this.rpcDuration = new Histogram({
      name: "hpod_rpc_duration_seconds",
      help: "Time from a unary gRPC call's arrival to its status, by service, method and status code.",
      labelNames: ["service", "method", "code"],
      buckets: RPC_BUCKETS,
      registers: [r],
    });
    this.rpcInFlight = new Gauge({ name: "hpod_rpc_in_flight", help: "gRPC calls (streams included) being handled now.", registers: [r] });

    // ---- Trials and studies (state computed at scrape time)
    const self = this;
    new Gauge({
      name: "hpod_studies",
      help: "Studies by state.",
      labelNames: ["state"],
      registers: [r],
      collect() {
        const counts: Record<string, number> = Object.fromEntries(STUDY_STATES.map((s) => [s, 0]));
        for (const rt of self.runtimes()) counts[rt.study.state] = (counts[rt.study.state] ?? 0) + 1;
        for (const s of STUDY_STATES) this.set({ state: s.toLowerCase() }, counts[s] ?? 0);
      },
    });
    new Gauge({
      name: "hpod_trials",
      help: this.perStudy ? "Trials by study and state." : "Trials by state, all studies together.",
      labelNames: [...studyLabels, "state"],
      registers: [r],
      collect() {
        this.reset();
        const total: Record<string, number> = Object.fromEntries(TRIAL_STATES.map((s) => [s, 0]));
        for (const rt of self.runtimes()) {
          for (const s of TRIAL_STATES) {
            if (self.perStudy) this.set({ study: rt.study.name, namespace: rt.study.namespace, state: lower(s) }, rt.counts[s]);
            else total[s] = (total[s] ?? 0) + rt.counts[s];
          }
        }
        if (!self.perStudy) for (const s of TRIAL_STATES) this.set({ state: lower(s) }, total[s] ?? 0);
      },
    });
    this.transitions = new Counter({
      name: "hpod_trial_transitions_total",
      help: "Trials entering a state: created (queued, or added finished), running, complete, pruned, failed.",
      labelNames: [...studyLabels, "to"],
      registers: [r],
    });
    if (this.perStudy) {
      new Gauge({
        name: "hpod_study_best_value",
        help: "Best objective value among feasible COMPLETE trials (per objective over the Pareto set for several).",
        labelNames: ["study", "namespace", "objective", "direction"],
        registers: [r],
        collect() {
          this.reset();
          for (const rt of self.runtimes()) {
            const objectives = rt.study.spec.objectives;
            // One objective: the runtime tracks the best trial. Several: the best
            // value of each objective over the Pareto set is its best over all
            // feasible COMPLETE trials (an extreme point is never dominated), so
            // a linear scan avoids computing the front at every scrape.
            const best = objectives.length === 1 ? rt.best() : rt.trials.filter((t) => t && t.state === "COMPLETE" && t.final && isFeasible(t.final.constraintValues));
            objectives.forEach((o, i) => {
              let v: number | undefined;
              for (const t of best) {
                const x = t.final?.values[i];
                if (x === undefined || !Number.isFinite(x)) continue;
                if (v === undefined || (o.direction === "maximize" ? x > v : x < v)) v = x;
              }
              if (v !== undefined) this.set({ study: rt.study.name, namespace: rt.study.namespace, objective: o.name, direction: o.direction }, v);
            });
          }
        },
      });
      new Gauge({
        name: "hpod_study_max_trials",
        help: "The study's trial budget (0: unlimited).",
        labelNames: ["study", "namespace"],
        registers: [r],
        collect() {
          this.reset();
          for (const rt of self.runtimes()) this.set({ study: rt.study.name, namespace: rt.study.namespace }, rt.study.spec.maxTrials);
        },
      });
    }
    new Gauge({
      name: "hpod_active_workers",
      help: "Distinct worker ids holding RUNNING trials" + (this.perStudy ? ", per study." : ", all studies together."),
      labelNames: [...studyLabels],
      registers: [r],
      collect() {
        this.reset();
        const all = new Set<string>();
        for (const rt of self.runtimes()) {
          const mine = new Set<string>();
          for (const id of rt.running) {
            const w = rt.trials[id]?.workerId;
            if (w) mine.add(w);
          }
          if (self.perStudy) this.set({ study: rt.study.name, namespace: rt.study.namespace }, mine.size);
          else for (const w of mine) all.add(w);
        }
        if (!self.perStudy) this.set(all.size);
      },
    });
    this.staleReclaimed = new Counter({
      name: "hpod_stale_trials_reclaimed_total",
      help: "RUNNING trials failed because their worker stopped heartbeating (lease expired).",
      registers: [r],
    });

    // ---- Sampling and pruning
    this.reports = new Counter({
      name: "hpod_intermediate_reports_total",
      help: "Intermediate values recorded, by the study's pruner.",
      labelNames: ["pruner"],
      registers: [r],
    });
    this.pruneDecisions = new Counter({
      name: "hpod_prune_decisions_total",
      help: "Pruner decisions on intermediate values, by pruner and decision (continue, prune).",
      labelNames: ["pruner", "decision"],
      registers: [r],
    });
    this.suggestDuration = new Histogram({
      name: "hpod_suggest_duration_seconds",
      help: "Time a Suggest spent choosing new points, by resolved algorithm (lock wait and commit excluded).",
      labelNames: ["algorithm"],
      buckets: RPC_BUCKETS,
      registers: [r],
    });

    // ---- Store
    this.storeWrite = new Histogram({
      name: "hpod_store_write_duration_seconds",
      help: "Time from a mutation's submission to the store until it is durable (group-commit wait included).",
      buckets: STORE_BUCKETS,
      registers: [r],
    });
    this.storeSync = new Histogram({
      name: "hpod_store_sync_duration_seconds",
      help: "Time to write and fsync one group-commit batch.",
      buckets: STORE_BUCKETS,
      registers: [r],
    });
    this.storeBatch = new Histogram({
      name: "hpod_store_batch_ops",
      help: "Puts and deletes per group-commit batch.",
      buckets: BATCH_BUCKETS,
      registers: [r],
    });
    new Gauge({
      name: "hpod_store_writable",
      help: "1 while the store accepts writes, 0 while it refuses them after a failed write.",
      registers: [r],
      collect() {
        this.set(self.source === undefined || self.source.writable() ? 1 : 0);
      },
    });
    new Gauge({
      name: "hpod_store_size_bytes",
      help: "Size of the files in the data directory.",
      registers: [r],
      collect() {
        const dir = self.source?.dataDir;
        if (dir !== undefined) this.set(dirSize(dir));
      },
    });
  }

  /** Where scrape-time gauges read from; until set they report nothing per study. */
  attach(source: MetricsSource): void {
    this.source = source;
  }

  private *runtimes(): Iterable<StudyRuntime> {
    if (this.source) yield* this.source.runtimes();
  }

  // ---- StudyObserver

  onTrialsChanged(effects: Effects, rt: StudyRuntime): void {
    for (const e of effects.events) {
      const to = e.kind === "STARTED" ? "running" : e.kind === "FINISHED" ? lower(e.trial.state) : e.kind === "CREATED" ? "created" : undefined;
      if (to === undefined) continue;
      if (this.perStudy) this.transitions.inc({ study: rt.study.name, namespace: rt.study.namespace, to });
      else this.transitions.inc({ to });
    }
  }

  onSuggest(algorithm: string, seconds: number): void {
    this.suggestDuration.observe({ algorithm }, seconds);
  }

  onReport(pruner: string, decision: Decision): void {
    this.reports.inc({ pruner });
    this.pruneDecisions.inc({ pruner, decision: decision.toLowerCase() });
  }

  onStaleReclaimed(n: number): void {
    this.staleReclaimed.inc(n);
  }

  // ---- Store hooks

  onCommit = (s: CommitStats): void => {
    this.storeSync.observe(s.durationMs / 1000);
    this.storeBatch.observe(s.batchSize);
  };

  onWrite = (seconds: number): void => {
    this.storeWrite.observe(seconds);
  };

  // ---- RPC hooks (the observe interceptor)

  rpcStarted(): void {
    this.rpcInFlight.inc();
  }

  rpcFinished(path: string, code: string, seconds: number, unary: boolean): void {
    this.rpcInFlight.dec();
    let p = this.paths.get(path);
    if (!p) {
      const slash = path.lastIndexOf("/");
      p = { service: path.slice(1, slash), method: path.slice(slash + 1) };
      this.paths.set(path, p);
    }
    const labels = { service: p.service, method: p.method, code };
    this.rpcHandled.inc(labels);
    if (unary) this.rpcDuration.observe(labels, seconds);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function dirSize(dir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) {
      try {
        const st = statSync(join(dir, name));
        if (st.isFile()) total += st.size;
      } catch {
        /* removed meanwhile (compaction) */
      }
    }
  } catch {
    /* unreadable: report what we have */
  }
  return total;
}
