/**
 * Learning-rate schedules through the real daemon: a study whose space has
 * an lr_schedule parameter with several kinds; Suggest hands out complete,
 * legal, concrete schedules (kind allowed, every hyperparameter within its
 * declared range, omitted ones filled with their defaults) that the SDK can
 * evaluate; bad schedule domains are rejected at CreateStudy with a message
 * naming the field.
 *
 * Needs `npm run build` (the daemon runs from dist/).
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  createScheduler,
  LR_KIND_SPECS,
  resolveLrSchedule,
  toLrScheduleValue,
  type LrKind,
  type LrScheduleValue,
} from "../../client/index.js";
import { LrScheduleKind, type Parameter } from "../../client/gen/hpod/v1/search_space.js";
import { startDaemon, type Daemon } from "../helpers/daemon.js";
import { codeOf, connect, type TestClient } from "../helpers/grpc-client.js";
import { floatParam, intParam, str, study } from "../helpers/specs.js";

const TOTAL = 1000;
const SUGGESTS = 30;

let d: Daemon;
let c: TestClient;

beforeAll(async () => {
  d = await startDaemon();
  c = connect(d.address);
});

afterAll(async () => {
  c?.close();
  if (d) expect(await d.stop()).toBe(0);
});

const K = (k: LrKind): LrScheduleKind => (Object.keys(LR_KIND_SPECS).indexOf(k) + 1) as LrScheduleKind;
const boolChoice = (b: boolean) => ({ kind: { $case: "boolValue" as const, value: b } });

const logFloat = (name: string, low: number, high: number): Parameter => floatParam(name, low, high, { log: true });
const cat = (name: string, choices: string[]): Parameter => ({
  name,
  description: "",
  domain: { $case: "categoricalDomain", value: { choices: choices.map(str) } },
});

function schedParam(options: { kind: LrKind; hyperparameters: Parameter[] }[], extra: { warmup?: boolean } = {}): Parameter {
  return {
    name: "sched",
    description: "",
    domain: {
      $case: "lrScheduleDomain",
      value: {
        totalSteps: TOTAL,
        options: options.map((o) => ({ kind: K(o.kind), hyperparameters: o.hyperparameters })),
        warmupSteps: extra.warmup === false ? undefined : { low: 0, high: 100, log: false, step: 10 },
        warmupStartFactor: extra.warmup === false ? undefined : { low: 0.05, high: 1, log: false, step: undefined },
      },
    },
  };
}

/** The declared options, for checking ranges. */
const OPTIONS: { kind: LrKind; hyperparameters: Parameter[] }[] = [
  { kind: "constant", hyperparameters: [] },
  { kind: "step", hyperparameters: [intParam("step_size", 10, 200)] },
  {
    kind: "multi_step",
    hyperparameters: [intParam("milestone_0", 100, 400), intParam("milestone_1", 500, 800), floatParam("gamma", 0.1, 0.5)],
  },
  { kind: "cosine_annealing", hyperparameters: [floatParam("eta_min", 0, 1e-4)] },
  {
    kind: "one_cycle",
    hyperparameters: [logFloat("max_lr", 1e-3, 1), floatParam("pct_start", 0.1, 0.4), cat("anneal_strategy", ["cos", "linear"])],
  },
  {
    kind: "cyclic",
    hyperparameters: [
      logFloat("base_lr", 1e-4, 1e-2),
      logFloat("max_lr", 1e-2, 1),
      intParam("step_size_up", 50, 500),
      cat("mode", ["triangular", "triangular2", "exp_range"]),
    ],
  },
  { kind: "polynomial", hyperparameters: [floatParam("power", 0.5, 3)] },
  {
    kind: "reduce_on_plateau",
    hyperparameters: [cat("mode", ["min", "max"]), floatParam("factor", 0.1, 0.5), intParam("patience", 0, 20), cat("threshold_mode", ["rel", "abs"])],
  },
];

