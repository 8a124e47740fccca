/**
 * The CLI's parsing and rendering, in process (no daemon).
 */
import { PassThrough } from "node:stream";

import { describe, expect, it } from "vitest";

import { parseCommandLine } from "../../client/cli/args.js";
import { parseStates } from "../../client/cli/commands/trials.js";
import { csvCell, trialsToCsv } from "../../client/cli/csv.js";
import { formatDuration, formatNumber } from "../../client/cli/display.js";
import { runCli } from "../../client/cli/run.js";
import { bestTrial, paretoFront, summaryLine } from "../../client/cli/summary.js";
import { formatTable } from "../../client/cli/table.js";
import { UsageError } from "../../client/cli/usage.js";
import { LrScheduleKind } from "../../client/gen/hpod/v1/search_space.js";
import { Direction, Study, StudyState } from "../../client/gen/hpod/v1/study.js";
import { Trial, TrialState } from "../../client/gen/hpod/v1/trial.js";

function io(env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), env },
    out: () => out,
    err: () => err,
  };
}

describe("parseCommandLine", () => {
  it("parses global options anywhere and the command words", () => {
    const line = parseCommandLine(["--address", "h:1", "study", "list", "--all", "--json"], {});
    expect(line).toMatchObject({ address: "h:1", json: true, command: "study list", args: [] });
    expect(line.values.all).toBe(true);
    expect(parseCommandLine(["trials", "s", "--state", "running,complete", "--state", "failed"], {}).values.state).toEqual([
      "running,complete",
      "failed",
    ]);
    expect(parseCommandLine(["export", "s", "-o", "f.csv", "--format=json"], {}).values).toMatchObject({ output: "f.csv", format: "json" });
  });

  it("takes the address from HPOD_ADDRESS, else the default", () => {
    expect(parseCommandLine(["best", "s"], { HPOD_ADDRESS: "e:2" }).address).toBe("e:2");
    expect(parseCommandLine(["best", "s"], {}).address).toBe("127.0.0.1:50551");
    expect(parseCommandLine(["--address=x:3", "best", "s"], { HPOD_ADDRESS: "e:2" }).address).toBe("x:3");
  });

  it("rejects bad command lines with usage errors", () => {
    const bad: string[][] = [
      ["nope"],
      ["study"],
      ["study", "frobnicate"],
      ["study", "get"],
      ["study", "get", "a", "b"],
      ["study", "get", "a", "--all"],
      ["trials", "s", "--bogus"],
      ["study", "create", "-f"],
    ];
    for (const argv of bad) expect(() => parseCommandLine(argv, {}), argv.join(" ")).toThrow(UsageError);
  });

  it("parses trial states", () => {
    expect(parseStates(["running,COMPLETE", "trial_state_failed", "complete"])).toEqual([
      TrialState.TRIAL_STATE_RUNNING,
      TrialState.TRIAL_STATE_COMPLETE,
      TrialState.TRIAL_STATE_FAILED,
    ]);
    expect(() => parseStates(["done"])).toThrow(/unknown state "done"/);
  });
});

describe("runCli without a daemon", () => {
  it("prints help with exit 0", async () => {
    const t = io();
    expect(await runCli(["--help"], t.io)).toBe(0);
    expect(t.out()).toMatch(/^Usage: hpo /);
  });

  it("prints a usage error with the usage text, exit 2", async () => {
    const t = io();
    expect(await runCli(["trials"], t.io)).toBe(2);
    expect(t.err()).toMatch(/^hpo: trials: missing STUDY\n\nUsage: hpo/);
    const t2 = io();
    expect(await runCli([], t2.io)).toBe(2);
    const t3 = io();
    expect(await runCli(["export", "s", "--format", "xml"], t3.io)).toBe(2);
    expect(t3.err()).toMatch(/--format must be csv or json/);
  });

  it("refuses to delete without --yes when stdin is not a terminal", async () => {
    const t = io();
    expect(await runCli(["study", "delete", "s"], t.io)).toBe(2);
    expect(t.err()).toMatch(/pass --yes/);
  });

  it("prints `hpo: CODE: message` for a failed call, exit 1", async () => {
    const t = io();
    expect(await runCli(["--address", "127.0.0.1:1", "study", "get", "s"], t.io)).toBe(1);
    expect(t.err()).toMatch(/^hpo: UNAVAILABLE: /);
  });

  it("names an unknown spec field, exit 1", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const file = join(mkdtempSync(join(tmpdir(), "hpo-cli-")), "spec.yaml");
    writeFileSync(file, "name: s\nspec:\n  maxTrails: 3\n");
    const t = io();
    expect(await runCli(["--address", "127.0.0.1:1", "study", "create", "-f", file], t.io)).toBe(1);
    expect(t.err()).toMatch(/^hpo: INVALID_ARGUMENT: .*spec\.yaml: spec\.maxTrails: unknown field "maxTrails" of hpod\.v1\.StudySpec \(did you mean "maxTrials"\?\)/);
  });
});

