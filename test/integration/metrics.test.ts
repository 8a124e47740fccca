/**
 * The metrics listener of a real daemon: /healthz, /readyz, /metrics with the
 * RPC, trial, store and process metrics; values that agree with the API's own
 * answers; `promtool check metrics` clean on the exposition; per-study labels
 * off; and the listener's bind rules (the default address is best effort, an
 * address asked for must bind).
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Direction } from "../../client/gen/hpod/v1/study.js";
import { DAEMON_MAIN, removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { codeOf, connect, type TestClient } from "../helpers/grpc-client.js";
import { report, study } from "../helpers/specs.js";

const REQUIRE_OPS = process.env.HPOD_REQUIRE_OPS === "1";
const hasPromtool = spawnSync("promtool", ["--version"]).status === 0;

/** The metrics address from the daemon's "metrics listening" log line. */
function metricsAddress(d: Daemon): string {
  for (const line of d.logs) {
    try {
      const rec = JSON.parse(line) as { msg?: string; address?: string };
      if (rec.msg === "metrics listening" && rec.address) return rec.address;
    } catch {
      /* not JSON */
    }
  }
  throw new Error(`no "metrics listening" line:\n${d.logs.join("\n")}`);
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(url, init);
  return { status: r.status, body: await r.text(), type: r.headers.get("content-type") ?? "" };
}

