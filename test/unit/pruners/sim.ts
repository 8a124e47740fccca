/**
 * In-process study simulation for pruner tests: a StudyRuntime built the way
 * the daemon builds it (validateNewStudy + buildRuntime), one sequential
 * worker reporting every step of a synthetic learning curve until PRUNE, and
 * curve generators of shapes unlike the shared benchmark's (which is a pure
 * exponential decay per trial).
 */
import type { Direction, PrunerSpec, Study, Trial } from "../../../server/core/model.js";
import { createRng, type Rng } from "../../../server/core/rng.js";
import { CurvePruner, type CurveTuning } from "../../../server/core/pruners/curve.js";
import { createSampler } from "../../../server/core/samplers/index.js";
import { compileSpace } from "../../../server/core/space.js";
import { buildRuntime, validateNewStudy } from "../../../server/core/study-spec.js";
import { StudyRuntime, type ReportInput } from "../../../server/core/study-runtime.js";

export const ZERO_PRUNER: PrunerSpec = {
  name: "",
  startupTrials: 0,
  warmupSteps: 0,
  intervalSteps: 0,
  percentile: 0,
  patience: 0,
  minResource: 0,
  maxResource: 0,
  reductionFactor: 0,
  brackets: 0,
  confidence: 0,
};

export function makeStudy(pruner: Partial<PrunerSpec>, directions: Direction[] = ["minimize"], name = "sim"): Study {
  const study: Study = {
    name,
    namespace: "",
    spec: {
      space: { parameters: [{ name: "x", domain: { type: "float", low: 0, high: 1, log: false } }] },
      objectives: directions.map((direction, i) => ({ name: `obj${i}`, direction })),
      constraints: [],
      algorithm: { name: "random", seed: 1 },
      pruner: { ...ZERO_PRUNER, ...pruner },
      maxTrials: 0,
      heartbeatTimeoutMs: 0,
      maxStaleRetries: 0,
    },
    state: "ACTIVE",
    stateReason: "",
    createTime: 0,
    updateTime: 0,
    resolvedAlgorithm: "",
    labels: {},
    nextTrialId: 0,
  };
  validateNewStudy(study);
  return study;
}

export function makeRuntime(pruner: Partial<PrunerSpec>, directions: Direction[] = ["minimize"]): StudyRuntime {
  return buildRuntime(makeStudy(pruner, directions), [], 0);
}

export function input(trialId: number, over: Partial<ReportInput> = {}): ReportInput {
  return { trialId, values: [], constraintValues: [], metrics: {}, final: false, failed: false, failureReason: "", workerId: "", ...over };
}

/** Starts a trial. */
export function start(rt: StudyRuntime, now = 1): Trial {
  const t = rt.suggest(1, "", now).trials[0];
  if (!t) throw new Error("no trial");
  return t;
}

/** Runs a trial through `values` (steps 1..n unless `steps` given) and reports its final value unless pruned. */
export function runTrial(rt: StudyRuntime, values: number[], o: { final?: number; steps?: number[]; now?: number } = {}): Trial {
  const t = start(rt, o.now);
  for (let i = 0; i < values.length; i++) {
    const r = rt.report(input(t.id, { step: o.steps?.[i] ?? i + 1, values: [values[i] as number] }), o.now ?? 1);
    if (r.decision === "PRUNE") return t;
  }
  rt.report(input(t.id, { final: true, values: [o.final ?? (values[values.length - 1] as number)] }), o.now ?? 1);
  return t;
}

/** A trial's noiseless curve. */
export type Curve = (step: number) => number;
/** Draws trial `index`'s curve. */
export type Generator = (rng: Rng, index: number) => Curve;

export interface SimOptions {
  trials: number;
  steps: number;
  noise: number;
  seed: number;
  direction?: Direction;
  pruner?: Partial<PrunerSpec>;
  /** Runs the curve pruner with these knobs instead of `pruner`. */
  tuning?: Partial<CurveTuning> & { confidence?: number };
}

export interface SimTrial {
  id: number;
  pruned: boolean;
  steps: number;
  reason: string;
  /** Noiseless value at the last step. */
  truth: number;
}

export interface SimResult {
  steps: number;
  full: number;
  trials: SimTrial[];
  /** The trial with the best noiseless final value. */
  winner: SimTrial;
  /** The trial with the best observed final value among the completed ones. */
  chosen: SimTrial | undefined;
}

