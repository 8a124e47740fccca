/**
 * HpodMetrics against a real StudyService on a temporary store: the observer
 * counts what mutations did, the scrape-time gauges agree with the runtimes,
 * per-study labels can be turned off, and the registry is not the global one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register as globalRegistry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";

import { Direction } from "../../client/gen/hpod/v1/study.js";
import { createLogger } from "../../server/log.js";
import { HpodMetrics, serviceSource } from "../../server/metrics/metrics.js";
import { studyFromPb } from "../../server/rpc/translate.js";
import { Store } from "../../server/store/store.js";
import { StudyService } from "../../server/study-service.js";
import { study } from "../helpers/specs.js";

const silent = createLogger({ level: "error", write: () => undefined });
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(perStudy = true, now?: () => number) {
  const dir = mkdtempSync(join(tmpdir(), "hpod-metrics-unit-"));
  const metrics = new HpodMetrics({ perStudy, defaultMetrics: false });
  const store = await Store.open(dir, { onCommit: metrics.onCommit, onWrite: metrics.onWrite });
  const svc = await StudyService.open(store, silent, { observer: metrics, ...(now ? { now } : {}) });
  metrics.attach(serviceSource(svc, dir));
  cleanup.push(async () => {
    await svc.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { metrics, svc, dir };
}

/** `name{labels} value` lines as a map (labels as written by prom-client). */
async function samples(m: HpodMetrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await m.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function runSome(svc: StudyService, name = "s1", namespace = "team-a") {
  const pb = study(name, { directions: [Direction.DIRECTION_MINIMIZE], pruner: "" });
  await svc.createStudy({ ...studyFromPb({ ...pb, namespace }, "study") }, false);
  const a = await svc.suggest(name, 2, "w1");
  const b = await svc.suggest(name, 1, "w2");
  const [t0, t1] = a.trials;
  const [t2] = b.trials;
  const base = { constraintValues: [], metrics: {}, failed: false, failureReason: "", workerId: "" };
  await svc.report(name, { ...base, trialId: t2!.id, step: 1, values: [5], final: false });
  await svc.report(name, { ...base, trialId: t0!.id, values: [3], final: true });
  await svc.report(name, { ...base, trialId: t1!.id, values: [1], final: true });
}

describe("HpodMetrics", () => {
  it("counts events and computes state at scrape time, per study", async () => {
    const { metrics, svc } = await setup();
    await runSome(svc);
    const s = await samples(metrics);
    const at = 'study="s1",namespace="team-a"';
    expect(s.get(`hpod_trials{${at},state="complete"}`)).toBe(2);
    expect(s.get(`hpod_trials{${at},state="running"}`)).toBe(1);
    expect(s.get(`hpod_trials{${at},state="queued"}`)).toBe(0);
    expect(s.get(`hpod_study_best_value{${at},objective="obj0",direction="minimize"}`)).toBe(1);
    expect(s.get(`hpod_active_workers{${at}}`)).toBe(1);
    expect(s.get(`hpod_trial_transitions_total{${at},to="running"}`)).toBe(3);
    expect(s.get(`hpod_trial_transitions_total{${at},to="complete"}`)).toBe(2);
    expect(s.get('hpod_intermediate_reports_total{pruner="default"}')).toBe(1);
    expect(s.get('hpod_prune_decisions_total{pruner="default",decision="continue"}')).toBe(1);
    expect(s.get('hpod_suggest_duration_seconds_count{algorithm="random"}')).toBe(2);
    expect(s.get('hpod_studies{state="active"}')).toBe(1);
    expect(s.get("hpod_store_write_duration_seconds_count")).toBeGreaterThanOrEqual(6);
    expect(s.get("hpod_store_sync_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(s.get("hpod_store_batch_ops_sum")).toBeGreaterThanOrEqual(6);
    expect(s.get("hpod_store_writable")).toBe(1);
    expect(s.get("hpod_store_size_bytes")).toBeGreaterThan(0);
    expect(s.get(`hpod_study_max_trials{${at}}`)).toBe(0);
    // A repeated report records nothing new and counts nothing.
    await svc.report("s1", { trialId: 2, step: 1, values: [5], final: false, constraintValues: [], metrics: {}, failed: false, failureReason: "", workerId: "" });
    expect((await samples(metrics)).get('hpod_intermediate_reports_total{pruner="default"}')).toBe(1);
  });

  it("several objectives: the best value of each over the Pareto set", async () => {
    const { metrics, svc } = await setup();
    const pb = study("mo", { directions: [Direction.DIRECTION_MINIMIZE, Direction.DIRECTION_MAXIMIZE] });
    await svc.createStudy(studyFromPb(pb, "study"), false);
    const { trials } = await svc.suggest("mo", 3, "w");
    const base = { constraintValues: [], metrics: {}, failed: false, failureReason: "", workerId: "", final: true };
    const values = [
      [1, 1],
      [3, 9],
      [4, 2], // dominated by [3, 9]
    ];
    for (const [i, t] of trials.entries()) await svc.report("mo", { ...base, trialId: t.id, values: values[i]! });
    const s = await samples(metrics);
    expect(s.get('hpod_study_best_value{study="mo",namespace="default",objective="obj0",direction="minimize"}')).toBe(1);
    expect(s.get('hpod_study_best_value{study="mo",namespace="default",objective="obj1",direction="maximize"}')).toBe(9);
  });

  it("a deleted study disappears from the gauges", async () => {
    const { metrics, svc } = await setup();
    await runSome(svc);
    await svc.deleteStudy("s1");
    const text = await metrics.text();
    expect(text).not.toMatch(/^hpod_trials\{study="s1"/m);
    expect(text).not.toMatch(/^hpod_study_best_value\{/m);
  });

  it("perStudy=false: no study or namespace label anywhere", async () => {
    const { metrics, svc } = await setup(false);
    await runSome(svc, "s1", "team-a");
    await runSome(svc, "s2", "team-b");
    const text = await metrics.text();
    expect(text).not.toMatch(/study=|namespace=/);
    const s = await samples(metrics);
    expect(s.get('hpod_trials{state="complete"}')).toBe(4);
    expect(s.get('hpod_trial_transitions_total{to="running"}')).toBe(6);
    expect(s.get("hpod_active_workers")).toBe(1); // w2 holds a trial in each study: one worker
    expect(text).not.toContain("hpod_study_best_value");
  });

  it("stale reclaims and RPC outcomes", async () => {
    let clock = Date.now();
    const { metrics, svc } = await setup(true, () => clock);
    await runSome(svc);
    clock += 24 * 3600 * 1000;
    await svc.sweepLeases();
    metrics.rpcStarted();
    metrics.rpcFinished("/hpod.v1.HpodService/GetStudy", "NOT_FOUND", 0.002, true);
    metrics.rpcStarted();
    metrics.rpcFinished("/hpod.v1.HpodService/WatchStudy", "CANCELLED", 30, false);
    const s = await samples(metrics);
    expect(s.get("hpod_stale_trials_reclaimed_total")).toBe(1);
    expect(s.get('hpod_trial_transitions_total{study="s1",namespace="team-a",to="failed"}')).toBe(1);
    expect(s.get('hpod_rpc_handled_total{service="hpod.v1.HpodService",method="GetStudy",code="NOT_FOUND"}')).toBe(1);
    expect(s.get('hpod_rpc_duration_seconds_count{service="hpod.v1.HpodService",method="GetStudy",code="NOT_FOUND"}')).toBe(1);
    // Streams are counted, not timed.
    expect(s.get('hpod_rpc_handled_total{service="hpod.v1.HpodService",method="WatchStudy",code="CANCELLED"}')).toBe(1);
    expect(s.has('hpod_rpc_duration_seconds_count{service="hpod.v1.HpodService",method="WatchStudy",code="CANCELLED"}')).toBe(false);
    expect(s.get("hpod_rpc_in_flight")).toBe(0);
  });

  it("uses its own registry, with process metrics on request", async () => {
    const m = new HpodMetrics();
    const text = await m.text();
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("hpod_build_info");
    expect(await globalRegistry.metrics()).not.toContain("hpod_");
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
