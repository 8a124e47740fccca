/**
 * The runner's pure modules: command template, metric lines, nvidia-smi
 * parsing, slot plans, options, Slurm output parsing, trial parameters.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { LrSchedule, LrScheduleKind } from "../../client/gen/hpod/v1/search_space.js";
import { Trial, TrialState } from "../../client/gen/hpod/v1/trial.js";
import type { Launcher } from "../../gpu-runner/launcher.js";
import { parseListen, RunnerMetrics } from "../../gpu-runner/runner-metrics.js";
import { TrialSupervisor, type RunnerApi } from "../../gpu-runner/trial-supervisor.js";
import { createLogger } from "../../server/log.js";
import { checkPlaceholders, paramText, parseTemplate, renderCommand, shellQuote, TemplateError } from "../../gpu-runner/command-template.js";
import { parseGpuList, parseNvidiaSmi, queryNvidiaSmi, selectGpus } from "../../gpu-runner/gpu-discovery.js";
import { LineSplitter, MAX_LINE_CHARS, parseMetricLine } from "../../gpu-runner/metric-lines.js";
import { parseDurationMs, resolveRunnerOptions, RunnerOptionsError } from "../../gpu-runner/options.js";
import { batchScript, exitInfoOf, parseSbatchOutput, parseScontrolJob, parseSqueue } from "../../gpu-runner/slurm-launcher.js";
import { planCpuSlots, planGpuSlots, planSlurmSlots, SlotPlanError } from "../../gpu-runner/slots.js";
import { plainParams } from "../../gpu-runner/trial-params.js";
import { removeDir, tempDir } from "../helpers/daemon.js";
import { installFakeNvidiaSmi } from "../helpers/fake-nvidia-smi.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe("command template", () => {
  it("fills placeholders shell-quoted and keeps ${VAR}, {{ }} and brace groups", () => {
    const t = parseTemplate("python train.py --lr {lr} --name {name} --s {sched} ${HOME} {{lr}} {a,b} {flag}");
    expect(t.placeholders).toEqual(["lr", "name", "sched", "flag"]);
    const cmd = renderCommand(t, {
      lr: 0.001,
      name: "it's a test",
      sched: { kind: "LR_SCHEDULE_KIND_STEP", values: { gamma: 0.5 }, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      flag: true,
    });
    expect(cmd).toBe(
      `python train.py --lr 0.001 --name 'it'\\''s a test' --s '{"kind":"LR_SCHEDULE_KIND_STEP","values":{"gamma":0.5},"milestones":[],"mode":"","totalSteps":10,"warmupSteps":0,"warmupStartFactor":0}' \${HOME} {lr} {a,b} true`,
    );
  });

  it("renders an inactive parameter as an empty argument and tiny numbers round-trip", () => {
    const t = parseTemplate("run {a} {b}");
    expect(renderCommand(t, { a: 1e-7 })).toBe("run 1e-7 ''");
    expect(paramText(123456789012)).toBe("123456789012");
  });

  it("names unknown placeholders and the study's parameters", () => {
    const t = parseTemplate("train --lr {lr} --bs {batch} --x {x}");
    expect(() => checkPlaceholders(t, "s1", ["lr", "batch_size"])).toThrow(TemplateError);
    expect(() => checkPlaceholders(t, "s1", ["lr", "batch_size"])).toThrow(/unknown placeholders \{batch\}, \{x\}: study "s1" has the parameters lr, batch_size/);
    expect(() => checkPlaceholders(t, "s1", ["lr", "batch", "x"])).not.toThrow();
    expect(() => parseTemplate("  ")).toThrow(/empty/);
  });

  it("quotes what the shell would split or expand", () => {
    expect(shellQuote("abc-1.5e-3")).toBe("abc-1.5e-3");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("$(rm -rf /)")).toBe("'$(rm -rf /)'");
    expect(shellQuote("a;b")).toBe("'a;b'");
  });
});

describe("metric lines", () => {
  it("parses intermediate and final lines with metrics and constraints", () => {
    expect(parseMetricLine('{"hpod": {"step": 3, "value": 0.42}}')).toEqual({
      type: "report",
      report: { kind: "intermediate", step: 3, values: [0.42], constraintValues: [], metrics: {} },
    });
    expect(parseMetricLine('  {"hpod": {"final": [0.4, 2], "step": 9, "metrics": {"acc": 0.9}, "constraints": [-1]}}  ')).toEqual({
      type: "report",
      report: { kind: "final", step: 9, values: [0.4, 2], constraintValues: [-1], metrics: { acc: 0.9 } },
    });
    expect(parseMetricLine('{"hpod": {"step": 1, "values": ["NaN", "-Infinity"]}}')).toMatchObject({
      type: "report",
      report: { values: [NaN, -Infinity] },
    });
  });

  it("treats other output as ordinary and flags broken hpod lines", () => {
    for (const line of ["", "epoch 3 loss 0.1", '{"loss": 1}', "{not json", '["hpod"]', '{"x": "hpod"}']) {
      expect(parseMetricLine(line)).toEqual({ type: "none" });
    }
    const invalid = (line: string): string => {
      const p = parseMetricLine(line);
      if (p.type !== "invalid") throw new Error(`expected invalid: ${line}`);
      return p.error;
    };
    expect(invalid('{"hpod": {"value": 1}}')).toMatch(/needs "step"/);
    expect(invalid('{"hpod": {"step": 1.5, "value": 1}}')).toMatch(/integer/);
    expect(invalid('{"hpod": {"step": 1, "value": "x"}}')).toMatch(/not a number/);
    expect(invalid('{"hpod": {"final": 1, "value": 2}}')).toMatch(/do not go with it/);
    expect(invalid('{"hpod": {"step": 1, "valu": 2}}')).toMatch(/unknown key "valu"/);
    expect(invalid('{"hpod": 3}')).toMatch(/object/);
    expect(invalid('{"hpod": {"step": 1, "value": [1, 2]}}')).toMatch(/use "values"/);
  });

  it("splits chunks into lines across chunk and UTF-8 boundaries", () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from("héllo\r\nwor");
    s.push(bytes.subarray(0, 2));
    s.push(bytes.subarray(2));
    s.push(Buffer.from("ld\nlast"));
    s.end();
    expect(lines).toEqual(["héllo", "world", "last"]);
    const big: string[] = [];
    const t = new LineSplitter((l) => big.push(l));
    t.push(Buffer.from("x".repeat(MAX_LINE_CHARS + 10)));
    t.push(Buffer.from('yyy\n{"hpod": {"final": 1}}\n'));
    t.end();
    expect(big).toEqual(['{"hpod": {"final": 1}}']);
  });
});

describe("GPU discovery and slots", () => {
  const smi = "0, GPU-aaa, 81559, 1024, 37\n1, GPU-bbb, 81559, [N/A], [N/A]\n";

  it("parses nvidia-smi CSV (MiB, %) and N/A readings", () => {
    expect(parseNvidiaSmi(smi)).toEqual([
      { index: "0", uuid: "GPU-aaa", memoryTotalBytes: 81559 * 2 ** 20, memoryUsedBytes: 1024 * 2 ** 20, utilization: 0.37 },
      { index: "1", uuid: "GPU-bbb", memoryTotalBytes: 81559 * 2 ** 20, memoryUsedBytes: undefined, utilization: undefined },
    ]);
    expect(() => parseNvidiaSmi("No devices were found\n")).toThrow(/not "index, uuid/);
  });

  it("selects explicit GPUs by index or UUID, and refuses unknown ones", () => {
    const listed = parseNvidiaSmi(smi);
    expect(selectGpus(["1"], listed).map((g) => g.uuid)).toEqual(["GPU-bbb"]);
    expect(selectGpus(["GPU-aaa"], listed).map((g) => g.index)).toEqual(["0"]);
    expect(() => selectGpus(["3"], listed)).toThrow(/not listed by nvidia-smi/);
    expect(selectGpus(["0", "3"], undefined)).toEqual([{ index: "0", uuid: "" }, { index: "3", uuid: "" }]);
    expect(parseGpuList(" 0, 1,3")).toEqual(["0", "1", "3"]);
    expect(() => parseGpuList("0,,1")).toThrow(/empty/);
    expect(() => parseGpuList("0,0")).toThrow(/twice/);
    expect(() => parseGpuList("gpu0")).toThrow(/neither/);
  });

  it("runs the stand-in nvidia-smi with the documented query", async () => {
    const fake = installFakeNvidiaSmi(4);
    dirs.push(fake.dir);
    const gpus = await queryNvidiaSmi(join(fake.dir, "nvidia-smi"));
    expect(gpus?.map((g) => g.index)).toEqual(["0", "1", "2", "3"]);
    expect(fake.calls()).toEqual(["--query-gpu=index,uuid,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits"]);
    expect(await queryNvidiaSmi(join(fake.dir, "missing-nvidia-smi"))).toBeUndefined();
    fake.remove();
  });

  const four = parseNvidiaSmi([0, 1, 2, 3].map((i) => `${i}, GPU-${i}, 100, 1, 1`).join("\n"));

  it("plans one slot per GPU, packed slots, and multi-GPU slots", () => {
    const one = planGpuSlots({ workerIdBase: "h", gpus: four, trialsPerGpu: 1, gpusPerTrial: 1 });
    expect(one.map((s) => [s.workerId, s.cudaVisibleDevices])).toEqual([
      ["h/0", "0"],
      ["h/1", "1"],
      ["h/2", "2"],
      ["h/3", "3"],
    ]);
    const packed = planGpuSlots({ workerIdBase: "h", gpus: four.slice(0, 2), trialsPerGpu: 3, gpusPerTrial: 1 });
    expect(packed.map((s) => s.cudaVisibleDevices)).toEqual(["0", "1", "0", "1", "0", "1"]);
    const pairs = planGpuSlots({ workerIdBase: "h", gpus: [...four, ...parseNvidiaSmi("4, GPU-4, 1, 1, 1")], trialsPerGpu: 1, gpusPerTrial: 2 });
    expect(pairs.map((s) => s.cudaVisibleDevices)).toEqual(["0,1", "2,3"]);
    expect(planGpuSlots({ workerIdBase: "h", gpus: four, trialsPerGpu: 2, gpusPerTrial: 1, maxSlots: 3 })).toHaveLength(3);
    expect(() => planGpuSlots({ workerIdBase: "h", gpus: four, trialsPerGpu: 2, gpusPerTrial: 2 })).toThrow(SlotPlanError);
    expect(() => planGpuSlots({ workerIdBase: "h", gpus: four, trialsPerGpu: 1, gpusPerTrial: 5 })).toThrow(/at least/);
    expect(planCpuSlots("h", 2).map((s) => [s.workerId, s.cudaVisibleDevices])).toEqual([
      ["h/0", ""],
      ["h/1", ""],
    ]);
    expect(planSlurmSlots("h", 2, 1).map((s) => [s.slurmGpus, s.cudaVisibleDevices])).toEqual([
      [1, undefined],
      [1, undefined],
    ]);
  });
});

describe("options", () => {
  it("applies documented defaults", () => {
    const o = resolveRunnerOptions({ study: "s", command: "run {x}" }, "127.0.0.1:1");
    expect(o).toMatchObject({
      launcher: "local",
      gpus: "auto",
      trialsPerGpu: 1,
      gpusPerTrial: 1,
      slots: undefined,
      maxTrials: Infinity,
      killGraceMs: 10_000,
      trialTimeoutMs: 0,
      shutdownGraceMs: 60_000,
      heartbeatMs: undefined,
      metricsListen: undefined,
      gpuPollMs: 5000,
      slurmGpuFlag: "gres",
      slurmPollMs: 1000,
      trialAddress: "127.0.0.1:1",
      env: {},
    });
    expect(o.logDir.endsWith("hpod-runs")).toBe(true);
    expect(resolveRunnerOptions({ study: "s", command: "c", launcher: "slurm" }, "a").slots).toBe(4);
  });

  it("reads a spec file (YAML, snake or kebab keys); flags win", () => {
    const dir = tempDir();
    dirs.push(dir);
    const spec = join(dir, "runner.yaml");
    writeFileSync(
      spec,
      [
        "study: from-file",
        "command: python train.py --lr {lr}",
        "gpus: [0, 2]",
        "trials_per_gpu: 2",
        "kill-grace-seconds: 1.5",
        "trial_timeout: 10m",
        "env: {A: '1', B: two}",
        "max_trials: 6",
      ].join("\n"),
    );
    const o = resolveRunnerOptions({ spec, study: "from-flag", env: ["B=three"] }, "x:1");
    expect(o).toMatchObject({
      study: "from-flag",
      command: "python train.py --lr {lr}",
      gpus: ["0", "2"],
      trialsPerGpu: 2,
      killGraceMs: 1500,
      trialTimeoutMs: 600_000,
      env: { A: "1", B: "three" },
      maxTrials: 6,
    });
    writeFileSync(spec, "study: s\ncommand: c\ntrials_per_gpus: 2\n");
    expect(() => resolveRunnerOptions({ spec }, "x:1")).toThrow(/unknown key "trials_per_gpus"/);
    const json = join(dir, "runner.json");
    mkdirSync(join(dir, "sub"));
    writeFileSync(json, JSON.stringify({ study: "s", command: "c", launcher: "slurm", "sbatch-arg": ["--mem=1G"], partition: "gpu" }));
    expect(resolveRunnerOptions({ spec: json, "sbatch-arg": ["--qos=x"] }, "x:1")).toMatchObject({ sbatchArgs: ["--mem=1G", "--qos=x"], partition: "gpu" });
  });

  it("refuses contradictions and bad values with the flag's name", () => {
    const bad = (flags: Record<string, unknown>, re: RegExp): void => {
      expect(() => resolveRunnerOptions({ study: "s", command: "c", ...flags }, "a")).toThrow(RunnerOptionsError);
      expect(() => resolveRunnerOptions({ study: "s", command: "c", ...flags }, "a")).toThrow(re);
    };
    bad({ "trials-per-gpu": "2", "gpus-per-trial": "2" }, /cannot both/);
    bad({ partition: "p" }, /--partition applies to --launcher slurm/);
    bad({ launcher: "slurm", gpus: "0,1" }, /--gpus applies to --launcher local/);
    bad({ launcher: "k8s" }, /local or slurm/);
    bad({ slots: "0" }, /--slots must be an integer >= 1/);
    bad({ "kill-grace-seconds": "-1" }, /--kill-grace-seconds must be a duration/);
    bad({ env: ["NOEQUALS"] }, /KEY=VALUE/);
    bad({ gpus: "0,x" }, /neither a GPU index/);
    expect(() => resolveRunnerOptions({ command: "c" }, "a")).toThrow(/--study is required/);
    expect(parseDurationMs("t", "250ms")).toBe(250);
    expect(parseDurationMs("t", "2h")).toBe(7_200_000);
    expect(parseListen(":9100")).toEqual({ host: undefined, port: 9100 });
    expect(parseListen("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(() => parseListen("9100")).toThrow(/HOST:PORT/);
  });
});

describe("Slurm output", () => {
  it("parses sbatch, squeue and scontrol output", () => {
    expect(parseSbatchOutput("1234\n")).toBe("1234");
    expect(parseSbatchOutput("1234;cluster\n")).toBe("1234");
    expect(() => parseSbatchOutput("")).toThrow(/no job id/);
    expect(parseSqueue("1|RUNNING\n2|COMPLETED\n")).toEqual(
      new Map([
        ["1", "RUNNING"],
        ["2", "COMPLETED"],
      ]),
    );
    const f = parseScontrolJob("JobId=7 JobName=hpod-s-3 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0 StdOut=/x/stdout");
    expect(exitInfoOf("7", f)).toEqual({ code: 3, signal: null, detail: "slurm job 7 FAILED (NonZeroExitCode)" });
    expect(exitInfoOf("7", parseScontrolJob("JobState=COMPLETED Reason=None ExitCode=0:0"))).toEqual({ code: 0, signal: null, detail: "slurm job 7 COMPLETED" });
    expect(exitInfoOf("7", parseScontrolJob("JobState=CANCELLED Reason=None ExitCode=0:15"))).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(exitInfoOf("7", parseScontrolJob("JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0"))).toEqual({
      code: null,
      signal: null,
      detail: "slurm job 7 TIMEOUT (TimeLimit)",
    });
  });

  it("writes a batch script that exports the trial's variables quoted and relays signals to the trial's group", () => {
    const script = batchScript(
      {
        study: "s",
        trialId: 3,
        command: "python t.py --name 'a b'",
        env: { HPOD_PARAMS_JSON: `{"name":"a b","q":"it's"}`, HPOD_TRIAL_ID: "3" },
        cwd: "/tmp",
        trialDir: "/tmp/x",
        gpus: 1,
        onLine: () => undefined,
      },
      1500,
    );
    expect(script).toContain(`export HPOD_PARAMS_JSON='{"name":"a b","q":"it'\\''s"}'`);
    expect(script).toContain("export HPOD_TRIAL_ID=3");
    expect(script).toContain(`setsid -w /bin/sh -c 'python t.py --name '\\''a b'\\''' </dev/null &`);
    expect(script).toContain(`trap 'kill -TERM -"$child" 2>/dev/null' TERM`);
    expect(script).toContain(`trap 'kill -KILL -"$child" 2>/dev/null' USR2`);
    expect(script).toContain('[ "$n" -lt 15 ]'); // 1.5 s grace for leftovers, in 0.1 s ticks
    expect(execFileSync("sh", ["-n"], { input: script, encoding: "utf8" })).toBe("");
  });
});

describe("trial parameters", () => {
  it("gives scalars as JSON values and a schedule as proto3-shaped JSON with numbers", () => {
    const schedule = LrSchedule.fromPartial({
      kind: LrScheduleKind.LR_SCHEDULE_KIND_MULTI_STEP,
      values: { gamma: 0.1 },
      milestones: [3, 6],
      totalSteps: 10,
    });
    expect(
      plainParams({
        lr: { kind: { $case: "numberValue", value: 0.01 } },
        bs: { kind: { $case: "intValue", value: 32 } },
        opt: { kind: { $case: "stringValue", value: "adam" } },
        nesterov: { kind: { $case: "boolValue", value: false } },
        sched: { kind: { $case: "lrScheduleValue", value: schedule } },
      }),
    ).toEqual({
      bs: 32,
      lr: 0.01,
      nesterov: false,
      opt: "adam",
      sched: { kind: "LR_SCHEDULE_KIND_MULTI_STEP", values: { gamma: 0.1 }, milestones: [3, 6], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
    });
  });
});

describe("trial supervisor", () => {
  it("fails a trial stopped by a shutdown before it started, without starting it", async () => {
    const reports: unknown[] = [];
    let starts = 0;
    const api = {
      report: async (r: unknown) => {
        reports.push(r);
        return { decision: 0, reason: "", trialState: TrialState.TRIAL_STATE_FAILED };
      },
    } as unknown as RunnerApi;
    const launcher: Launcher = {
      name: "local",
      start: async () => {
        starts++;
        throw new Error("must not start");
      },
      close: () => undefined,
    };
    const logDir = tempDir();
    dirs.push(logDir);
    const sup = new TrialSupervisor(
      Trial.fromPartial({ study: "s", id: 4, state: TrialState.TRIAL_STATE_RUNNING }),
      planCpuSlots("h", 1)[0],
      {
        api,
        launcher,
        log: createLogger({ write: () => undefined }),
        metrics: new RunnerMetrics(),
        template: parseTemplate("true"),
        options: { logDir, cwd: logDir, env: {}, killGraceMs: 100, trialTimeoutMs: 0, trialAddress: "x:1" },
        heartbeatMs: 0,
      },
    );
    sup.stop("shutdown", "runner shutting down (before the trial started)");
    expect(await sup.run()).toEqual({ outcome: "failed", reason: "runner shutting down (before the trial started)" });
    expect(starts).toBe(0);
    expect(reports).toMatchObject([{ study: "s", trialId: 4, workerId: "h/0", failed: true, failureReason: "runner shutting down (before the trial started)" }]);
  });
});