/** Whether `v` lies in the proto parameter's domain. */
function inDomain(p: Parameter, v: number | string): boolean {
  const dom = p.domain;
  switch (dom?.$case) {
    case "floatDomain":
      return typeof v === "number" && v >= dom.value.low * (1 - 1e-12) && v <= dom.value.high * (1 + 1e-12);
    case "intDomain":
      return typeof v === "number" && Number.isInteger(v) && v >= dom.value.low && v <= dom.value.high;
    case "categoricalDomain":
      return dom.value.choices.some((ch) => ch.kind?.value === v);
    default:
      return false;
  }
}

describe("Suggest with an lr_schedule parameter", () => {
  const schedules: { s: LrScheduleValue; lr: number }[] = [];

  beforeAll(async () => {
    await c.createStudy({
      study: study("lr-sched", { params: [logFloat("lr", 1e-4, 1), schedParam(OPTIONS)], algorithm: "random", seed: 7 }),
      loadIfExists: false,
    });
    for (let i = 0; i < SUGGESTS; i++) {
      // A worker with a running trial gets that trial again: one worker per Suggest.
      const res = await c.suggest({ study: "lr-sched", count: 1, workerId: `w${i}` });
      expect(res.trials).toHaveLength(1);
      const t = res.trials[0]!;
      const v = t.params.sched?.kind;
      const lr = t.params.lr?.kind;
      if (v?.$case !== "lrScheduleValue" || lr?.$case !== "numberValue") throw new Error(`trial ${t.id}: ${JSON.stringify(t.params)}`);
      schedules.push({ s: toLrScheduleValue(v.value), lr: lr.value });
    }
  });

  it(`returns ${SUGGESTS} schedules sampled across kinds`, () => {
    expect(schedules).toHaveLength(SUGGESTS);
    const kinds = new Set(schedules.map((x) => x.s.kind));
    expect(kinds.size, [...kinds].join(", ")).toBeGreaterThanOrEqual(5);
    for (const { s } of schedules) expect(OPTIONS.map((o) => o.kind)).toContain(s.kind);
  });

  it("every schedule is complete: resolving it adds no default", () => {
    for (const { s } of schedules) {
      const where = JSON.stringify(s);
      expect(resolveLrSchedule(s), where).toEqual({ ...s, milestones: [...s.milestones].sort((a, b) => a - b) });
      const spec = LR_KIND_SPECS[s.kind];
      for (const rule of spec.hyperparameters) {
        if (rule.slot === "mode") expect(rule.choices, where).toContain(s.mode);
        else expect(s.values[rule.name], `${rule.name} in ${where}`).toBeTypeOf("number");
      }
    }
  });

  it("every declared hyperparameter lies in its declared range; omitted ones carry their defaults", () => {
    for (const { s } of schedules) {
      const where = JSON.stringify(s);
      expect(s.totalSteps).toBe(TOTAL);
      expect(s.warmupSteps % 10, where).toBe(0);
      expect(s.warmupSteps >= 0 && s.warmupSteps <= 100, where).toBe(true);
      expect(s.warmupStartFactor >= 0.05 && s.warmupStartFactor <= 1, where).toBe(true);
      const option = OPTIONS.find((o) => o.kind === s.kind)!;
      const declared = new Set(option.hyperparameters.map((h) => h.name));
      let m = 0;
      for (const hp of option.hyperparameters) {
        let v: number | string;
        if (hp.name.startsWith("milestone")) v = s.milestones[m++]!;
        else if (hp.name === "threshold_mode") v = ["rel", "abs"][s.values.threshold_mode!]!;
        else if (LR_KIND_SPECS[s.kind].hyperparameters.find((r) => r.name === hp.name)?.slot === "mode") v = s.mode;
        else v = s.values[hp.name]!;
        expect(inDomain(hp, v), `${hp.name}=${v} in ${where}`).toBe(true);
      }
      const horizon = TOTAL - s.warmupSteps;
      const defaults: Record<string, number> = {
        ...(s.kind === "constant" ? { factor: 1, total_iters: 5 } : {}),
        ...(s.kind === "step" ? { gamma: 0.1 } : {}),
        ...(s.kind === "cosine_annealing" ? { T_max: horizon } : {}),
        ...(s.kind === "one_cycle" ? { total_steps: horizon, div_factor: 25, final_div_factor: 1e4, three_phase: 0 } : {}),
        ...(s.kind === "cyclic" ? { step_size_down: s.values.step_size_up!, gamma: 1 } : {}),
        ...(s.kind === "polynomial" ? { total_iters: horizon } : {}),
        ...(s.kind === "reduce_on_plateau" ? { threshold: 1e-4, cooldown: 0, min_lr: 0, eps: 1e-8 } : {}),
      };
      for (const [k, want] of Object.entries(defaults)) {
        expect(declared.has(k), k).toBe(false);
        expect(s.values[k], `${k} in ${where}`).toBe(want);
      }
    }
  });

  it("the SDK evaluates every schedule over the whole horizon", () => {
    for (const { s, lr } of schedules) {
      const sch = createScheduler(s, lr);
      let min = Infinity;
      let max = -Infinity;
      for (let t = 0; t < TOTAL; t++) {
        const x = sch.lr;
        min = Math.min(min, x);
        max = Math.max(max, x);
        sch.step(1 / (1 + Math.floor(t / 50)));
      }
      expect(Number.isFinite(min) && min >= 0 && Number.isFinite(max), JSON.stringify(s)).toBe(true);
    }
  });
});

