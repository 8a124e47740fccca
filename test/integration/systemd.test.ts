/**
 * deploy/systemd: `systemd-analyze verify --man=no` on each unit prints
 * nothing (it exits 0 on unknown keys and bad values, so any output fails),
 * the units keep the hardening and stop settings the docs promise, and the
 * stop timeout leaves room for the configured drain. The example config file
 * loads with the daemon's own config loader.
 *
 * systemd-analyze needs the ExecStart binary to exist: the units run
 * /usr/bin/node with the installed script as an argument, so only
 * /usr/bin/node matters. Where node lives elsewhere, the check runs on a copy
 * with /usr/bin/node replaced by this Node.js (said in the test name).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { loadConfig } from "../../server/config.js";
import { ROOT } from "../helpers/daemon.js";

const REQUIRE_OPS = process.env.HPOD_REQUIRE_OPS === "1";
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const nodeAtUsrBin = existsSync("/usr/bin/node");
const UNITS = ["hpod.service", "hpod-runner@.service"];
const unitPath = (u: string): string => join(ROOT, "deploy", "systemd", u);

/** `Key=value` settings of the [Service] section (last one wins). */
function settings(unit: string): Map<string, string> {
  const out = new Map<string, string>();
  let section = "";
  for (const raw of readFileSync(unitPath(unit), "utf8").split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) section = line;
    else if (section === "[Service]" && /^[A-Za-z]+=/.test(line)) {
      const i = line.indexOf("=");
      out.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  return out;
}

describe.skipIf(!hasAnalyze && !REQUIRE_OPS)(
  `systemd-analyze verify${hasAnalyze ? "" : " (skipped: systemd-analyze not installed; see .ci/install-ops-deps.sh)"}${nodeAtUsrBin ? "" : " (on copies: no /usr/bin/node here)"}`,
  () => {
    for (const unit of UNITS) {
      it(`${unit}: no output at all`, () => {
        let path = unitPath(unit);
        let tmp: string | undefined;
        if (!nodeAtUsrBin) {
          tmp = mkdtempSync(join(tmpdir(), "hpod-units-"));
          path = join(tmp, unit);
          writeFileSync(path, readFileSync(unitPath(unit), "utf8").replaceAll("/usr/bin/node ", `${process.execPath} `));
        }
        try {
          const r = spawnSync("systemd-analyze", ["verify", "--man=no", path], { encoding: "utf8", cwd: tmpdir() });
          expect(r.error).toBeUndefined();
          expect(`${r.stdout}${r.stderr}`).toBe("");
          expect(r.status).toBe(0);
        } finally {
          if (tmp) rmSync(tmp, { recursive: true, force: true });
        }
      });
    }

    it("a unit with a mistake does print something (the check can fail)", () => {
      const tmp = mkdtempSync(join(tmpdir(), "hpod-units-"));
      try {
        const path = join(tmp, "broken.service");
        writeFileSync(path, readFileSync(unitPath("hpod.service"), "utf8").replace("[Service]\n", "[Service]\nRestartt=always\n"));
        const r = spawnSync("systemd-analyze", ["verify", "--man=no", path], { encoding: "utf8", cwd: tmpdir() });
        expect(`${r.stdout}${r.stderr}`).toContain("Unknown key 'Restartt'");
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  },
);

describe("unit contents", () => {
  it("ExecStart runs node on scripts this build has", () => {
    expect(settings("hpod.service").get("ExecStart")).toBe("/usr/bin/node /usr/lib/hpod/dist/server/main.js serve --config /etc/hpod/hpod.yaml");
    expect(existsSync(join(ROOT, "dist", "server", "main.js"))).toBe(true);
    expect(settings("hpod-runner@.service").get("ExecStart")).toMatch(/^\/usr\/bin\/node \/usr\/lib\/hpod\/dist\/client\/cli\/main\.js runner /);
    expect(existsSync(join(ROOT, "dist", "client", "cli", "main.js"))).toBe(true);
  });

  it("hardening, restart, limits and state", () => {
    for (const unit of UNITS) {
      const s = settings(unit);
      for (const [k, v] of [
        ["DynamicUser", "yes"],
        ["Restart", "on-failure"],
        ["NoNewPrivileges", "yes"],
        ["ProtectSystem", "strict"],
        ["ProtectHome", "yes"],
        ["PrivateTmp", "yes"],
        ["LimitNOFILE", "65536"],
        ["KillSignal", "SIGTERM"],
      ]) {
        expect(s.get(k!), `${unit} ${k}`).toBe(v);
      }
      expect(s.get("StateDirectory"), unit).toBeTruthy();
    }
    expect(settings("hpod.service").get("StateDirectory")!.split(" ")[0]).toBe("hpod");
    expect(settings("hpod.service").get("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
  });

  it("the stop timeout leaves room for the configured drain; the example config loads", () => {
    const cfg = loadConfig(["--config", join(ROOT, "deploy", "hpod.yaml")], {});
    const stop = /^(\d+)s$/.exec(settings("hpod.service").get("TimeoutStopSec") ?? "");
    expect(stop).not.toBeNull();
    expect(Number(stop![1]) * 1000).toBeGreaterThanOrEqual(cfg.drainTimeoutMs + 5000);
    expect(cfg.listen).toBe("127.0.0.1:50551");
    expect(cfg.metricsListen).toBe("127.0.0.1:9551");
  });
});
