/**
 * A real Prometheus (Debian's prometheus 2.42) on loopback scrapes a real
 * daemon every second while a study runs, with deploy/prometheus's alert
 * rules loaded. Through Prometheus' HTTP API:
 *  - the completed-trial count and the best value match the daemon's own
 *    answers (GetStudy trial_counts, GetBestTrials);
 *  - every alert rule evaluates without error;
 *  - every PromQL expression of the Grafana dashboard (variables substituted)
 *    is valid, and every metric it names exists, except hpod_runner_* ones
 *    (the GPU runner's, not running here), which are only checked for validity.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { removeDir, ROOT, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { connect, type TestClient } from "../helpers/grpc-client.js";
import { report, study } from "../helpers/specs.js";

const REQUIRE_OPS = process.env.HPOD_REQUIRE_OPS === "1";
const hasPrometheus = spawnSync("prometheus", ["--version"]).status === 0;
const MAX_TRIALS = 24;

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/**
 * Metric names an expression selects: what remains after removing strings,
 * label matchers, ranges, grouping clauses and function calls, minus keywords.
 */
export function metricNames(expr: string): string[] {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  e = e.replace(/\{[^}]*\}/g, " ").replace(/\[[^\]]*\]/g, " ");
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  e = e.replace(/(^|[^A-Za-z0-9_:])\d[\d.e+]*(ms|s|m|h|d|w|y)?(?![A-Za-z0-9_:])/g, "$1 ");
  const keywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"]);
  const out = new Set<string>();
  for (const m of e.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    const name = m[1]!;
    if (m[2] || keywords.has(name.toLowerCase())) continue;
    out.add(name);
  }
  return [...out];
}

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

