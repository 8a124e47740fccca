/**
 * Proto <-> domain translation. Structural checks that only make sense on the
 * wire (a oneof left empty, an enum at UNSPECIFIED or out of range, a
 * duration out of range) are made here with the request field's path; the
 * semantic checks live in core.
 */
import type { Duration } from "../../client/gen/google/protobuf/duration.js";
import type * as pb from "../../client/gen/hpod/v1/search_space.js";
import { LrScheduleKind } from "../../client/gen/hpod/v1/search_space.js";
import type * as spb from "../../client/gen/hpod/v1/study.js";
import { Direction, StudyState } from "../../client/gen/hpod/v1/study.js";
import type * as tpb from "../../client/gen/hpod/v1/trial.js";
import { Decision, TrialSource, TrialState } from "../../client/gen/hpod/v1/trial.js";
import { invalid } from "../core/errors.js";
import type * as d from "../core/model.js";
import type { StudyRuntime } from "../core/study-runtime.js";
import {
  isLrSchedule,
  LR_KINDS,
  type CompiledSpace,
  type Domain,
  type FloatDomain,
  type IntDomain,
  type LrKind,
  type LrScheduleValue,
  type ParameterDef,
  type Params,
  type ParamValue,
  type ScalarValue,
  type SearchSpaceDef,
  type ValueKind,
} from "../core/space.js";

// ---- Enums -------------------------------------------------------------------

const TRIAL_STATE_TO_PB: Record<d.TrialState, TrialState> = {
  QUEUED: TrialState.TRIAL_STATE_QUEUED,
  RUNNING: TrialState.TRIAL_STATE_RUNNING,
  COMPLETE: TrialState.TRIAL_STATE_COMPLETE,
  PRUNED: TrialState.TRIAL_STATE_PRUNED,
  FAILED: TrialState.TRIAL_STATE_FAILED,
};
const STUDY_STATE_TO_PB: Record<d.StudyState, StudyState> = {
  ACTIVE: StudyState.STUDY_STATE_ACTIVE,
  PAUSED: StudyState.STUDY_STATE_PAUSED,
  STOPPED: StudyState.STUDY_STATE_STOPPED,
  COMPLETED: StudyState.STUDY_STATE_COMPLETED,
};
const SOURCE_TO_PB: Record<d.TrialSource, TrialSource> = {
  SAMPLED: TrialSource.TRIAL_SOURCE_SAMPLED,
  ENQUEUED: TrialSource.TRIAL_SOURCE_ENQUEUED,
  ADDED: TrialSource.TRIAL_SOURCE_ADDED,
  RETRY: TrialSource.TRIAL_SOURCE_RETRY,
};

function invert<K extends string, V extends number>(m: Record<K, V>): Map<number, K> {
  return new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
}
const TRIAL_STATE_FROM_PB = invert(TRIAL_STATE_TO_PB);
const STUDY_STATE_FROM_PB = invert(STUDY_STATE_TO_PB);

export const trialStateToPb = (s: d.TrialState): TrialState => TRIAL_STATE_TO_PB[s];
export const decisionToPb = (x: d.Decision | undefined): Decision =>
  x === "PRUNE" ? Decision.DECISION_PRUNE : x === "CONTINUE" ? Decision.DECISION_CONTINUE : Decision.DECISION_UNSPECIFIED;

/** A trial's last decision: PRUNE is recorded; CONTINUE is implied by intermediate values. */
const trialDecision = (t: d.Trial): Decision =>
  decisionToPb(t.decision ?? (t.intermediate.length > 0 ? "CONTINUE" : undefined));

export function trialStateFromPb(s: number, field: string): d.TrialState {
  const v = TRIAL_STATE_FROM_PB.get(s);
  if (!v) throw invalid(field, `unknown trial state ${s}`);
  return v;
}

export function studyStateFromPb(s: number, field: string): d.StudyState {
  const v = STUDY_STATE_FROM_PB.get(s);
  if (!v) throw invalid(field, `must be ACTIVE, PAUSED or STOPPED (got ${s})`);
  return v;
}

