/**
 * deploy/prometheus with promtool, so CI runs it: the scrape config and the
 * alert rules check clean, the rules' unit tests (deploy/prometheus/tests)
 * pass, and every alert has at least one test that expects it to fire.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

import { ROOT } from "../helpers/daemon.js";

const REQUIRE_OPS = process.env.HPOD_REQUIRE_OPS === "1";
const hasPromtool = spawnSync("promtool", ["--version"]).status === 0;
const DIR = join(ROOT, "deploy", "prometheus");

function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync("promtool", args, { cwd: DIR, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface RulesFile {
  groups: Array<{ rules: Array<{ alert?: string }> }>;
}
interface TestsFile {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}

describe.skipIf(!hasPromtool && !REQUIRE_OPS)(`promtool${hasPromtool ? "" : " (skipped: promtool not installed; see .ci/install-ops-deps.sh)"}`, () => {
  it("check config", () => {
    const r = promtool("check", "config", "prometheus.yml");
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain("SUCCESS: prometheus.yml is valid prometheus config file syntax");
  });

  it("check rules", () => {
    const files = readdirSync(join(DIR, "rules")).map((f) => join("rules", f));
    const r = promtool("check", "rules", ...files);
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(/FAILED|WARNING/);
  });

  it("test rules", () => {
    const files = readdirSync(join(DIR, "tests")).map((f) => join("tests", f));
    expect(files.length).toBeGreaterThan(0);
    const r = promtool("test", "rules", ...files);
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toContain("FAILED");
  });
});

it("every alert has a test that expects it to fire", () => {
  const alerts = readdirSync(join(DIR, "rules")).flatMap((f) =>
    (parseYaml(readFileSync(join(DIR, "rules", f), "utf8")) as RulesFile).groups.flatMap((g) => g.rules.map((r) => r.alert).filter((a): a is string => !!a)),
  );
  const firing = new Set(
    readdirSync(join(DIR, "tests")).flatMap((f) =>
      (parseYaml(readFileSync(join(DIR, "tests", f), "utf8")) as TestsFile).tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
      ),
    ),
  );
  expect(alerts.sort()).toEqual(["HpodDown", "HpodHighErrorRate", "HpodStaleTrials", "HpodStoreNotWritable", "HpodStoreSlow", "HpodStudyStalled"]);
  for (const a of alerts) expect(firing.has(a), a).toBe(true);
});
