/**
 * deploy/grafana without Grafana: the dashboard is valid JSON with a
 * Prometheus data-source variable and a study variable, every panel queries
 * through the data-source variable, every hpod_* metric it names is one the
 * daemon registers, and the GPU panels (hpod_runner_* metrics, which the GPU
 * runner will export) sit in a row of their own. The provisioning files point
 * at the dashboard. Running each query against a real Prometheus is in
 * prometheus.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

import { HpodMetrics } from "../../server/metrics/metrics.js";
import { ROOT } from "../helpers/daemon.js";

interface Target {
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  type: string;
  title: string;
  id: number;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  collapsed?: boolean;
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  includeAll?: boolean;
  allValue?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dash = JSON.parse(readFileSync(join(ROOT, "deploy", "grafana", "hpod-dashboard.json"), "utf8")) as Dashboard;

/** Panels in order with the row each sits in (collapsed rows hold theirs). */
function panelsWithRows(): Array<{ panel: Panel; row: string }> {
  const out: Array<{ panel: Panel; row: string }> = [];
  let row = "";
  for (const p of dash.panels) {
    if (p.type === "row") {
      row = p.title;
      for (const child of p.panels ?? []) out.push({ panel: child, row });
    } else {
      out.push({ panel: p, row });
    }
  }
  return out;
}

const METRIC = /\b((?:hpod|process|nodejs)_[a-z0-9_]+)\b/g;

describe("Grafana dashboard", () => {
  it("has a uid, a Prometheus data-source variable and daemon, study and runner variables", () => {
    expect(dash.uid).toBe("hpod-overview");
    const vars = Object.fromEntries(dash.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(vars.study).toMatchObject({ type: "query", includeAll: true, allValue: ".*" });
    expect(JSON.stringify(vars.study!.query)).toContain("label_values(hpod_trials");
    expect(vars.instance).toMatchObject({ type: "query", includeAll: true });
    expect(vars.runner).toMatchObject({ type: "query", includeAll: true });
  });

  it("every panel queries Prometheus through the variable; ids are unique", () => {
    const all = panelsWithRows();
    expect(all.length).toBeGreaterThanOrEqual(15);
    const ids = new Set<number>();
    for (const { panel } of all) {
      expect(ids.has(panel.id), `duplicate id ${panel.id}`).toBe(false);
      ids.add(panel.id);
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        expect(t.expr.trim(), panel.title).not.toBe("");
        expect(t.datasource?.uid, panel.title).toBe("${datasource}");
      }
    }
  });

  it("covers what operators watch", () => {
    const titles = panelsWithRows().map(({ panel }) => panel.title.toLowerCase());
    for (const want of ["study progress", "best value", "trials by state", "prune rate", "rpc latency", "rpc errors", "store latency", "workers", "gpu utilization", "gpu memory"]) {
      expect(titles.some((t) => t.includes(want)), want).toBe(true);
    }
    const exprs = panelsWithRows().flatMap(({ panel }) => (panel.targets ?? []).map((t) => t.expr));
    expect(exprs.some((e) => e.includes("histogram_quantile(0.5,") && e.includes("hpod_rpc_duration_seconds_bucket"))).toBe(true);
    expect(exprs.some((e) => e.includes("histogram_quantile(0.99,") && e.includes("hpod_rpc_duration_seconds_bucket"))).toBe(true);
  });

  it("every hpod_ metric it names is registered by the daemon", async () => {
    const registered = new Set<string>();
    for (const m of await new HpodMetrics().registry.getMetricsAsJSON()) {
      registered.add(m.name);
      if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) registered.add(m.name + s);
    }
    for (const { panel } of panelsWithRows()) {
      for (const t of panel.targets ?? []) {
        for (const [, name] of t.expr.matchAll(METRIC)) {
          if (name!.startsWith("hpod_runner_")) continue;
          expect(registered.has(name!), `${panel.title}: ${name}`).toBe(true);
        }
      }
    }
  });

  it("GPU panels (hpod_runner_*) are in their own row and nowhere else", () => {
    for (const { panel, row } of panelsWithRows()) {
      const runner = (panel.targets ?? []).some((t) => t.expr.includes("hpod_runner_"));
      expect(runner, `${panel.title} in row ${row}`).toBe(row.startsWith("GPU runners"));
    }
    const names = panelsWithRows().flatMap(({ panel }) => (panel.targets ?? []).flatMap((t) => [...t.expr.matchAll(METRIC)].map((m) => m[1])));
    expect(names).toContain("hpod_runner_gpu_utilization_ratio");
    expect(names).toContain("hpod_runner_gpu_memory_used_bytes");
  });
});

describe("Grafana provisioning", () => {
  it("dashboards and data source files", () => {
    const d = parseYaml(readFileSync(join(ROOT, "deploy", "grafana", "provisioning", "dashboards", "hpod.yaml"), "utf8")) as {
      apiVersion: number;
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(d.apiVersion).toBe(1);
    expect(d.providers[0]).toMatchObject({ type: "file", options: { path: "/var/lib/grafana/dashboards/hpod" } });
    const s = parseYaml(readFileSync(join(ROOT, "deploy", "grafana", "provisioning", "datasources", "prometheus.yaml"), "utf8")) as {
      datasources: Array<{ type: string; url: string }>;
    };
    expect(s.datasources[0]).toMatchObject({ type: "prometheus" });
  });
});