function directionFromPb(x: number, field: string): d.Direction {
  if (x === Direction.DIRECTION_MINIMIZE) return "minimize";
  if (x === Direction.DIRECTION_MAXIMIZE) return "maximize";
  throw invalid(field, "must be MINIMIZE or MAXIMIZE");
}

function lrKindFromPb(k: number, field: string): LrKind {
  const kind = LR_KINDS[k - 1];
  if (k < 1 || kind === undefined) throw invalid(field, `unknown learning-rate schedule kind ${k}`);
  return kind;
}

const lrKindToPb = (k: LrKind): LrScheduleKind => (LR_KINDS.indexOf(k) + 1) as LrScheduleKind;

// ---- Durations and times ----------------------------------------------------

/** Milliseconds of a proto Duration; 0 when absent. */
export function durationMs(x: Duration | undefined, field: string): number {
  if (!x) return 0;
  const ms = x.seconds * 1000 + x.nanos / 1e6;
  if (!Number.isFinite(ms) || ms < 0 || Math.abs(x.nanos) > 999_999_999) throw invalid(field, "must be a valid, non-negative duration");
  return ms;
}

export function msToDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

const date = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));

// ---- Parameter values -------------------------------------------------------

export function valueFromPb(v: pb.ParameterValue | undefined, field: string): ParamValue {
  const k = v?.kind;
  if (!k) throw invalid(field, "a value (number_value, int_value, string_value, bool_value or lr_schedule_value) is required");
  switch (k.$case) {
    case "numberValue":
    case "intValue":
    case "stringValue":
    case "boolValue":
      return k.value;
    case "lrScheduleValue":
      return lrScheduleFromPb(k.value, field + ".lr_schedule_value");
  }
}

function scalarFromPb(v: pb.ParameterValue | undefined, field: string): { value: ScalarValue; kind: ValueKind } {
  const k = v?.kind;
  if (!k) throw invalid(field, "a value (number_value, int_value, string_value or bool_value) is required");
  switch (k.$case) {
    case "numberValue":
      return { value: k.value, kind: "number" };
    case "intValue":
      return { value: k.value, kind: "int" };
    case "stringValue":
      return { value: k.value, kind: "string" };
    case "boolValue":
      return { value: k.value, kind: "bool" };
    case "lrScheduleValue":
      throw invalid(field, "an lr_schedule_value is not allowed here");
  }
}

function lrScheduleFromPb(s: pb.LrSchedule, field: string): LrScheduleValue {
  return {
    kind: lrKindFromPb(s.kind, `${field}.kind`),
    values: { ...s.values },
    milestones: [...s.milestones],
    mode: s.mode,
    totalSteps: s.totalSteps,
    warmupSteps: s.warmupSteps,
    warmupStartFactor: s.warmupStartFactor,
  };
}

export function paramsFromPb(m: { [key: string]: pb.ParameterValue }, field: string): Params {
  const out: Params = {};
  for (const [name, v] of Object.entries(m)) out[name] = valueFromPb(v, `${field}["${name}"]`);
  return out;
}

function valueToPb(v: ParamValue, kind: ValueKind | "lr"): pb.ParameterValue {
  if (isLrSchedule(v)) {
    return {
      kind: {
        $case: "lrScheduleValue",
        value: {
          kind: lrKindToPb(v.kind),
          values: { ...v.values },
          milestones: [...v.milestones],
          mode: v.mode,
          totalSteps: v.totalSteps,
          warmupSteps: v.warmupSteps,
          warmupStartFactor: v.warmupStartFactor,
        },
      },
    };
  }
  if (typeof v === "string") return { kind: { $case: "stringValue", value: v } };
  if (typeof v === "boolean") return { kind: { $case: "boolValue", value: v } };
  if (kind === "int") return { kind: { $case: "intValue", value: v } };
  return { kind: { $case: "numberValue", value: v } };
}

function kindOf(space: CompiledSpace, name: string): ValueKind | "lr" {
  const dom = space.parameter(name)?.domain;
  if (!dom) return "number";
  switch (dom.type) {
    case "float":
      return "number";
    case "int":
      return "int";
    case "categorical":
      return dom.valueKind;
    case "lr_schedule":
      return "lr";
  }
}