describe("CreateStudy rejects bad schedule domains", () => {
  const P = "study.spec.search_space.parameters[1].lr_schedule_domain";

  async function rejected(name: string, options: { kind: LrKind; hyperparameters: Parameter[] }[]): Promise<string> {
    const r = await codeOf(c.createStudy({ study: study(name, { params: [logFloat("lr", 1e-4, 1), schedParam(options, { warmup: false })] }), loadIfExists: false }));
    expect(r.code, r.details).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await codeOf(c.getStudy({ name }))).code).toBe(grpc.status.NOT_FOUND);
    return r.details;
  }

  it("an unknown hyperparameter name", async () => {
    const details = await rejected("bad-name", [
      { kind: "constant", hyperparameters: [] },
      { kind: "step", hyperparameters: [floatParam("gama", 0.1, 0.5)] },
    ]);
    expect(details).toBe(`${P}.options[1].hyperparameters[0].name: "gama" is not a hyperparameter of step (known: step_size, gamma)`);
  });

  it("a range outside the legal one", async () => {
    const details = await rejected("bad-range", [{ kind: "step", hyperparameters: [intParam("step_size", 1, 10), floatParam("gamma", 0.5, 1.5)] }]);
    expect(details).toBe(`${P}.options[0].hyperparameters[1].float_domain.high: gamma of step must be in (0, 1] (high is 1.5)`);
  });

  it("a missing required hyperparameter", async () => {
    const details = await rejected("bad-required", [{ kind: "exponential", hyperparameters: [] }]);
    expect(details).toBe(
      `${P}.options[0].hyperparameters: exponential requires "gamma" (float, in (0, 1]; PyTorch's ExponentialLR has no default for it)`,
    );
  });

  it("an illegal string choice and a wrong type", async () => {
    expect(await rejected("bad-mode", [{ kind: "cyclic", hyperparameters: [floatParam("base_lr", 0.001, 0.01), floatParam("max_lr", 0.1, 1), cat("mode", ["triangular", "triangle"])] }])).toBe(
      `${P}.options[0].hyperparameters[2].categorical_domain.choices[1]: "triangle" is not a legal mode of cyclic (one of triangular, triangular2, exp_range)`,
    );
    expect(await rejected("bad-type", [{ kind: "cosine_annealing", hyperparameters: [floatParam("T_max", 10, 100)] }])).toBe(
      `${P}.options[0].hyperparameters[0].float_domain: T_max of cosine_annealing is an integer: use int_domain or integer choices`,
    );
    expect(
      await rejected("bad-bool", [
        {
          kind: "one_cycle",
          hyperparameters: [
            floatParam("max_lr", 0.1, 1),
            { name: "three_phase", description: "", domain: { $case: "categoricalDomain", value: { choices: [boolChoice(true), boolChoice(false)] } } },
            floatParam("pct_start", 0.2, 0.6),
          ],
        },
      ]),
    ).toBe(`${P}.options[0].hyperparameters: one_cycle with three_phase needs pct_start < 0.5, but the space allows pct_start 0.6`);
  });
});