describe("rendering", () => {
  const study = Study.fromPartial({
    name: "s",
    state: StudyState.STUDY_STATE_ACTIVE,
    spec: {
      objectives: [{ name: "loss", direction: Direction.DIRECTION_MINIMIZE }],
      searchSpace: { parameters: [{ name: "x" }, { name: "opt" }] },
    },
  });
  const t0 = Trial.fromPartial({
    id: 0,
    state: TrialState.TRIAL_STATE_COMPLETE,
    params: { x: { kind: { $case: "numberValue", value: 0.1 } }, opt: { kind: { $case: "stringValue", value: 'a,"b"' } } },
    finalMeasurement: { values: [2.5] },
    startTime: new Date("2024-01-01T00:00:00Z"),
    endTime: new Date("2024-01-01T00:00:01.5Z"),
  });
  const t1 = Trial.fromPartial({
    id: 1,
    state: TrialState.TRIAL_STATE_FAILED,
    stateReason: "nan objective",
    params: {
      x: { kind: { $case: "numberValue", value: 0.2 } },
      sched: { kind: { $case: "lrScheduleValue", value: { kind: LrScheduleKind.LR_SCHEDULE_KIND_STEP, values: { gamma: 0.5 } } } },
    },
  });
  const t2 = Trial.fromPartial({ id: 2, state: TrialState.TRIAL_STATE_COMPLETE, finalMeasurement: { values: [1.25] } });

  it("writes CSV with params.* and values.* columns", () => {
    const csv = trialsToCsv(study, [t0, t1]);
    const lines = csv.trimEnd().split("\n");
    expect(lines[0]).toBe("id,state,params.x,params.opt,params.sched,values.loss,start_time,end_time,duration_seconds,state_reason");
    expect(lines[1]).toBe('0,COMPLETE,0.1,"a,""b""",,2.5,2024-01-01T00:00:00.000Z,2024-01-01T00:00:01.500Z,1.5,');
    expect(lines[2]).toBe('1,FAILED,0.2,,"{""kind"":""LR_SCHEDULE_KIND_STEP"",""values"":{""gamma"":0.5}}",,,,,nan objective');
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a\nb")).toBe('"a\nb"');
  });

  it("aligns tables", () => {
    expect(formatTable(["A", { header: "N", align: "right" }], [["xx", "1"], ["y", "100"]])).toBe("A     N\nxx    1\ny   100\n");
  });

  it("formats numbers and durations", () => {
    expect(formatNumber(3)).toBe("3");
    expect(formatNumber(0.1234567)).toBe("0.123457");
    expect(formatNumber(1e-7)).toBe("1e-7");
    expect(formatNumber(NaN)).toBe("NaN");
    expect(formatDuration(1500)).toBe("1.50s");
    expect(formatDuration(125_000)).toBe("2m05s");
    expect(formatDuration(3_720_000)).toBe("1h02m");
  });

  it("summarises counts and the best value", () => {
    expect(bestTrial([t0, t1, t2], Direction.DIRECTION_MINIMIZE)?.trial.id).toBe(2);
    expect(bestTrial([t0, t1, t2], Direction.DIRECTION_MAXIMIZE)?.trial.id).toBe(0);
    expect(summaryLine(study, [t0, t1, t2])).toBe(
      "ACTIVE  queued 0  running 0  complete 2  pruned 0  failed 1  best loss=1.25 (trial 2)",
    );
  });

  it("finds the Pareto front", () => {
    const p = (id: number, a: number, b: number) =>
      Trial.fromPartial({ id, state: TrialState.TRIAL_STATE_COMPLETE, finalMeasurement: { values: [a, b] } });
    const front = paretoFront([p(0, 1, 5), p(1, 2, 2), p(2, 3, 3), p(3, 5, 1)], [Direction.DIRECTION_MINIMIZE, Direction.DIRECTION_MINIMIZE]);
    expect(front.map((t) => t.id)).toEqual([0, 1, 3]);
  });
});