export function paramsToPb(params: Params, space: CompiledSpace): { [key: string]: pb.ParameterValue } {
  const out: { [key: string]: pb.ParameterValue } = {};
  for (const [name, v] of Object.entries(params)) out[name] = valueToPb(v, kindOf(space, name));
  return out;
}

// ---- Search space -----------------------------------------------------------

function floatFromPb(x: pb.FloatDomain): FloatDomain {
  const out: FloatDomain = { type: "float", low: x.low, high: x.high, log: x.log };
  if (x.step !== undefined) out.step = x.step;
  return out;
}

function intFromPb(x: pb.IntDomain): IntDomain {
  return { type: "int", low: x.low, high: x.high, log: x.log, step: x.step ?? 1 };
}

function parameterFromPb(p: pb.Parameter, field: string, allowSchedule: boolean): ParameterDef {
  const dom = p.domain;
  if (!dom) {
    throw invalid(`${field}`, `parameter "${p.name}" needs a domain: float_domain, int_domain, categorical_domain or lr_schedule_domain`);
  }
  let domain: Domain;
  switch (dom.$case) {
    case "floatDomain":
      domain = floatFromPb(dom.value);
      break;
    case "intDomain":
      domain = intFromPb(dom.value);
      break;
    case "categoricalDomain": {
      const choices = dom.value.choices.map((c, i) => scalarFromPb(c, `${field}.categorical_domain.choices[${i}]`));
      const kinds = new Set(choices.map((c) => (c.kind === "int" ? "number" : c.kind)));
      if (kinds.size > 1) throw invalid(`${field}.categorical_domain.choices`, "all choices must be of one type (numbers, strings or bools)");
      // Integers stay integers on the way back out; a mix of int and number
      // values is a set of numbers.
      const kind: ValueKind = choices.every((c) => c.kind === "int") && choices.length > 0 ? "int" : (choices[0]?.kind ?? "string");
      domain = { type: "categorical", valueKind: kind, choices: choices.map((c) => c.value) };
      break;
    }
    case "lrScheduleDomain": {
      if (!allowSchedule) throw invalid(`${field}.lr_schedule_domain`, "not allowed here");
      const s = dom.value;
      domain = {
        type: "lr_schedule",
        totalSteps: s.totalSteps,
        options: s.options.map((o, i) => ({
          kind: lrKindFromPb(o.kind, `${field}.lr_schedule_domain.options[${i}].kind`),
          hyperparameters: o.hyperparameters.map((h, j) =>
            parameterFromPb(h, `${field}.lr_schedule_domain.options[${i}].hyperparameters[${j}]`, false),
          ),
        })),
      };
      if (s.warmupSteps) domain.warmupSteps = intFromPb(s.warmupSteps);
      if (s.warmupStartFactor) domain.warmupStartFactor = floatFromPb(s.warmupStartFactor);
      break;
    }
  }
  const out: ParameterDef = { name: p.name, domain };
  if (p.description) out.description = p.description;
  if (p.condition) {
    out.condition = {
      parent: p.condition.parent,
      values: p.condition.values.map((v, i) => scalarFromPb(v, `${field}.condition.values[${i}]`).value),
    };
  }
  return out;
}

export function spaceFromPb(s: pb.SearchSpace | undefined, field: string): SearchSpaceDef {
  if (!s) throw invalid(field, "is required");
  return { parameters: s.parameters.map((p, i) => parameterFromPb(p, `${field}.parameters[${i}]`, true)) };
}

function domainToPb(dm: Domain): pb.Parameter["domain"] {
  switch (dm.type) {
    case "float":
      return { $case: "floatDomain", value: { low: dm.low, high: dm.high, log: dm.log, step: dm.step } };
    case "int":
      return { $case: "intDomain", value: { low: dm.low, high: dm.high, log: dm.log, step: dm.step } };
    case "categorical":
      return { $case: "categoricalDomain", value: { choices: dm.choices.map((c) => valueToPb(c, dm.valueKind)) } };
    case "lr_schedule":
      return {
        $case: "lrScheduleDomain",
        value: {
          totalSteps: dm.totalSteps,
          options: dm.options.map((o) => ({ kind: lrKindToPb(o.kind), hyperparameters: o.hyperparameters.map((h) => parameterToPb(h)) })),
          warmupSteps: dm.warmupSteps
            ? { low: dm.warmupSteps.low, high: dm.warmupSteps.high, log: dm.warmupSteps.log, step: dm.warmupSteps.step }
            : undefined,
          warmupStartFactor: dm.warmupStartFactor
            ? { low: dm.warmupStartFactor.low, high: dm.warmupStartFactor.high, log: dm.warmupStartFactor.log, step: dm.warmupStartFactor.step }
            : undefined,
        },
      };
  }
}