describe.skipIf(!hasPrometheus && !REQUIRE_OPS)(
  `real Prometheus${hasPrometheus ? "" : " (skipped: prometheus not installed; see .ci/install-ops-deps.sh)"}`,
  () => {
    let d: Daemon;
    let c: TestClient;
    let prom: ChildProcess;
    let api: string;
    const dir = tempDir("hpod-prom-");
    let promLog = "";

    const query = async (q: string): Promise<QueryResult> => (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as QueryResult;
    const scalar = async (q: string): Promise<number | undefined> => {
      const r = await query(q);
      const v = r.data?.result[0]?.value[1];
      return v === undefined ? undefined : Number(v);
    };

    beforeAll(async () => {
      d = await startDaemon({ args: ["--metrics-listen", "127.0.0.1:0"] });
      c = connect(d.address);
      const line = d.logs.find((l) => l.includes('"metrics listening"'))!;
      const target = (JSON.parse(line) as { address: string }).address;
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      const config = join(dir, "prometheus.yml");
      writeFileSync(
        config,
        [
          "global:",
          "  scrape_interval: 1s",
          "  evaluation_interval: 1s",
          "rule_files:",
          `  - ${JSON.stringify(join(ROOT, "deploy", "prometheus", "rules", "hpod-alerts.yml"))}`,
          "scrape_configs:",
          "  - job_name: hpod",
          "    static_configs:",
          `      - targets: [${JSON.stringify(target)}]`,
          "",
        ].join("\n"),
      );
      prom = spawn(
        "prometheus",
        [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      prom.stderr!.on("data", (b: Buffer) => (promLog += b.toString()));

      // A study runs while Prometheus starts and scrapes.
      await c.createStudy({ study: study("prom", { maxTrials: MAX_TRIALS }), loadIfExists: false });
      const worker = async (w: string): Promise<void> => {
        for (;;) {
          const r = await c.suggest({ study: "prom", count: 1, workerId: w });
          const t = r.trials[0];
          if (!t) {
            if (r.studyDone) return;
            await new Promise((res) => setTimeout(res, 50));
            continue;
          }
          await c.report(report("prom", t.id, [t.id], { step: 1, workerId: w }));
          await c.report(report("prom", t.id, [Math.abs(t.id - 7) + 0.25], { final: true, workerId: w }));
          await new Promise((res) => setTimeout(res, 100));
        }
      };
      await Promise.all([worker("w1"), worker("w2")]);
      // Poll for the first scrape instead of sleeping (it lands ~5 s after start).
      await until("up{job=\"hpod\"} == 1", async () => ((await scalar('up{job="hpod"}')) === 1 ? true : undefined));
    }, 90_000);

    afterAll(async () => {
      c?.close();
      if (prom && prom.exitCode === null) {
        prom.kill("SIGTERM");
        await new Promise((r) => prom.once("exit", r));
      }
      await d?.stop();
      if (d) removeDir(d.dataDir);
      removeDir(dir);
    });

    it("the completed-trial count and best value match GetStudy and GetBestTrials", async () => {
      const s = (await c.getStudy({ name: "prom" })).study!;
      expect(s.trialCounts!.complete).toBe(MAX_TRIALS);
      const best = (await c.getBestTrials({ study: "prom" })).trials[0]!.finalMeasurement!.values[0];
      const complete = await until("the final trial count in Prometheus", async () => {
        const v = await scalar('sum(hpod_trials{job="hpod",study="prom",state="complete"})');
        return v === s.trialCounts!.complete ? v : undefined;
      });
      expect(complete).toBe(s.trialCounts!.complete);
      expect(await scalar('hpod_study_best_value{job="hpod",study="prom",objective="obj0"}')).toBe(best);
      expect(await scalar('sum(hpod_trial_transitions_total{job="hpod",study="prom",to="complete"})')).toBe(MAX_TRIALS);
      expect(await scalar('hpod_studies{job="hpod",state="completed"}')).toBe(1);
    });

    it("every alert rule evaluates without error", async () => {
      const rules = await until("rules evaluated", async () => {
        const r = (await (await fetch(`${api}/api/v1/rules`)).json()) as {
          data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }> }> };
        };
        const all = r.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((x) => !x.lastEvaluation.startsWith("0001")) ? all : undefined;
      });
      expect(rules.map((r) => r.name).sort()).toEqual(["HpodDown", "HpodHighErrorRate", "HpodStaleTrials", "HpodStoreNotWritable", "HpodStoreSlow", "HpodStudyStalled"]);
      for (const r of rules) expect(r, r.name).toMatchObject({ health: "ok" });
      // Nothing fires for a healthy daemon.
      expect((await query("ALERTS")).data?.result).toEqual([]);
    });

    it("every dashboard expression is valid and names existing metrics", async () => {
      const dash = JSON.parse(readFileSync(join(ROOT, "deploy", "grafana", "hpod-dashboard.json"), "utf8")) as { panels: Panel[] };
      const panels = dash.panels.flatMap((p) => (p.type === "row" ? (p.panels ?? []) : [p]));
      const names = new Set(((await (await fetch(`${api}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data);
      let checked = 0;
      let runnerOnly = 0;
      for (const p of panels) {
        for (const t of p.targets ?? []) {
          const expr = t.expr
            .replaceAll("$__rate_interval", "30s")
            .replaceAll("$__interval", "15s")
            .replace(/\$(instance|study|runner)\b/g, ".*");
          expect(expr, `${p.title}: unsubstituted variable`).not.toContain("$");
          const r = await query(expr);
          expect(r, `${p.title}: ${expr}`).toMatchObject({ status: "success" });
          const used = metricNames(expr);
          expect(used.length, `${p.title}: ${expr}`).toBeGreaterThan(0);
          if (used.every((n) => n.startsWith("hpod_runner_"))) {
            runnerOnly++;
            continue;
          }
          for (const n of used) expect(names.has(n), `${p.title}: metric ${n} does not exist in Prometheus`).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(20);
      expect(runnerOnly).toBe(2);
      expect(promLog).not.toMatch(/level=error/);
    });
  },
);

describe("metricNames", () => {
  it("finds selected metrics, not functions, labels or keywords", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, method) (rate(hpod_rpc_duration_seconds_bucket{instance=~".*",code!="OK"}[30s]))) / on (x) group_left(y) up offset 5m',
      ).sort(),
    ).toEqual(["hpod_rpc_duration_seconds_bucket", "up"]);
    expect(metricNames('sum(a) / sum(b{c="d(e)"}) > bool 0 unless c')).toEqual(["a", "b", "c"]);
  });
});