export function simulate(gen: Generator, o: SimOptions): SimResult {
  const dir = o.direction ?? "minimize";
  let rt: StudyRuntime;
  if (o.tuning) {
    const study = makeStudy({}, [dir]);
    const space = compileSpace(study.spec.space);
    const { confidence, ...tuning } = o.tuning;
    const pruner = new CurvePruner(
      { startupTrials: 5, warmupSteps: 0, intervalSteps: 1, minResource: 0, maxResource: 0, confidence: confidence ?? 0.95 },
      tuning,
    );
    rt = new StudyRuntime(study, space, createSampler(study.spec.algorithm, space).sampler, pruner, [], 0);
  } else rt = makeRuntime(o.pruner ?? {}, [dir]);
  const noise = createRng(o.seed, 99);
  const out: SimTrial[] = [];
  let chosen: { t: SimTrial; v: number } | undefined;
  let total = 0;
  for (let i = 0; i < o.trials; i++) {
    const curve = gen(createRng(o.seed, i), i);
    const t = start(rt);
    let used = 0;
    let last = Number.NaN;
    let reason = "";
    for (let step = 1; step <= o.steps; step++) {
      last = curve(step) + o.noise * noise.normal();
      const r = rt.report(input(t.id, { step, values: [last] }), 1);
      used++;
      if (r.decision === "PRUNE") {
        reason = r.reason;
        break;
      }
    }
    total += used;
    const rec: SimTrial = { id: t.id, pruned: reason !== "", steps: used, reason, truth: curve(o.steps) };
    if (!rec.pruned) {
      rt.report(input(t.id, { final: true, values: [last] }), 1);
      if (!chosen || (dir === "minimize" ? last < chosen.v : last > chosen.v)) chosen = { t: rec, v: last };
    }
    out.push(rec);
  }
  const better = (a: SimTrial, b: SimTrial): boolean => (dir === "minimize" ? a.truth < b.truth : a.truth > b.truth);
  const winner = out.reduce((w, t) => (better(t, w) ? t : w));
  return { steps: total, full: o.trials * o.steps, trials: out, winner, chosen: chosen?.t };
}

const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng.next();
const logUniform = (rng: Rng, lo: number, hi: number): number => Math.exp(uniform(rng, Math.log(lo), Math.log(hi)));

/**
 * Plateau then drop (a step learning-rate schedule at step `drop`): the loss
 * decays to a plateau, then, after the drop, decays again to a level about
 * 0.4-0.6 of the plateau. Fast and slow decays cross.
 */
export const plateauDrop =
  (drop: number): Generator =>
  (rng) => {
    const plateau = uniform(rng, 0.3, 1.2);
    const ratio = uniform(rng, 0.4, 0.6);
    const tau1 = logUniform(rng, 2, 12);
    const tau2 = logUniform(rng, 1, 6);
    const start = plateau + uniform(rng, 0.5, 1.5);
    return (t) => {
      const first = plateau + (start - plateau) * Math.exp(-t / tau1);
      if (t <= drop) return first;
      const atDrop = plateau + (start - plateau) * Math.exp(-drop / tau1);
      const low = ratio * plateau;
      return low + (atDrop - low) * Math.exp(-(t - drop) / tau2);
    };
  };

/**
 * Sigmoid accuracy (maximise): acc = 0.1 + (top - 0.1) / (1 + exp(-(t - mid) / width)),
 * rising within the first fifth of the run; later, slower risers tend to end
 * higher (crossing curves).
 */
export const sigmoidAccuracy: Generator = (rng) => {
  const mid = uniform(rng, 2, 12);
  const width = uniform(rng, 1, 4);
  const top = uniform(rng, 0.55, 0.85) + 0.1 * ((mid - 2) / 10);
  return (t) => 0.1 + (top - 0.1) / (1 + Math.exp(-(t - mid) / width));
};

/** Power laws c + a t^-b with crossing: fast learners (large b) plateau higher on average. */
export const powerLaw: Generator = (rng) => {
  const b = uniform(rng, 0.3, 1.5);
  const c = uniform(rng, 0.05, 0.3) + 0.15 * (b - 0.3);
  const a = uniform(rng, 0.8, 2);
  return (t) => c + a * Math.pow(t, -b);
};

/**
 * Rise then fall of quality (overfitting): the validation loss decays, then
 * climbs again at rate `drift` per step; the objective is its last value.
 */
export const overfitting: Generator = (rng) => {
  const c = uniform(rng, 0.1, 0.4);
  const a = uniform(rng, 0.5, 1.5);
  const tau = logUniform(rng, 2, 10);
  const drift = rng.next() < 0.5 ? 0 : logUniform(rng, 0.001, 0.02);
  return (t) => c + a * Math.exp(-t / tau) + drift * t;
};
