/**
 * The `hpo` CLI end to end: the built dist/client/cli/main.js as a child
 * process against the real daemon.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

import { StudyState } from "../../client/gen/hpod/v1/study.js";
import { Trial } from "../../client/gen/hpod/v1/trial.js";
import { HpodClient } from "../../client/hpod-client.js";
import { optimize } from "../../client/optimize.js";
import { messageFromJson } from "../../client/proto-json.js";
import { CLI_MAIN, DAEMON_MAIN, removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function hpo(address: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_MAIN, "--address", address, ...args],
      { env: { ...process.env, HPOD_ADDRESS: "" } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const SPEC_YAML = `# study spec for the CLI test
name: cli-quad
labels:
  owner: cli-test
spec:
  searchSpace:
    parameters:
      - name: x
        floatDomain: {low: -5, high: 5}
      - name: n
        intDomain: {low: 1, high: "10"}
  objectives:
    - name: loss
      direction: DIRECTION_MINIMIZE
  algorithm:
    name: random
    seed: 3
  maxTrials: 40
`;

/** Parses the CSV this CLI writes (quoted cells may hold commas and quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  return rows;
}

describe.skipIf(!existsSync(DAEMON_MAIN) || !existsSync(CLI_MAIN))("hpo CLI against the real daemon", () => {
  let daemon: Daemon;
  let client: HpodClient;
  let dir: string;
  let addr: string;

  beforeAll(async () => {
    daemon = await startDaemon();
    addr = daemon.address;
    client = new HpodClient({ address: addr });
    dir = tempDir("hpo-cli-");
  });

  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    if (daemon) removeDir(daemon.dataDir);
    if (dir) removeDir(dir);
  });

  it("study create -f spec.yaml, then --load-if-exists, then ALREADY_EXISTS", async () => {
    const file = join(dir, "spec.yaml");
    writeFileSync(file, SPEC_YAML);
    const created = await hpo(addr, "study", "create", "-f", file);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(created.stdout).toBe("created study cli-quad\n");
    const { study } = await client.getStudy({ name: "cli-quad" });
    expect(study?.labels).toEqual({ owner: "cli-test" });
    expect(study?.spec?.maxTrials).toBe(40);

    const loaded = await hpo(addr, "--json", "study", "create", "-f", file, "--load-if-exists");
    expect(loaded.code).toBe(0);
    const json = JSON.parse(loaded.stdout) as { created?: boolean; study: { name: string } };
    expect(json.created).toBeUndefined(); // false is the proto3 JSON default: omitted
    expect(json.study.name).toBe("cli-quad");

    const again = await hpo(addr, "study", "create", "-f", file);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^hpo: ALREADY_EXISTS: /);
  });

  it("study list shows the study (table and JSON)", async () => {
    const table = await hpo(addr, "study", "list");
    expect(table.code).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^NAME\s+NAMESPACE\s+STATE\s+ALGORITHM\s+TRIALS/);
    expect(rows.some((r) => /^cli-quad\s+default\s+ACTIVE\s+random\s/.test(r))).toBe(true);
    const json = await hpo(addr, "--json", "study", "list", "--all", "--page-size", "1");
    expect(json.code).toBe(0);
    const names = (JSON.parse(json.stdout) as { studies: Array<{ name: string }> }).studies.map((s) => s.name);
    expect(names).toContain("cli-quad");
  });

  it("study get shows a summary and the spec", async () => {
    const r = await hpo(addr, "study", "get", "cli-quad");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^name:\s+cli-quad$/m);
    expect(r.stdout).toMatch(/^objectives:\s+loss \(minimize\)$/m);
    expect(r.stdout).toMatch(/^x\s+float \[-5, 5\]/m);
    const j = await hpo(addr, "--json", "study", "get", "cli-quad");
    expect((JSON.parse(j.stdout) as { spec: { maxTrials: string } }).spec.maxTrials).toBe("40");
  });

  it("trials, best and export agree with ListTrials", async () => {
    await optimize(client, "cli-quad", (t) => (t.params.getFloat("x") - 1) ** 2 + t.params.getInt("n"), {
      trials: 12,
      concurrency: 4,
    });
    const all: Trial[] = [];
    for await (const t of client.iterateTrials({ study: "cli-quad" })) all.push(t);
    expect(all).toHaveLength(12);

    const trials = await hpo(addr, "trials", "cli-quad");
    expect(trials.code).toBe(0);
    const [header, ...rows] = trials.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^\s*ID\s+STATE\s+LOSS\s+x\s+n\s+DURATION\s+REASON$/);
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => /^\s*\d+\s+COMPLETE\s/.test(r))).toBe(true);
    const limited = await hpo(addr, "trials", "cli-quad", "--limit", "5", "--state", "complete");
    expect(limited.stdout.trimEnd().split("\n")).toHaveLength(6);
    const none = await hpo(addr, "--json", "trials", "cli-quad", "--state", "failed,pruned");
    expect(JSON.parse(none.stdout)).toEqual({});

    const best = await hpo(addr, "--json", "best", "cli-quad");
    expect(best.code).toBe(0);
    const bestTrials = (JSON.parse(best.stdout) as { trials: unknown[] }).trials.map((t) => messageFromJson("hpod.v1.Trial", Trial, t));
    const min = Math.min(...all.map((t) => t.finalMeasurement!.values[0]));
    expect(bestTrials).toHaveLength(1);
    expect(bestTrials[0].finalMeasurement?.values[0]).toBe(min);
    const bestTable = await hpo(addr, "best", "cli-quad");
    expect(bestTable.stdout).toMatch(new RegExp(`^\\s*${bestTrials[0].id}\\s+COMPLETE\\s`, "m"));

    // CSV to a file.
    const csvFile = join(dir, "trials.csv");
    const csv = await hpo(addr, "export", "cli-quad", "--format", "csv", "-o", csvFile);
    expect(csv.code).toBe(0);
    const [csvHeader, ...csvRows] = parseCsv(readFileSync(csvFile, "utf8"));
    expect(csvHeader).toEqual([
      "id",
      "state",
      "params.x",
      "params.n",
      "values.loss",
      "start_time",
      "end_time",
      "duration_seconds",
      "state_reason",
    ]);
    expect(csvRows).toHaveLength(all.length);
    const byId = new Map(all.map((t) => [t.id, t]));
    for (const row of csvRows) {
      const t = byId.get(Number(row[0]))!;
      expect(t).toBeDefined();
      expect(row[1]).toBe("COMPLETE");
      const x = t.params.x?.kind;
      const n = t.params.n?.kind;
      expect(Number(row[2])).toBe(x?.value);
      expect(Number(row[3])).toBe(n?.value);
      expect(Number(row[4])).toBe(t.finalMeasurement?.values[0]);
      expect(row[5]).toBe(t.startTime?.toISOString());
      expect(row[6]).toBe(t.endTime?.toISOString());
      expect(Number(row[7])).toBeCloseTo((t.endTime!.getTime() - t.startTime!.getTime()) / 1000, 6);
    }

    // JSON to stdout.
    const json = await hpo(addr, "export", "cli-quad", "--format", "json");
    expect(json.code).toBe(0);
    const exported = (JSON.parse(json.stdout) as unknown[]).map((t) => messageFromJson("hpod.v1.Trial", Trial, t));
    expect(exported.sort((a, b) => a.id - b.id)).toEqual([...all].sort((a, b) => a.id - b.id));
  });

  it("study pause / resume change the state", async () => {
    const pause = await hpo(addr, "study", "pause", "cli-quad");
    expect(pause).toMatchObject({ code: 0, stdout: "study cli-quad: PAUSED\n" });
    expect((await client.getStudy({ name: "cli-quad" })).study?.state).toBe(StudyState.STUDY_STATE_PAUSED);
    const resume = await hpo(addr, "--json", "study", "resume", "cli-quad");
    expect(resume.code).toBe(0);
    expect((JSON.parse(resume.stdout) as { state: string }).state).toBe("STUDY_STATE_ACTIVE");
    expect((await client.getStudy({ name: "cli-quad" })).study?.state).toBe(StudyState.STUDY_STATE_ACTIVE);
  });

  it("watch prints one line per event when stdout is not a TTY", async () => {
    const child = spawn(process.execPath, [CLI_MAIN, "--address", addr, "watch", "cli-quad"], { stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => lines.push(l));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    await expect.poll(() => lines.filter((l) => l.includes(" EXISTING trial ")).length, { timeout: 10_000 }).toBe(12);
    await optimize(client, "cli-quad", () => 0.5, { trials: 1 });
    await expect.poll(() => lines.some((l) => / FINISHED trial 12 COMPLETE loss=0\.5 /.test(l)), { timeout: 10_000 }).toBe(true);
    expect(lines[0]).toMatch(/^watching study cli-quad: ACTIVE  queued 0  running 0  complete 12/);
    expect(lines[lines.length - 1]).toMatch(/complete 13  pruned 0  failed 0  best loss=/);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
  });

  it("a bad spec fails, naming the unknown field", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, SPEC_YAML.replace("name: cli-quad", "name: cli-bad").replace("maxTrials: 40", "maxTrails: 40"));
    const r = await hpo(addr, "study", "create", "-f", file);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^hpo: INVALID_ARGUMENT: .*bad\.yaml: spec\.maxTrails: unknown field "maxTrails"/);
    expect((await client.listStudies({})).studies.map((s) => s.name)).not.toContain("cli-bad");
  });

  it("a spec the daemon rejects fails with its message", async () => {
    const file = join(dir, "invalid.yaml");
    const spec = parseYaml(SPEC_YAML) as { name: string; spec: { searchSpace: { parameters: Array<{ floatDomain?: { low: number } }> } } };
    spec.name = "cli-invalid";
    spec.spec.searchSpace.parameters[0].floatDomain!.low = 9;
    writeFileSync(file, JSON.stringify(spec));
    const r = await hpo(addr, "study", "create", "-f", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hpo: INVALID_ARGUMENT: study\.spec\./);
  });

  it("a missing study is NOT_FOUND, exit 1", async () => {
    for (const args of [["study", "get", "nope"], ["trials", "nope"], ["best", "nope"], ["export", "nope"], ["study", "pause", "nope"]]) {
      const r = await hpo(addr, ...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(/^hpo: NOT_FOUND: .*nope/);
    }
  });

  it("study stop, then delete --yes removes the study", async () => {
    const stop = await hpo(addr, "study", "stop", "cli-quad");
    expect(stop).toMatchObject({ code: 0, stdout: "study cli-quad: STOPPED\n" });
    const suggest = await client.suggest({ study: "cli-quad", count: 1, workerId: "w" });
    expect(suggest.studyDone).toBe(true);
    const r = await hpo(addr, "study", "delete", "cli-quad", "--yes");
    expect(r).toMatchObject({ code: 0, stdout: "deleted study cli-quad\n" });
    const again = await hpo(addr, "study", "get", "cli-quad");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^hpo: NOT_FOUND: /);
  });

  it("usage errors exit 2 with the usage text", async () => {
    const r = await hpo(addr, "trials");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hpo: trials: missing STUDY\n\nUsage: hpo /);
  });

  it("an unreachable daemon is UNAVAILABLE, exit 1", async () => {
    const r = await hpo("127.0.0.1:1", "study", "list");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hpo: UNAVAILABLE: /);
  });
});