/** Sample value of an exact series `name{labels}` in an exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** The three default gauges promtool rejects (prometheus/client_js#283), removed before linting. */
function withoutKnownLintIssues(text: string): string {
  return text
    .split("\n")
    .filter((l) => !/^(# (HELP|TYPE) )?nodejs_active_(handles|requests|resources)_total\b/.test(l))
    .join("\n");
}

describe("metrics listener", () => {
  let d: Daemon;
  let client: TestClient;
  let base: string;

  beforeAll(async () => {
    d = await startDaemon({ args: ["--metrics-listen", "127.0.0.1:0"] });
    client = connect(d.address);
    base = `http://${metricsAddress(d)}`;
    await client.createStudy({ study: { ...study("m1", { directions: [Direction.DIRECTION_MAXIMIZE], maxTrials: 10, pruner: "" }), namespace: "team-a" }, loadIfExists: false });
    const { trials } = await client.suggest({ study: "m1", count: 4, workerId: "w1" });
    await client.report(report("m1", trials[0]!.id, [0.5], { step: 1 }));
    await client.report(report("m1", trials[0]!.id, [0.7], { final: true }));
    await client.report(report("m1", trials[1]!.id, [0.9], { final: true }));
    await client.report(report("m1", trials[2]!.id, [0], { failed: true, failureReason: "oom" }));
    await codeOf(client.getStudy({ name: "missing" }));
  });
  afterAll(async () => {
    client?.close();
    await d?.stop();
    if (d) removeDir(d.dataDir);
  });

  it("/healthz and /readyz", async () => {
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 200, body: "ready\n" });
    expect((await get(`${base}/nope`)).status).toBe(404);
    expect((await get(`${base}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("/metrics agrees with GetStudy and GetBestTrials", async () => {
    const { status, body, type } = await get(`${base}/metrics`);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = (await client.getStudy({ name: "m1" })).study!;
    const best = (await client.getBestTrials({ study: "m1" })).trials;
    const at = 'study="m1",namespace="team-a"';
    expect(sample(body, `hpod_trials{${at},state="complete"}`)).toBe(s.trialCounts!.complete);
    expect(sample(body, `hpod_trials{${at},state="failed"}`)).toBe(s.trialCounts!.failed);
    expect(sample(body, `hpod_trials{${at},state="running"}`)).toBe(s.trialCounts!.running);
    expect(sample(body, `hpod_study_best_value{${at},objective="obj0",direction="maximize"}`)).toBe(best[0]!.finalMeasurement!.values[0]);
    expect(sample(body, `hpod_study_max_trials{${at}}`)).toBe(10);
    expect(sample(body, `hpod_active_workers{${at}}`)).toBe(1);
    expect(sample(body, `hpod_trial_transitions_total{${at},to="running"}`)).toBe(4);
    expect(sample(body, `hpod_trial_transitions_total{${at},to="failed"}`)).toBe(1);
    expect(sample(body, 'hpod_prune_decisions_total{pruner="default",decision="continue"}')).toBe(1);
    expect(sample(body, 'hpod_rpc_handled_total{service="hpod.v1.HpodService",method="Report",code="OK"}')).toBe(4);
    expect(sample(body, 'hpod_rpc_handled_total{service="hpod.v1.HpodService",method="GetStudy",code="NOT_FOUND"}')).toBe(1);
    expect(sample(body, 'hpod_rpc_duration_seconds_count{service="hpod.v1.HpodService",method="Suggest",code="OK"}')).toBe(1);
    expect(sample(body, 'hpod_suggest_duration_seconds_count{algorithm="random"}')).toBe(1);
    expect(sample(body, "hpod_store_sync_duration_seconds_count")).toBeGreaterThan(0);
    expect(sample(body, "hpod_store_writable")).toBe(1);
    expect(sample(body, "hpod_stale_trials_reclaimed_total")).toBe(0);
    expect(body).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(body).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  describe.skipIf(!hasPromtool && !REQUIRE_OPS)(`promtool check metrics${hasPromtool ? "" : " (skipped: promtool not installed; see .ci/install-ops-deps.sh)"}`, () => {
    it("is clean on hpod's exposition (three known default-gauge names filtered)", async () => {
      const { body } = await get(`${base}/metrics`);
      const r = spawnSync("promtool", ["check", "metrics"], { input: withoutKnownLintIssues(body), encoding: "utf8" });
      expect(r.error).toBeUndefined();
      expect(`${r.stdout}${r.stderr}`).toBe("");
      expect(r.status).toBe(0);
      // And the filter removes exactly those: unfiltered, promtool names only them.
      const raw = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" });
      const complaints = `${raw.stdout}${raw.stderr}`.trim().split("\n").filter((l) => l !== "");
      for (const c of complaints) expect(c).toMatch(/^nodejs_active_(handles|requests|resources)_total /);
    });
  });
});

describe("metrics options", () => {
  it("--metrics-per-study=false drops study and namespace labels", async () => {
    const d = await startDaemon({ args: ["--metrics-listen", "127.0.0.1:0", "--metrics-per-study=false"] });
    const c = connect(d.address);
    try {
      await c.createStudy({ study: study("p1"), loadIfExists: false });
      await c.suggest({ study: "p1", count: 2, workerId: "w" });
      const { body } = await get(`http://${metricsAddress(d)}/metrics`);
      expect(body).not.toMatch(/study="|namespace="/);
      expect(sample(body, 'hpod_trials{state="running"}')).toBe(2);
      expect(sample(body, "hpod_active_workers")).toBe(1);
    } finally {
      c.close();
      await d.stop();
      removeDir(d.dataDir);
    }
  });

  it('--metrics-listen "" turns the listener off', async () => {
    const d = await startDaemon({ args: ["--metrics-listen", ""] });
    try {
      expect(d.logs.join("\n")).not.toContain("metrics listening");
    } finally {
      await d.stop();
      removeDir(d.dataDir);
    }
  });

  it("an address asked for must bind; the default one is best effort", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((res) => blocker.listen(0, "127.0.0.1", () => res()));
    const port = (blocker.address() as { port: number }).port;
    const dir = tempDir();
    try {
      const p = spawn(process.execPath, [DAEMON_MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--metrics-listen", `127.0.0.1:${port}`], {
        env: { ...process.env, HPOD_LOG_FORMAT: "json" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      p.stderr!.on("data", (b: Buffer) => (err += b.toString()));
      const code = await new Promise<number | null>((res) => p.once("exit", res));
      expect(code).toBe(1);
      expect(err).toContain(`cannot listen on 127.0.0.1:${port} for metrics: address already in use`);
      // The default address taken (by us, or by any other hpod): the daemon still serves.
      const held: Server = createServer();
      await new Promise<void>((res) => {
        held.once("error", () => res());
        held.listen(9551, "127.0.0.1", () => res());
      });
      try {
        const d = await startDaemon({ dataDir: dir, env: { HPOD_METRICS_LISTEN: "" } });
        try {
          const logs = d.logs.join("\n");
          expect(logs).toContain("metrics, /healthz and /readyz are off");
        } finally {
          await d.stop();
        }
      } finally {
        held.close();
      }
    } finally {
      blocker.close();
      removeDir(dir);
    }
  });
});
