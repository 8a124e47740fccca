/**
 * Decision parity with Optuna 3.1: the same deterministic curves run through
 * hpod's pruners give the same prune step for every trial of a sequential
 * study as Optuna's pruners gave (optuna-reference.json, made by
 * optuna_reference.py with Debian's python3-optuna).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { Direction, PrunerSpec } from "../../../server/core/model.js";
import { SuccessiveHalving } from "../../../server/core/pruners/asha.js";
import { createSampler } from "../../../server/core/samplers/index.js";
import { compileSpace } from "../../../server/core/space.js";
import { StudyRuntime, type PruneDecider } from "../../../server/core/study-runtime.js";
import { input, makeRuntime, makeStudy, start } from "./sim.js";

interface Scenario {
  direction: Direction;
  steps: number[];
  trials: number;
  prunedAt: Array<number | null>;
}

const reference = JSON.parse(readFileSync(join(import.meta.dirname, "optuna-reference.json"), "utf8")) as {
  optuna: string;
  scenarios: Record<string, Scenario>;
};

/** optuna_reference.py's curve. */
function curve(i: number, step: number, direction: Direction): number {
  if (direction === "maximize") return 2 - curve(i, step, "minimize");
  if (i === 7 && step === 5) return Number.NaN;
  const a = (i * 0.6180339887498949) % 1;
  const b = (i * 0.7548776662466927) % 1;
  return a + (1 + 3 * b) / (step + 1) + 0.05 * Math.sin(7 * i + 3 * step);
}

const HPOD: Record<string, Partial<PrunerSpec> | ((d: Direction) => StudyRuntime)> = {
  median_min: { name: "median" },
  median_max: { name: "median" },
  median_warmup_interval: { name: "median", startupTrials: 3, warmupSteps: 4, intervalSteps: 3 },
  percentile25_min: { name: "percentile", percentile: 25, startupTrials: 4 },
  percentile25_max: { name: "percentile", percentile: 25, startupTrials: 4, warmupSteps: 2 },
  percentile0_min: { name: "percentile", percentile: 0, startupTrials: 2 },
  percentile90_max: { name: "percentile", percentile: 90, startupTrials: 2 },
  threshold: { name: "threshold", lower: 0.2, upper: 2, warmupSteps: 2, intervalSteps: 2 },
  patience3_min: { name: "patience", patience: 3 },
  patience1_max: { name: "patience", patience: 1 },
  patience2_median: {
    name: "patience",
    patience: 2,
    wrapped: { ...makeStudy({}).spec.pruner, name: "median", startupTrials: 3 },
  },
  sha_auto_rf4_min: { name: "asha" },
  sha_1_rf3_max: { name: "asha", minResource: 1, reductionFactor: 3 },
  // min_early_stopping_rate has no API field: the class Hyperband builds on.
  sha_2_rf2_mesr1_min: (direction) => {
    const sh = new SuccessiveHalving({ minResource: 2, reductionFactor: 2, minEarlyStoppingRate: 1 });
    const decider: PruneDecider = { decide: (t, rt) => sh.decide(t, rt, "sh") };
    const study = makeStudy({ name: "none" }, [direction]);
    const space = compileSpace(study.spec.space);
    return new StudyRuntime(study, space, createSampler(study.spec.algorithm, space).sampler, decider, [], 0);
  },
};

function replay(name: string, sc: Scenario): Array<number | null> {
  const how = HPOD[name];
  if (!how) throw new Error(`no hpod mapping for ${name}`);
  const rt = typeof how === "function" ? how(sc.direction) : makeRuntime(how, [sc.direction]);
  const out: Array<number | null> = [];
  for (let i = 0; i < sc.trials; i++) {
    const t = start(rt);
    let at: number | null = null;
    let last = Number.NaN;
    for (const s of sc.steps) {
      last = curve(i, s, sc.direction);
      if (rt.report(input(t.id, { step: s, values: [last] }), 1).decision === "PRUNE") {
        at = s;
        break;
      }
    }
    if (at === null) rt.report(input(t.id, { final: true, values: [last] }), 1);
    out.push(at);
  }
  return out;
}

describe(`parity with Optuna ${reference.optuna}`, () => {
  it("covers every scenario of the reference file", () => {
    expect(Object.keys(HPOD).sort()).toEqual(Object.keys(reference.scenarios).sort());
  });
  for (const [name, sc] of Object.entries(reference.scenarios)) {
    it(`${name}: same prune step for every trial`, () => {
      expect(replay(name, sc)).toEqual(sc.prunedAt);
    });
  }
});
