/**
 * The Python twin (examples/python/hpod_lr.py) against the TypeScript
 * implementation, without torch: the same rules table (names, types, ranges,
 * defaults), hand-checked values, the same errors, the input forms a Python
 * worker gets, and agreement on a few hundred random legal schedules.
 *
 * Needs /usr/bin/python3 (standard library only); skipped when it is
 * missing unless HPOD_REQUIRE_PYTHON=1.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

import { describe, expect, it } from "vitest";

import { LR_KIND_SPECS, type HpRule } from "../../server/core/lr-schedule-spec.js";
import { createScheduler, LrScheduleError, resolveLrSchedule } from "../../server/core/lr-schedule.js";
import { LR_KINDS, type LrKind, type LrScheduleValue } from "../../server/core/space.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PYTHON = "/usr/bin/python3";
const EXAMPLES = join(ROOT, "examples", "python");

const skip = existsSync(PYTHON) ? null : `${PYTHON} not found`;
if (skip && process.env.HPOD_REQUIRE_PYTHON === "1") throw new Error(`HPOD_REQUIRE_PYTHON=1 but ${skip}`);

/** Runs a Python snippet with hpod_lr importable; `input` goes to stdin; returns parsed JSON stdout. */
function py(code: string, input: unknown = null): unknown {
  const prelude = `import json, sys\nsys.path.insert(0, ${JSON.stringify(EXAMPLES)})\nimport hpod_lr\nIN = json.load(sys.stdin)\n`;
  const r = spawnSync(PYTHON, ["-c", prelude + code], {
    input: JSON.stringify(input),
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`python exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

const toPy = (s: LrScheduleValue) => ({
  kind: s.kind,
  values: s.values,
  milestones: s.milestones,
  mode: s.mode,
  total_steps: s.totalSteps,
  warmup_steps: s.warmupSteps,
  warmup_start_factor: s.warmupStartFactor,
});

/** The TS rules in the Python table's shape. */
function tsRules(): unknown {
  const rule = (r: HpRule) => ({
    name: r.name,
    type: r.type,
    min: r.min ? [r.min.value, r.min.inclusive] : null,
    max: r.max ? [r.max.value, r.max.inclusive] : null,
    choices: r.choices ? [...r.choices] : null,
    default:
      r.default === undefined
        ? null
        : r.default.kind === "value"
          ? ["value", r.default.value]
          : r.default.kind === "horizon"
            ? ["horizon"]
            : ["same_as", r.default.name],
    slot: r.slot,
  });
  return Object.fromEntries(
    LR_KINDS.map((k) => {
      const s = LR_KIND_SPECS[k];
      return [k, { base_lr: s.baseLr, milestones: s.milestones, stateful: s.stateful, hyperparameters: s.hyperparameters.map(rule) }];
    }),
  );
}

// ---- random legal schedules (deterministic) ---------------------------------------------

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STEPS = 400;

function randomSchedule(r: () => number, kind: LrKind): LrScheduleValue {
  const u = (lo: number, hi: number) => lo + (hi - lo) * r();
  const i = (lo: number, hi: number) => Math.floor(u(lo, hi + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const warm = r() < 0.5 ? i(1, 60) : 0;
  const base: LrScheduleValue = {
    kind,
    values: {},
    milestones: [],
    mode: "",
    totalSteps: STEPS,
    warmupSteps: warm,
    warmupStartFactor: warm > 0 && r() < 0.8 ? u(0.01, 1) : 0,
  };
  const v = base.values;
  switch (kind) {
    case "constant":
      if (r() < 0.7) Object.assign(v, { factor: u(0.05, 1), total_iters: i(1, 200) });
      break;
    case "step":
      Object.assign(v, { step_size: i(5, 80), gamma: u(0.1, 1) });
      break;
    case "multi_step":
      v.gamma = u(0.1, 1);
      base.milestones = Array.from({ length: i(1, 5) }, () => i(1, STEPS));
      break;
    case "exponential":
      v.gamma = u(0.95, 1);
      break;
    case "cosine_annealing":
      if (r() < 0.6) v.T_max = i(1, 500);
      v.eta_min = r() < 0.5 ? 0 : u(0, 0.01);
      break;
    case "cosine_annealing_warm_restarts":
      Object.assign(v, { T_0: i(1, 100), T_mult: i(1, 3), eta_min: u(0, 0.01) });
      break;
    case "one_cycle":
      Object.assign(v, {
        max_lr: u(0.01, 1),
        total_steps: i(STEPS, 600),
        div_factor: u(2, 50),
        final_div_factor: u(10, 1e5),
        three_phase: r() < 0.5 ? 1 : 0,
      });
      v.pct_start = u(0.05, v.three_phase === 1 ? 0.49 : 0.95);
      base.mode = pick(["cos", "linear"]);
      break;
    case "cyclic":
      Object.assign(v, { base_lr: u(1e-4, 0.01), max_lr: u(0.01, 1), step_size_up: i(1, 150), step_size_down: i(1, 150), gamma: u(0.99, 1) });
      base.mode = pick(["triangular", "triangular2", "exp_range"]);
      break;
    case "polynomial":
      Object.assign(v, { total_iters: i(1, 600), power: u(0.1, 4) });
      break;
    case "reduce_on_plateau":
      Object.assign(v, {
        factor: u(0.05, 0.95),
        patience: i(0, 10),
        threshold: u(0, 0.05),
        threshold_mode: i(0, 1),
        cooldown: i(0, 5),
        min_lr: r() < 0.5 ? 0 : u(0, 1e-3),
        eps: r() < 0.5 ? 1e-8 : u(0, 1e-3),
      });
      base.mode = pick(["min", "max"]);
      break;
  }
  return base;
}

describe.skipIf(skip !== null)(`Python twin hpod_lr.py${skip ? ` [skipped: ${skip}]` : ""}`, () => {
  it("has the same rules table (names, types, ranges, defaults, slots) and kind order", () => {
    const out = py(`json.dump({"kinds": list(hpod_lr.LR_KINDS), "specs": hpod_lr.KIND_SPECS}, sys.stdout)`) as { kinds: string[]; specs: unknown };
    expect(out.kinds).toEqual([...LR_KINDS]);
    expect(out.specs).toEqual(tsRules());
  });

  it("fills the same defaults", () => {
    const required: Partial<Record<LrKind, Record<string, number>>> = {
      cyclic: { base_lr: 0.1, max_lr: 1, step_size_up: 9 },
      one_cycle: { max_lr: 1 },
      step: { step_size: 3 },
      exponential: { gamma: 0.9 },
      cosine_annealing_warm_restarts: { T_0: 5 },
    };
    const cases: LrScheduleValue[] = LR_KINDS.map((k) => ({
      kind: k,
      values: { ...(required[k] ?? {}) },
      milestones: k === "multi_step" ? [30, 10] : [],
      mode: "",
      totalSteps: 500,
      warmupSteps: 50,
      warmupStartFactor: 0,
    }));
    const got = py(
      `out = []\nfor c in IN:\n    s = hpod_lr.resolve_schedule(c)\n    out.append({"values": s.values, "milestones": s.milestones, "mode": s.mode, "wf": s.warmup_start_factor})\njson.dump(out, sys.stdout)`,
      cases.map(toPy),
    ) as { values: Record<string, number>; milestones: number[]; mode: string; wf: number }[];
    cases.forEach((c, i) => {
      const ts = resolveLrSchedule(c);
      expect(got[i], c.kind).toEqual({ values: ts.values, milestones: ts.milestones, mode: ts.mode, wf: ts.warmupStartFactor });
    });
  });

  it("hand-checked values (PyTorch docstring examples) and warm-up", () => {
    const got = py(`
L = hpod_lr.lr_at
out = {
  "step": [L({"kind": "step", "values": {"step_size": 30, "gamma": 0.1}}, 0.05, t) for t in (0, 29, 30, 60)],
  "poly": [L({"kind": "polynomial", "values": {"total_iters": 4}}, 0.001, t) for t in range(6)],
  "warm": [L({"kind": "constant", "values": {}, "warmup_steps": 4, "warmup_start_factor": 0.5}, 0.05, t) for t in range(5)],
  "cyc": [L({"kind": "cyclic", "values": {"base_lr": 0.1, "max_lr": 1, "step_size_up": 2}, "mode": "triangular"}, None, t) for t in range(5)],
}
json.dump(out, sys.stdout)`) as Record<string, number[]>;
    const close = (a: number[] | undefined, b: number[]) => b.forEach((x, i) => expect(a?.[i]).toBeCloseTo(x, 14));
    close(got.step, [0.05, 0.05, 0.005, 0.0005]);
    close(got.poly, [0.001, 0.00075, 0.0005, 0.00025, 0, 0]);
    close(got.warm, [0.025, 0.03125, 0.0375, 0.04375, 0.05]);
    close(got.cyc, [0.1, 0.55, 1, 0.55, 0.1]);
  });

  it("accepts what a Python worker holds: hpod_client.LrSchedule (upper-case kind), camelCase dicts, enum numbers", () => {
    const got = py(`
from dataclasses import dataclass, field
@dataclass
class LrSchedule:  # the shape of hpod_client.LrSchedule
    kind: str
    values: dict = field(default_factory=dict)
    milestones: list = field(default_factory=list)
    mode: str = ""
    total_steps: int = 0
    warmup_steps: int = 0
    warmup_start_factor: float = 0.0
a = hpod_lr.lr_at(LrSchedule("COSINE_ANNEALING", {"T_max": 4.0}, total_steps=10), 1.0, 2)
b = hpod_lr.lr_at({"kind": "LR_SCHEDULE_KIND_EXPONENTIAL", "values": {"gamma": 0.5}, "totalSteps": 10, "warmupSteps": 2, "warmupStartFactor": 0.5}, 1.0, 3)
c = hpod_lr.lr_at({"kind": 4, "values": {"gamma": 0.5}}, 1.0, 2)
json.dump([a, b, c], sys.stdout)`) as number[];
    expect(got[0]).toBeCloseTo(0.5, 15);
    expect(got[1]).toBe(0.5);
    expect(got[2]).toBe(0.25);
  });

  it("rejects the same bad schedules, naming the same field", () => {
    const bad: LrScheduleValue[] = [
      { kind: "step", values: { gamma: 0.5 }, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      { kind: "step", values: { step_size: 2, gama: 0.5 }, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      { kind: "exponential", values: { gamma: 0 }, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      { kind: "cyclic", values: { base_lr: 1, max_lr: 2 }, milestones: [], mode: "up", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      { kind: "multi_step", values: {}, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      { kind: "one_cycle", values: { max_lr: 1, pct_start: 0.1 }, milestones: [], mode: "", totalSteps: 10, warmupSteps: 0, warmupStartFactor: 0 },
      { kind: "constant", values: {}, milestones: [], mode: "", totalSteps: 10, warmupSteps: 3, warmupStartFactor: 2 },
    ];
    const got = py(
      `out = []\nfor c in IN:\n    try:\n        hpod_lr.lr_at(c, 0.1, 0)\n        out.append(None)\n    except hpod_lr.LrScheduleError as e:\n        out.append(str(e))\njson.dump(out, sys.stdout)`,
      bad.map(toPy),
    ) as (string | null)[];
    bad.forEach((b, i) => {
      let tsMsg = "";
      try {
        resolveLrSchedule(b);
      } catch (e) {
        if (!(e instanceof LrScheduleError)) throw e;
        tsMsg = e.message;
      }
      const field = (m: string) => m.split(":")[0];
      expect(tsMsg, b.kind).not.toBe("");
      expect(field(got[i] ?? ""), `${b.kind}: ${got[i]} vs ${tsMsg}`).toBe(field(tsMsg));
    });
    const plateau = py(`
try:
    hpod_lr.lr_at({"kind": "reduce_on_plateau", "values": {}}, 0.1, 0)
    print(json.dumps("no error"))
except hpod_lr.LrScheduleError as e:
    print(json.dumps(str(e)))`) as string;
    expect(plateau).toMatch(/use create_scheduler/);
  });

  it(`agrees with TypeScript on 300 random legal schedules over ${STEPS} steps (1e-9 relative)`, () => {
    const r = rng(20240531);
    const cases = Array.from({ length: 300 }, (_, n) => {
      const s = randomSchedule(r, LR_KINDS[n % LR_KINDS.length] as LrKind);
      const metrics = s.kind === "reduce_on_plateau" ? Array.from({ length: STEPS }, (_, t) => 1 / (1 + Math.floor(t / (5 + (n % 30)))) + 0.01 * r()) : null;
      return { s, base: 0.001 + r(), metrics };
    });
    const got = py(
      `out = []\nfor c in IN:\n    s = hpod_lr.create_scheduler(c["s"], c["base"])\n    m = c["metrics"]\n    lrs = [s.lr]\n    for t in range(1, ${STEPS}):\n        lrs.append(s.step(None if m is None else m[t - 1]))\n    out.append(lrs)\njson.dump(out, sys.stdout)`,
      cases.map((c) => ({ s: toPy(c.s), base: c.base, metrics: c.metrics })),
    ) as number[][];
    let worst = 0;
    cases.forEach((c, n) => {
      const sch = createScheduler(c.s, c.base);
      const ts = [sch.lr];
      for (let t = 1; t < STEPS; t++) ts.push(sch.step(c.metrics?.[t - 1]));
      const pyv = got[n]!;
      for (let t = 0; t < STEPS; t++) {
        const a = ts[t]!;
        const b = pyv[t]!;
        const e = a === b ? 0 : Math.abs(a - b) / Math.abs(b);
        worst = Math.max(worst, e);
        if (!(e <= 1e-9)) expect.fail(`case ${n} ${JSON.stringify(c.s)} step ${t}: ts ${a} python ${b}`);
      }
    });
    console.log(`TS vs Python: worst relative difference ${worst}`);
    expect(worst).toBeLessThanOrEqual(1e-9);
  });
});