function parameterToPb(p: ParameterDef, siblings: readonly ParameterDef[] = []): pb.Parameter {
  const parent = p.condition ? siblings.find((s) => s.name === p.condition?.parent)?.domain : undefined;
  const parentKind: ValueKind = parent?.type === "categorical" ? parent.valueKind : "int";
  return {
    name: p.name,
    domain: domainToPb(p.domain),
    condition: p.condition
      ? { parent: p.condition.parent, values: p.condition.values.map((v) => valueToPb(v, parentKind)) }
      : undefined,
    description: p.description ?? "",
  };
}

// ---- Studies ----------------------------------------------------------------

function prunerFromPb(p: spb.PrunerSpec | undefined): d.PrunerSpec {
  const out: d.PrunerSpec = {
    name: p?.name ?? "",
    startupTrials: p?.startupTrials ?? 0,
    warmupSteps: p?.warmupSteps ?? 0,
    intervalSteps: p?.intervalSteps ?? 0,
    percentile: p?.percentile ?? 0,
    patience: p?.patience ?? 0,
    minResource: p?.minResource ?? 0,
    maxResource: p?.maxResource ?? 0,
    reductionFactor: p?.reductionFactor ?? 0,
    brackets: p?.brackets ?? 0,
    confidence: p?.confidence ?? 0,
  };
  if (p?.lower !== undefined) out.lower = p.lower;
  if (p?.upper !== undefined) out.upper = p.upper;
  if (p?.wrapped) out.wrapped = prunerFromPb(p.wrapped);
  return out;
}

function prunerToPb(p: d.PrunerSpec): spb.PrunerSpec {
  return { ...p, wrapped: p.wrapped ? prunerToPb(p.wrapped) : undefined };
}

function algorithmFromPb(a: spb.AlgorithmSpec | undefined, field: string): d.AlgorithmSpec {
  const out: d.AlgorithmSpec = { name: a?.name ?? "", seed: a?.seed ?? 0 };
  if (a?.grid) {
    out.grid = {
      axes: a.grid.axes.map((x, i) => ({
        parameter: x.parameter,
        values: x.values.map((v, j) => scalarFromPb(v, `${field}.grid.axes[${i}].values[${j}]`).value),
        numPoints: x.numPoints,
      })),
    };
  }
  if (a?.quasiRandom) {
    const seq = a.quasiRandom.sequence || "sobol";
    if (seq !== "sobol" && seq !== "halton") throw invalid(`${field}.quasi_random.sequence`, `must be "sobol" or "halton" (got "${seq}")`);
    out.quasiRandom = { sequence: seq, scrambled: !a.quasiRandom.unscrambled };
  }
  return out;
}

/** A study as a user submitted it (CreateStudy); runtime fields are placeholders. */
export function studyFromPb(s: spb.Study | undefined, field: string): d.Study {
  if (!s) throw invalid(field, "is required");
  const spec = s.spec;
  if (!spec) throw invalid(`${field}.spec`, "is required");
  return {
    name: s.name,
    namespace: s.namespace,
    labels: { ...s.labels },
    state: "ACTIVE",
    stateReason: "",
    createTime: 0,
    updateTime: 0,
    resolvedAlgorithm: "",
    nextTrialId: 0,
    spec: {
      space: spaceFromPb(spec.searchSpace, `${field}.spec.search_space`),
      objectives: spec.objectives.map((o, i) => ({
        name: o.name,
        direction: directionFromPb(o.direction, `${field}.spec.objectives[${i}].direction`),
      })),
      constraints: spec.constraints.map((c) => c.name),
      algorithm: algorithmFromPb(spec.algorithm, `${field}.spec.algorithm`),
      pruner: prunerFromPb(spec.pruner),
      maxTrials: spec.maxTrials,
      heartbeatTimeoutMs: durationMs(spec.heartbeatTimeout, `${field}.spec.heartbeat_timeout`),
      maxStaleRetries: spec.maxStaleRetries,
    },
  };
}

