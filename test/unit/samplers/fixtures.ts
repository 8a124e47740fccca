/**
 * Spaces and helpers shared by the sampler tests.
 */
import { expect } from "vitest";
import type { TrialState } from "../../../server/core/model.js";
import type { SampleContext, Sampler, TrialView } from "../../../server/core/samplers/sampler.js";
import { encode } from "../../../server/core/samplers/tpe/history.js";
import type { Observations } from "../../../server/core/samplers/tpe/parzen.js";
import type { Group } from "../../../server/core/samplers/tpe/space-model.js";
import {
  compileSpace,
  scalarInDomain,
  type CompiledSpace,
  type FlatParams,
  type ParameterDef,
} from "../../../server/core/space.js";

export const float = (name: string, low: number, high: number, extra: { log?: boolean; step?: number } = {}): ParameterDef => ({
  name,
  domain: { type: "float", low, high, log: extra.log ?? false, ...(extra.step !== undefined ? { step: extra.step } : {}) },
});

export const int = (name: string, low: number, high: number, extra: { log?: boolean; step?: number } = {}): ParameterDef => ({
  name,
  domain: { type: "int", low, high, log: extra.log ?? false, step: extra.step ?? 1 },
});

export const cat = (name: string, choices: (string | number | boolean)[]): ParameterDef => {
  const first = choices[0];
  const valueKind = typeof first === "string" ? "string" : typeof first === "boolean" ? "bool" : "number";
  return { name, domain: { type: "categorical", valueKind, choices } };
};

export const when = (p: ParameterDef, parent: string, values: (string | number | boolean)[]): ParameterDef => ({
  ...p,
  condition: { parent, values },
});

/** Edge cases of every domain kind. */
export function edgeSpace(): CompiledSpace {
  return compileSpace({
    parameters: [
      float("fixed_f", 0.5, 0.5),
      int("fixed_i", 7, 7),
      cat("only", ["one"]),
      int("i_step3", 2, 29, { step: 3 }),
      float("f_step", -1, 2, { step: 0.25 }),
      float("f_tenth", 0.1, 0.9, { step: 0.1 }),
      float("lr", 1e-5, 1, { log: true }),
      int("units", 1, 1000, { log: true }),
      float("plain", -3, 5),
      cat("flag", [true, false]),
      cat("batch", [16, 32, 64, 128]),
      int("big", -1_000_000_000, 1_000_000_000),
    ],
  });
}

/** Three levels of conditions. */
export function nestedSpace(): CompiledSpace {
  return compileSpace({
    parameters: [
      cat("model", ["linear", "mlp"]),
      when(float("l2", 1e-6, 1e-1, { log: true }), "model", ["linear"]),
      when(int("layers", 1, 3), "model", ["mlp"]),
      when(cat("act", ["relu", "gelu"]), "layers", [2, 3]),
      when(float("gelu_approx_scale", 0.5, 2), "act", ["gelu"]),
      float("dropout", 0, 0.5),
    ],
  });
}

/** A learning-rate schedule flattened into conditional dimensions. */
export function scheduleSpace(): CompiledSpace {
  return compileSpace({
    parameters: [
      float("lr", 1e-4, 1e-1, { log: true }),
      {
        name: "sched",
        domain: {
          type: "lr_schedule",
          totalSteps: 1000,
          warmupSteps: { type: "int", low: 0, high: 100, log: false, step: 10 },
          options: [
            { kind: "constant", hyperparameters: [] },
            { kind: "step", hyperparameters: [int("step_size", 10, 100, { step: 10 }), float("gamma", 0.1, 0.9, { step: 0.1 })] },
            { kind: "cosine_annealing", hyperparameters: [int("T_max", 100, 1000, { step: 100 }), float("eta_min", 0, 1e-3)] },
          ],
        },
      },
    ],
  });
}

export function trial(id: number, flat: FlatParams, state: TrialState = "RUNNING"): TrialView {
  return { id, state, flat };
}

export function context(space: CompiledSpace, seed: number, trialId: number, trials: readonly TrialView[] = []): SampleContext {
  return { space, seed, trialId, trials, directions: ["minimize"] };
}

/** Params of trials 0..n-1, each sampled as if created in turn. */
export function drawMany(sampler: Sampler, space: CompiledSpace, seed: number, n: number, first = 0): FlatParams[] {
  const out: FlatParams[] = [];
  for (let id = first; id < first + n; id++) {
    const r = sampler.sample(context(space, seed, id));
    if (r.kind !== "params") throw new Error(`trial ${id}: sampler answered ${r.kind}`);
    out.push(r.flat);
  }
  return out;
}

/** Problems of a point: an active dimension missing or illegal, an inactive or unknown one set. */
export function problems(space: CompiledSpace, flat: FlatParams): string[] {
  const out: string[] = [];
  for (const dim of space.dims) {
    const v = flat[dim.name];
    if (!space.isActive(dim, flat)) {
      if (v !== undefined) out.push(`${dim.name} is set but inactive`);
    } else if (v === undefined) out.push(`${dim.name} is active but missing`);
    else if (!scalarInDomain(v, dim.domain)) out.push(`${dim.name} = ${JSON.stringify(v)} is outside its domain`);
  }
  for (const name of Object.keys(flat)) if (space.dim(name) === undefined) out.push(`${name} is not a dimension`);
  return out;
}

/** Exactly the active dimensions are set, each to a legal value. */
export function expectValid(space: CompiledSpace, flat: FlatParams): void {
  const found = problems(space, flat);
  if (found.length > 0) expect.fail(`${JSON.stringify(flat)}: ${found.join("; ")}`);
}

export const numbers = (points: FlatParams[], name: string): number[] =>
  points.map((p) => p[name]).filter((v): v is number => typeof v === "number");

/** Fraction of xs satisfying pred. */
export const share = (xs: readonly number[], pred: (x: number) => boolean): number => xs.filter(pred).length / xs.length;

/**
 * Observations of a group's dimensions in the given trials (those where every
 * dimension has a legal value), computed from scratch: the reference that
 * TPE's incremental history (tpe/history.ts) is tested against.
 */
export function observe(g: Group, trials: readonly TrialView[], indices: readonly number[]): Observations {
  const d = g.dims.length;
  const m = indices.length;
  // One buffer, a column of m slots per dimension.
  const buf = new Float64Array(d * m);
  let n = 0;
  for (const ti of indices) {
    const flat = trials[ti].flat;
    let ok = true;
    for (let j = 0; j < d && ok; j++) {
      const x = encode(g.dims[j], flat[g.dims[j].dim.name]);
      if (Number.isNaN(x)) ok = false;
      else buf[j * m + n] = x;
    }
    if (ok) n++;
  }
  return { n, cols: g.dims.map((_, j) => buf.subarray(j * m, j * m + n)) };
}