export function studyToPb(rt: StudyRuntime): spb.Study {
  const s = rt.study;
  const spec = s.spec;
  return {
    name: s.name,
    namespace: s.namespace,
    state: STUDY_STATE_TO_PB[s.state],
    stateReason: s.stateReason,
    createTime: date(s.createTime),
    updateTime: date(s.updateTime),
    resolvedAlgorithm: s.resolvedAlgorithm,
    labels: { ...s.labels },
    trialCounts: {
      queued: rt.counts.QUEUED,
      running: rt.counts.RUNNING,
      complete: rt.counts.COMPLETE,
      pruned: rt.counts.PRUNED,
      failed: rt.counts.FAILED,
    },
    spec: {
      searchSpace: { parameters: spec.space.parameters.map((p) => parameterToPb(p, spec.space.parameters)) },
      objectives: spec.objectives.map((o) => ({
        name: o.name,
        direction: o.direction === "maximize" ? Direction.DIRECTION_MAXIMIZE : Direction.DIRECTION_MINIMIZE,
      })),
      constraints: spec.constraints.map((name) => ({ name })),
      algorithm: {
        name: spec.algorithm.name,
        seed: spec.algorithm.seed,
        grid: spec.algorithm.grid
          ? {
              axes: spec.algorithm.grid.axes.map((a) => ({
                parameter: a.parameter,
                values: a.values.map((v) => valueToPb(v, kindOf(rt.space, a.parameter))),
                numPoints: a.numPoints,
              })),
            }
          : undefined,
        quasiRandom: spec.algorithm.quasiRandom
          ? { sequence: spec.algorithm.quasiRandom.sequence, unscrambled: !spec.algorithm.quasiRandom.scrambled }
          : undefined,
      },
      pruner: prunerToPb(spec.pruner),
      maxTrials: spec.maxTrials,
      heartbeatTimeout: msToDuration(spec.heartbeatTimeoutMs),
      maxStaleRetries: spec.maxStaleRetries,
    },
  };
}

// ---- Trials -----------------------------------------------------------------

export function measurementFromPb(m: tpb.Measurement | undefined, field: string, now: number): d.Measurement | undefined {
  if (!m) return undefined;
  const out: d.Measurement = {
    values: [...m.values],
    constraintValues: [...m.constraintValues],
    metrics: { ...m.metrics },
    time: m.reportTime ? m.reportTime.getTime() : now,
  };
  if (m.step !== undefined) out.step = m.step;
  if (m.elapsed) out.elapsedMs = durationMs(m.elapsed, `${field}.elapsed`);
  return out;
}

function measurementToPb(m: d.Measurement): tpb.Measurement {
  return {
    step: m.step,
    values: m.values,
    constraintValues: m.constraintValues,
    metrics: m.metrics,
    elapsed: m.elapsedMs === undefined ? undefined : msToDuration(m.elapsedMs),
    reportTime: new Date(m.time),
  };
}

export function trialToPb(t: d.Trial, space: CompiledSpace, omitIntermediate = false): tpb.Trial {
  return {
    study: t.study,
    id: t.id,
    state: TRIAL_STATE_TO_PB[t.state],
    params: paramsToPb(t.params, space),
    intermediate: omitIntermediate ? [] : t.intermediate.map(measurementToPb),
    finalMeasurement: t.final ? measurementToPb(t.final) : undefined,
    workerId: t.workerId,
    stateReason: t.stateReason,
    source: SOURCE_TO_PB[t.source],
    retryOf: t.retryOf,
    createTime: date(t.createTime),
    startTime: date(t.startTime),
    endTime: date(t.endTime),
    heartbeatTime: date(t.heartbeatTime),
    decision: trialDecision(t),
    decisionReason: t.decisionReason,
    userAttrs: { ...t.userAttrs },
  };
}
