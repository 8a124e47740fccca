/**
 * The request fuzzer shared by test/integration/fuzz.test.ts (fast) and
 * bench/fuzz.ts (long). Every request is generated from createRng(seed, i),
 * so a failing request is reproducible from (seed, index). Requests are
 * built as typed messages (random and boundary values), encoded, optionally
 * mutated at the byte level (wrong wire types, repeated fields, huge
 * varints, flips, truncation, pure garbage) and sent through a raw channel
 * with identity serialisers, so the daemon sees exactly those bytes.
 */
import * as grpc from "@grpc/grpc-js";
import { createRng, type Rng } from "../../server/core/rng.js";
import {
  AddTrialRequest,
  CreateStudyRequest,
  CreateStudyResponse,
  DeleteStudyRequest,
  EnqueueTrialRequest,
  GetBestTrialsRequest,
  GetStudyRequest,
  GetTrialRequest,
  HeartbeatRequest,
  ListStudiesRequest,
  ListStudiesResponse,
  ListTrialsRequest,
  ListTrialsResponse,
  ReportRequest,
  SuggestRequest,
  SuggestResponse,
  UpdateStudyRequest,
  WatchStudyRequest,
} from "../../client/gen/hpod/v1/hpod_service.js";
import { EchoRequest } from "../../client/gen/hpod/v1/diagnostics_service.js";
import type { Parameter, ParameterValue } from "../../client/gen/hpod/v1/search_space.js";
import type { Measurement } from "../../client/gen/hpod/v1/trial.js";
import type { Duration } from "../../client/gen/google/protobuf/duration.js";
import type { StudySpec } from "../../client/gen/hpod/v1/study.js";

export const RPCS = [
  "CreateStudy",
  "GetStudy",
  "ListStudies",
  "UpdateStudy",
  "DeleteStudy",
  "Suggest",
  "Report",
  "Heartbeat",
  "GetTrial",
  "ListTrials",
  "GetBestTrials",
  "EnqueueTrial",
  "AddTrial",
  "WatchStudy",
  "Echo",
] as const;
export type RpcName = (typeof RPCS)[number];

const PATH: Record<RpcName, string> = Object.fromEntries(
  RPCS.map((r) => [r, r === "Echo" ? "/hpod.v1.DiagnosticsService/Echo" : `/hpod.v1.HpodService/${r}`]),
) as Record<RpcName, string>;

export const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k]),
);

export interface FuzzFailure {
  rpc: RpcName;
  index: number;
  code: string;
  details: string;
  mutation: string;
  requestHex: string;
  requestJson: string;
}

export interface FuzzResult {
  /** rpc -> status name -> count. */
  counts: Record<string, Record<string, number>>;
  failures: FuzzFailure[];
  requests: number;
  seconds: number;
  /** The first few requests the generated encoder refused (counted as CLIENT_ENCODE_ERROR). */
  encodeErrors: string[];
  /** "rpc CODE" -> the first such answer's index, mutation and details. */
  samples: Record<string, string>;
}

export interface FuzzOptions {
  address: string;
  perRpc: number;
  seed: number;
  /** Names the fuzzer must never address (the bystander studies). */
  protectedNames: string[];
  concurrency?: number;
  deadlineMs?: number;
  /** Called every `progressEvery` requests. */
  progress?: (done: number, total: number) => void;
}

// ---------------------------------------------------------------- values

const I32 = 2 ** 31;
const SAFE = Number.MAX_SAFE_INTEGER;
const BOUNDARY_INTS = [0, -1, 1, 2, I32 - 1, I32, -I32, -I32 - 1, 2 ** 32, SAFE, -SAFE, 2 ** 53, 1e15, 100, 101, 1000, 1001];
const BOUNDARY_DOUBLES = [0, -0, -1, 1, NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e-300, I32, 2 ** 53, 0.5, 1e308];
const UNICODE = ["é", "日本語", "🎉🚀", "\u202e", "a\u0301", "\uFEFF", "\uD800", "Ω≈ç√", "\u0000", "𝕏"];
const HUGE = "x".repeat(100 * 1024);

export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(xs.length)];
const chance = (r: Rng, p: number): boolean => r.next() < p;

function fuzzInt(r: Rng): number {
  const k = r.int(10);
  if (k < 4) return pick(r, BOUNDARY_INTS) * (chance(r, 0.2) ? -1 : 1);
  if (k < 8) return r.int(20) - 3;
  return Math.floor((r.next() - 0.5) * 2 ** (r.int(53) + 1));
}

/** int32 fields: the encoder refuses values outside int32; larger ones reach the wire through the hugeVarint mutation. */
function fuzzInt32(r: Rng): number {
  const v = fuzzInt(r);
  return v >= -I32 && v < I32 ? v : pick(r, [I32 - 1, -I32, 0, -1]);
}

function fuzzDouble(r: Rng): number {
  const k = r.int(10);
  if (k < 4) return pick(r, BOUNDARY_DOUBLES);
  if (k < 8) return (r.next() - 0.5) * 20;
  return r.normal() * 10 ** (r.int(40) - 20);
}

function fuzzString(r: Rng, pool: readonly string[] = []): string {
  const k = r.int(12);
  if (k < 4 && pool.length > 0) return pick(r, pool);
  switch (k) {
    case 4:
      return "";
    case 5:
      return HUGE;
    case 6:
      return pick(r, UNICODE) + (chance(r, 0.5) ? "x" : "");
    case 7:
      return `a\u0000b${r.int(10)}`;
    case 8:
      return "y".repeat(r.int(300));
    case 9:
      return `n${r.int(5)}`;
    default: {
      const alphabet = "abcXYZ019_.-/ :*\\\"'\n";
      let s = "";
      const n = r.int(12);
      for (let i = 0; i < n; i++) s += alphabet[r.int(alphabet.length)];
      return s;
    }
  }
}

function fuzzDuration(r: Rng): Duration | undefined {
  if (chance(r, 0.3)) return undefined;
  return { seconds: chance(r, 0.5) ? r.int(100) : fuzzInt(r), nanos: chance(r, 0.7) ? r.int(1e9) : fuzzInt32(r) };
}

function fuzzEnum(r: Rng, max: number): number {
  return chance(r, 0.8) ? r.int(max + 1) : pick(r, [-1, max + 1, 99, I32 - 1, -I32]);
}

function fuzzParamValue(r: Rng, depth = 0): ParameterValue {
  switch (r.int(depth > 0 ? 4 : 6)) {
    case 0:
      return { kind: { $case: "numberValue", value: fuzzDouble(r) } };
    case 1:
      return { kind: { $case: "intValue", value: chance(r, 0.6) ? r.int(12) : fuzzInt(r) } };
    case 2:
      return { kind: { $case: "stringValue", value: chance(r, 0.6) ? pick(r, ["a", "b", "c"]) : fuzzString(r) } };
    case 3:
      return { kind: { $case: "boolValue", value: chance(r, 0.5) } };
    case 4:
      return {
        kind: {
          $case: "lrScheduleValue",
          value: {
            kind: fuzzEnum(r, 10),
            values: chance(r, 0.5) ? { gamma: fuzzDouble(r), step_size: fuzzDouble(r), [fuzzString(r)]: fuzzDouble(r) } : {},
            milestones: Array.from({ length: r.int(4) }, () => fuzzInt(r)),
            mode: fuzzString(r, ["triangular", "min", "max"]),
            totalSteps: fuzzInt(r),
            warmupSteps: fuzzInt(r),
            warmupStartFactor: fuzzDouble(r),
          },
        },
      };
    default:
      return {};
  }
}

const PARAM_NAMES = ["x", "y", "n", "c", "lr", "p0", "p1", "p2", "sched"];

function fuzzParameter(r: Rng, name: string, parents: string[]): Parameter {
  const p: Parameter = { name, description: chance(r, 0.1) ? fuzzString(r) : "" };
  const k = r.int(10);
  if (k < 3) {
    const low = chance(r, 0.7) ? r.int(10) - 5 : fuzzDouble(r);
    const high = chance(r, 0.7) ? low + r.next() * 10 : fuzzDouble(r);
    p.domain = { $case: "floatDomain", value: { low, high, log: chance(r, 0.2), step: chance(r, 0.2) ? fuzzDouble(r) : undefined } };
  } else if (k < 6) {
    const low = chance(r, 0.7) ? r.int(10) : fuzzInt(r);
    const high = chance(r, 0.7) ? low + r.int(20) : fuzzInt(r);
    p.domain = { $case: "intDomain", value: { low, high, log: chance(r, 0.2), step: chance(r, 0.2) ? fuzzInt(r) : undefined } };
  } else if (k < 9) {
    const n = chance(r, 0.05) ? 5000 : r.int(6);
    const choices: ParameterValue[] = [];
    for (let i = 0; i < n; i++) choices.push(chance(r, 0.9) ? { kind: { $case: "stringValue", value: `v${i}` } } : fuzzParamValue(r, 1));
    p.domain = { $case: "categoricalDomain", value: { choices } };
  } else if (chance(r, 0.9)) {
    p.domain = {
      $case: "lrScheduleDomain",
      value: {
        options: Array.from({ length: r.int(4) }, () => ({
          kind: fuzzEnum(r, 10),
          hyperparameters: chance(r, 0.5) ? [fuzzParameter(r, pick(r, ["gamma", "step_size", "T_max", "eta_min", "bogus"]), [])] : [],
        })),
        totalSteps: chance(r, 0.7) ? 100 : fuzzInt(r),
        warmupSteps: chance(r, 0.2) ? { low: fuzzInt(r), high: fuzzInt(r), log: false } : undefined,
        warmupStartFactor: chance(r, 0.2) ? { low: fuzzDouble(r), high: fuzzDouble(r), log: false } : undefined,
      },
    };
  }
  if (parents.length > 0 && chance(r, 0.3)) {
    p.condition = { parent: chance(r, 0.9) ? pick(r, parents) : fuzzString(r), values: Array.from({ length: r.int(3) + (chance(r, 0.1) ? 0 : 1) }, () => fuzzParamValue(r, 1)) };
  }
  return p;
}

/** A chain of `depth` conditions: c0 -> c1 -> ... each active when the parent is "on". */
function conditionChain(depth: number): Parameter[] {
  const out: Parameter[] = [];
  for (let i = 0; i < depth; i++) {
    out.push({
      name: `c${i}`,
      description: "",
      domain: { $case: "categoricalDomain", value: { choices: [{ kind: { $case: "stringValue", value: "on" } }, { kind: { $case: "stringValue", value: "off" } }] } },
      condition: i === 0 ? undefined : { parent: `c${i - 1}`, values: [{ kind: { $case: "stringValue", value: "on" } }] },
    });
  }
  out.push({ name: "leaf", description: "", domain: { $case: "floatDomain", value: { low: 0, high: 1, log: false } }, condition: { parent: `c${depth - 1}`, values: [{ kind: { $case: "stringValue", value: "on" } }] } });
  return out;
}

const ALGORITHMS = ["random", "tpe", "tpe_multivariate", "grid", "quasi_random", "auto", "cmaes", "gp", "genetic", "nsga2", "evolution", "", "bogus", "RANDOM"];
const PRUNERS = ["none", "median", "percentile", "threshold", "patience", "asha", "hyperband", "curve", "", "bogus"];

const str = (v: string): ParameterValue => ({ kind: { $case: "stringValue", value: v } });

/** A parameter that is valid on its own (conditions only on earlier categorical parameters, on their choices). */
function validParameter(r: Rng, name: string, earlier: Parameter[]): Parameter {
  const p: Parameter = { name, description: "" };
  const k = r.int(4);
  if (k === 0) {
    const log = chance(r, 0.3);
    const low = log ? 10 ** -(1 + r.int(5)) : r.int(10) - 5;
    p.domain = { $case: "floatDomain", value: { low, high: low + 1 + r.int(10), log } };
  } else if (k === 1) {
    const low = 1 + r.int(5);
    p.domain = { $case: "intDomain", value: { low, high: low + r.int(20), log: chance(r, 0.2) } };
  } else {
    const n = 1 + r.int(4);
    p.domain = { $case: "categoricalDomain", value: { choices: Array.from({ length: n }, (_, i) => str(`v${i}`)) } };
  }
  const cats = earlier.filter((q) => q.domain?.$case === "categoricalDomain");
  if (cats.length > 0 && chance(r, 0.3)) p.condition = { parent: pick(r, cats).name, values: [str("v0")] };
  return p;
}

const VALID_ALGORITHMS = ["random", "random", "random", "tpe", "grid", "quasi_random", "auto", "tpe_independent", "cmaes", "gp", "genetic", "nsga2"];

/**
 * Mostly valid specs (so studies exist and the other RPCs have something to act on), each with a chance of one to
 * three wild fields (random and boundary values of any shape).
 */
function fuzzSpec(r: Rng): StudySpec {
  let params: Parameter[];
  const shape = r.int(12);
  if (shape === 0) params = conditionChain(chance(r, 0.5) ? 50 : 1 + r.int(60));
  else if (shape === 1) params = Array.from({ length: chance(r, 0.7) ? 300 : 2000 }, (_, i) => validParameter(r, `p${i}`, []));
  else if (shape === 2) params = [{ name: "c", description: "", domain: { $case: "categoricalDomain", value: { choices: Array.from({ length: 5000 }, (_, i) => str(`v${i}`)) } } }];
  else {
    params = [];
    const n = 1 + r.int(5);
    for (let i = 0; i < n; i++) params.push(validParameter(r, PARAM_NAMES[i], params));
  }
  let algorithm = pick(r, VALID_ALGORITHMS);
  // Model samplers on huge spaces only rarely: they are slow by design, not broken.
  if (params.length > 60 && !["random", "quasi_random", "grid"].includes(algorithm) && chance(r, 0.9)) algorithm = "random";
  const nObj = algorithm === "nsga2" ? 2 : 1 + (chance(r, 0.2) ? 1 : 0);
  const spec: StudySpec = {
    searchSpace: { parameters: params },
    objectives: Array.from({ length: nObj }, (_, i) => ({ name: `o${i}`, direction: 1 + r.int(2) })),
    constraints: chance(r, 0.85) ? [] : [{ name: "k0" }],
    algorithm: { name: algorithm, seed: r.int(1000), grid: undefined, quasiRandom: undefined },
    pruner: { name: pick(r, ["none", "none", "median", "patience", "asha"]), startupTrials: 0, warmupSteps: 0, intervalSteps: 0, percentile: 0, patience: 0, minResource: 0, maxResource: 0, reductionFactor: 0, brackets: 0, confidence: 0 },
    maxTrials: r.int(40),
    heartbeatTimeout: { seconds: 3600, nanos: 0 },
    maxStaleRetries: r.int(3),
  };
  if (chance(r, 0.5)) {
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) {
      switch (r.int(10)) {
        case 0:
          spec.searchSpace = chance(r, 0.2) ? undefined : { parameters: [...params.slice(0, 3), fuzzParameter(r, chance(r, 0.8) ? "w" : fuzzString(r, PARAM_NAMES), params.map((p) => p.name))] };
          break;
        case 1:
          spec.objectives = Array.from({ length: pick(r, [0, 1, 3, 20]) }, (_, j) => ({ name: chance(r, 0.7) ? `o${j}` : fuzzString(r), direction: fuzzEnum(r, 2) }));
          break;
        case 2:
          spec.constraints = Array.from({ length: r.int(3) }, () => ({ name: fuzzString(r) }));
          break;
        case 3:
          spec.algorithm = chance(r, 0.1)
            ? undefined
            : {
                name: pick(r, ALGORITHMS),
                seed: pick(r, [0, SAFE, 2 ** 32, I32, r.int(10)]),
                grid: chance(r, 0.5) ? { axes: [{ parameter: fuzzString(r, PARAM_NAMES), values: [fuzzParamValue(r, 1)], numPoints: fuzzInt32(r) }] } : undefined,
                quasiRandom: chance(r, 0.5) ? { sequence: fuzzString(r, ["sobol", "halton"]), unscrambled: chance(r, 0.5) } : undefined,
              };
          break;
        case 4:
          spec.pruner = chance(r, 0.1)
            ? undefined
            : {
                name: pick(r, PRUNERS),
                startupTrials: fuzzInt32(r),
                warmupSteps: fuzzInt(r),
                intervalSteps: fuzzInt(r),
                percentile: fuzzDouble(r),
                lower: chance(r, 0.5) ? fuzzDouble(r) : undefined,
                upper: chance(r, 0.5) ? fuzzDouble(r) : undefined,
                patience: fuzzInt32(r),
                minResource: fuzzInt(r),
                maxResource: fuzzInt(r),
                reductionFactor: fuzzDouble(r),
                brackets: fuzzInt32(r),
                wrapped: chance(r, 0.3) ? { name: pick(r, PRUNERS), startupTrials: 0, warmupSteps: 0, intervalSteps: 0, percentile: 0, patience: 0, minResource: 0, maxResource: 0, reductionFactor: 0, brackets: 0, confidence: 0 } : undefined,
                confidence: fuzzDouble(r),
              };
          break;
        case 5:
          spec.maxTrials = fuzzInt(r);
          break;
        case 6:
          spec.heartbeatTimeout = fuzzDuration(r);
          break;
        case 7:
          spec.maxStaleRetries = fuzzInt32(r);
          break;
        case 8:
          spec.searchSpace = { parameters: [...params, ...params.slice(0, 1)] }; // duplicate name
          break;
        default:
          spec.searchSpace = { parameters: [fuzzParameter(r, "lr", [])] };
      }
    }
  }
  return spec;
}

function fuzzMeasurement(r: Rng): Measurement {
  return {
    step: chance(r, 0.7) ? r.int(10) : chance(r, 0.5) ? fuzzInt(r) : undefined,
    values: Array.from({ length: chance(r, 0.8) ? 1 : r.int(4) }, () => (chance(r, 0.7) ? r.next() : fuzzDouble(r))),
    constraintValues: chance(r, 0.8) ? [] : Array.from({ length: r.int(2) }, () => fuzzDouble(r)),
    metrics: chance(r, 0.2) ? { [fuzzString(r, ["acc", "loss"])]: fuzzDouble(r) } : {},
    elapsed: chance(r, 0.7) ? undefined : fuzzDuration(r),
    reportTime: chance(r, 0.2) ? new Date(chance(r, 0.5) ? 0 : 8.64e15) : undefined,
  };
}

function fuzzParams(r: Rng): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  const n = r.int(5);
  for (let i = 0; i < n; i++) out[chance(r, 0.8) ? pick(r, PARAM_NAMES) : fuzzString(r)] = fuzzParamValue(r);
  return out;
}

function fuzzAttrs(r: Rng): Record<string, string> {
  if (chance(r, 0.7)) return {};
  return { [fuzzString(r)]: fuzzString(r) };
}

// ---------------------------------------------------------------- request generation

interface Encoded {
  bytes: Uint8Array;
  /** The request before byte mutations, as proto3 JSON (computed only when needed). */
  json: () => string;
}

interface Ctx {
  names: string[];
  tokens: string[];
  /** Parameters of the studies the fuzzer created, so some trials it enqueues or adds are valid. */
  spaces: Map<string, Parameter[]>;
  /** Trials Suggest handed out (study, id, worker), so Report and Heartbeat also reach live trials. */
  live: Array<{ study: string; id: number; worker: string }>;
}

/** Values inside each domain, conditions respected (a parameter whose parent does not match is left out). */
function validParams(r: Rng, space: Parameter[]): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  for (const p of space) {
    if (p.condition) {
      const parent = out[p.condition.parent];
      const match = parent && p.condition.values.some((v) => JSON.stringify(v) === JSON.stringify(parent));
      if (!match) continue;
    }
    const d = p.domain;
    if (!d) continue;
    if (d.$case === "floatDomain") out[p.name] = { kind: { $case: "numberValue", value: d.value.low + (d.value.high - d.value.low) * r.next() } };
    else if (d.$case === "intDomain") out[p.name] = { kind: { $case: "intValue", value: d.value.low + r.int(d.value.high - d.value.low + 1) } };
    else if (d.$case === "categoricalDomain" && d.value.choices.length) out[p.name] = pick(r, d.value.choices);
    else return out;
  }
  return out;
}

function enc<T>(fns: { encode(m: T): { finish(): Uint8Array }; toJSON(m: T): unknown; fromPartial(o: never): T }, partial: unknown): Encoded {
  const msg = fns.fromPartial(partial as never);
  const json = (): string => {
    try {
      return JSON.stringify(fns.toJSON(msg), (_k, v: unknown) => (typeof v === "string" && v.length > 200 ? `${v.slice(0, 40)}…(${v.length} chars)` : v));
    } catch (e) {
      return `<toJSON failed: ${(e as Error).message}>`;
    }
  };
  return { bytes: fns.encode(msg).finish(), json };
}

function generate(rpc: RpcName, r: Rng, ctx: Ctx): Encoded {
  const name = (): string => (chance(r, 0.75) ? pick(r, ctx.names) : fuzzString(r, ctx.names));
  const trialId = (): number => (chance(r, 0.7) ? r.int(15) : fuzzInt(r));
  const worker = (): string => (chance(r, 0.6) ? `w${r.int(4)}` : fuzzString(r));
  switch (rpc) {
    case "CreateStudy":
      return enc(CreateStudyRequest, {
        study: chance(r, 0.97)
          ? {
              name: chance(r, 0.8) ? pick(r, ctx.names) : fuzzString(r),
              namespace: chance(r, 0.8) ? "" : fuzzString(r),
              spec: chance(r, 0.97) ? fuzzSpec(r) : undefined,
              state: chance(r, 0.8) ? 0 : fuzzEnum(r, 4),
              labels: fuzzAttrs(r),
              resolvedAlgorithm: chance(r, 0.9) ? "" : fuzzString(r),
            }
          : undefined,
        loadIfExists: chance(r, 0.3),
      });
    case "GetStudy":
      return enc(GetStudyRequest, { name: name() });
    case "ListStudies":
      return enc(ListStudiesRequest, { pageSize: chance(r, 0.5) ? r.int(20) : fuzzInt32(r), pageToken: chance(r, 0.3) && ctx.tokens.length ? pick(r, ctx.tokens) : chance(r, 0.5) ? "" : fuzzString(r), namespace: chance(r, 0.7) ? "" : fuzzString(r) });
    case "UpdateStudy":
      return enc(UpdateStudyRequest, { name: name(), state: chance(r, 0.5) ? fuzzEnum(r, 4) : undefined, maxTrials: chance(r, 0.5) ? (chance(r, 0.6) ? r.int(50) : fuzzInt(r)) : undefined });
    case "DeleteStudy":
      return enc(DeleteStudyRequest, { name: chance(r, 0.5) ? pick(r, ctx.names) : fuzzString(r) });
    case "Suggest":
      return enc(SuggestRequest, { study: name(), count: chance(r, 0.7) ? r.int(4) : fuzzInt32(r), workerId: chance(r, 0.3) ? "" : worker() });
    case "Report": {
      const target = ctx.live.length && chance(r, 0.5) ? pick(r, ctx.live) : undefined;
      const step = chance(r, 0.6) ? r.int(8) : chance(r, 0.5) ? fuzzInt(r) : undefined;
      return enc(ReportRequest, {
        study: target ? target.study : name(),
        trialId: target ? target.id : trialId(),
        step,
        values: Array.from({ length: chance(r, 0.8) ? 1 : r.int(4) }, () => (chance(r, 0.6) ? r.next() : fuzzDouble(r))),
        constraintValues: chance(r, 0.8) ? [] : Array.from({ length: r.int(2) }, () => fuzzDouble(r)),
        metrics: chance(r, 0.2) ? { [fuzzString(r, ["acc"])]: fuzzDouble(r) } : {},
        elapsed: chance(r, 0.7) ? undefined : fuzzDuration(r),
        final: chance(r, 0.35),
        failed: chance(r, 0.05),
        failureReason: chance(r, 0.8) ? "" : fuzzString(r),
        workerId: target && chance(r, 0.7) ? target.worker : chance(r, 0.5) ? "" : worker(),
      });
    }
    case "Heartbeat": {
      const target = ctx.live.length && chance(r, 0.5) ? pick(r, ctx.live) : undefined;
      if (target) return enc(HeartbeatRequest, { study: target.study, trialId: target.id, workerId: chance(r, 0.7) ? target.worker : worker() });
      return enc(HeartbeatRequest, { study: name(), trialId: trialId(), workerId: chance(r, 0.4) ? "" : worker() });
    }
    case "GetTrial":
      return enc(GetTrialRequest, { study: name(), trialId: trialId() });
    case "ListTrials":
      return enc(ListTrialsRequest, {
        study: name(),
        pageSize: chance(r, 0.5) ? r.int(10) : fuzzInt32(r),
        pageToken: chance(r, 0.3) && ctx.tokens.length ? pick(r, ctx.tokens) : chance(r, 0.5) ? "" : fuzzString(r),
        states: Array.from({ length: r.int(3) }, () => fuzzEnum(r, 5)),
        omitIntermediate: chance(r, 0.5),
      });
    case "GetBestTrials":
      return enc(GetBestTrialsRequest, { study: name() });
    case "EnqueueTrial":
    {
      const study = name();
      const space = ctx.spaces.get(study);
      return enc(EnqueueTrialRequest, { study, params: space && chance(r, 0.7) ? validParams(r, space) : fuzzParams(r), userAttrs: fuzzAttrs(r) });
    }
    case "AddTrial":
    {
      const study = name();
      const space = ctx.spaces.get(study);
      return enc(AddTrialRequest, {
        study,
        params: space && chance(r, 0.7) ? validParams(r, space) : fuzzParams(r),
        state: chance(r, 0.5) ? 3 + r.int(3) : fuzzEnum(r, 5),
        intermediate: chance(r, 0.05)
          ? Array.from({ length: 2000 }, (_, i) => ({ step: chance(r, 0.01) ? 0 : i, values: [r.next()], constraintValues: [], metrics: {} }))
          : Array.from({ length: r.int(4) }, () => fuzzMeasurement(r)),
        finalMeasurement: chance(r, 0.8) ? fuzzMeasurement(r) : undefined,
        stateReason: chance(r, 0.8) ? "" : fuzzString(r),
        userAttrs: fuzzAttrs(r),
      });
    }
    case "WatchStudy":
      return enc(WatchStudyRequest, { study: name(), includeExisting: chance(r, 0.5) });
    case "Echo": {
      const n = chance(r, 0.1) ? 100 * 1024 : r.int(64);
      const payload = Buffer.alloc(n, r.int(256));
      for (let i = 0; i < Math.min(n, 64); i += 1) payload[i] = r.int(256);
      return enc(EchoRequest, { payload });
    }
  }
}

// ---------------------------------------------------------------- byte-level mutations

function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}

const tag = (field: number, wt: number): number[] => varint(BigInt((field << 3) | wt));

/** A field of the given number with a value of wire type `wt`. */
function fieldOf(r: Rng, field: number, wt: number): number[] {
  switch (wt) {
    case 0:
      return [...tag(field, 0), ...varint(pick(r, [0n, 1n, -1n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n, -(2n ** 63n)]))];
    case 1:
      return [...tag(field, 1), ...Array.from({ length: 8 }, () => r.int(256))];
    case 5:
      return [...tag(field, 5), ...Array.from({ length: 4 }, () => r.int(256))];
    case 2: {
      const body = Array.from({ length: r.int(12) }, () => r.int(256));
      return [...tag(field, 2), ...varint(BigInt(body.length)), ...body];
    }
    case 3:
      return [...tag(field, 3)]; // start group, never closed
    default:
      return [...tag(field, 4)]; // end group out of nowhere
  }
}

/** Top-level fields of a valid encoding: [start, end, fieldNumber, wireType]. */
function fields(b: Uint8Array): Array<[number, number, number, number]> {
  const out: Array<[number, number, number, number]> = [];
  let i = 0;
  const rv = (): bigint => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= b.length) throw new Error("eof");
      const c = b[i++];
      x |= BigInt(c & 0x7f) << shift;
      if (!(c & 0x80)) return x;
      shift += 7n;
    }
  };
  try {
    while (i < b.length) {
      const start = i;
      const t = Number(rv());
      const wt = t & 7;
      if (wt === 0) rv();
      else if (wt === 1) i += 8;
      else if (wt === 5) i += 4;
      else if (wt === 2) i += Number(rv());
      else break;
      out.push([start, i, t >>> 3, wt]);
    }
  } catch {
    /* malformed: what was parsed is enough */
  }
  return out;
}

const MUTATIONS = ["none", "none", "none", "none", "none", "none", "none", "none", "none", "wrongWireType", "repeatField", "appendBoth", "hugeVarint", "flip", "truncate", "garbage", "unknownField", "dropField"] as const;

function mutate(r: Rng, rpc: RpcName, ctx: Ctx, req: Encoded): { bytes: Uint8Array; mutation: string } {
  const m = pick(r, MUTATIONS);
  const b = Array.from(req.bytes);
  const fs = fields(req.bytes);
  const someField = (): number => (fs.length && chance(r, 0.8) ? pick(r, fs)[2] : 1 + r.int(12));
  switch (m) {
    case "none":
      return { bytes: req.bytes, mutation: m };
    case "wrongWireType": {
      const f = someField();
      const wt = pick(r, [0, 1, 2, 5, 3, 4]);
      if (fs.length && chance(r, 0.5)) {
        // Replace an existing field with one of another wire type.
        const [s, e, num, w] = pick(r, fs);
        const repl = fieldOf(r, num, w === wt ? (wt + 1) % 6 : wt);
        return { bytes: Uint8Array.from([...b.slice(0, s), ...repl, ...b.slice(e)]), mutation: `${m}(replace field ${num})` };
      }
      return { bytes: Uint8Array.from([...b, ...fieldOf(r, f, wt)]), mutation: `${m}(field ${f} wt ${wt})` };
    }
    case "repeatField": {
      // A second encoding of one field, from another generated request of the same RPC.
      let other: Encoded;
      try {
        other = generate(rpc, r, ctx);
      } catch {
        return { bytes: req.bytes, mutation: "none" };
      }
      const ofs = fields(other.bytes);
      if (!ofs.length) return { bytes: req.bytes, mutation: "none" };
      const [s, e, num] = pick(r, ofs);
      return { bytes: Buffer.concat([req.bytes, other.bytes.subarray(s, e)]), mutation: `${m}(field ${num})` };
    }
    case "appendBoth": {
      let other: Encoded;
      try {
        other = generate(rpc, r, ctx);
      } catch {
        return { bytes: req.bytes, mutation: "none" };
      }
      return { bytes: Buffer.concat([req.bytes, other.bytes]), mutation: m };
    }
    case "hugeVarint": {
      const f = someField();
      return { bytes: Uint8Array.from([...b, ...tag(f, 0), ...varint(pick(r, [2n ** 63n - 1n, 2n ** 64n - 1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 32n]))]), mutation: `${m}(field ${f})` };
    }
    case "flip": {
      if (!b.length) return { bytes: Uint8Array.from([r.int(256)]), mutation: m };
      const n = 1 + r.int(4);
      for (let i = 0; i < n; i++) b[r.int(b.length)] = r.int(256);
      return { bytes: Uint8Array.from(b), mutation: m };
    }
    case "truncate":
      return { bytes: Uint8Array.from(b.slice(0, b.length ? r.int(b.length) : 0)), mutation: m };
    case "garbage":
      return { bytes: Uint8Array.from(Array.from({ length: r.int(64) }, () => r.int(256))), mutation: m };
    case "unknownField": {
      const f = 100 + r.int(1000);
      return { bytes: Uint8Array.from([...b, ...fieldOf(r, f, pick(r, [0, 1, 2, 5]))]), mutation: `${m}(${f})` };
    }
    case "dropField": {
      if (!fs.length) return { bytes: req.bytes, mutation: "none" };
      const [s, e, num] = pick(r, fs);
      return { bytes: Uint8Array.from([...b.slice(0, s), ...b.slice(e)]), mutation: `${m}(field ${num})` };
    }
  }
}

// ---------------------------------------------------------------- the run

const identity = (x: Buffer): Buffer => x;
const MAX_REQUEST = 1024 * 1024;

function unary(client: grpc.Client, path: string, bytes: Uint8Array, deadlineMs: number): Promise<{ code: number; details: string; response?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ code: grpc.status.OK, details: "", response: res });
    });
  });
}

function stream(client: grpc.Client, path: string, bytes: Uint8Array, deadlineMs: number): Promise<{ code: number; details: string; response?: Buffer }> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, identity, identity, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + deadlineMs });
    let done = false;
    // A live stream is fine; cancel it after a short look.
    const timer = setTimeout(() => call.cancel(), 30);
    call.on("data", () => undefined);
    call.on("error", (e: grpc.ServiceError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code: e.code, details: e.code === grpc.status.CANCELLED ? "cancelled by the fuzzer" : e.details });
    });
    call.on("status", (s: grpc.StatusObject) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ code: s.code, details: s.details });
    });
  });
}

export function rawClient(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure(), {
    "grpc.max_send_message_length": -1,
    "grpc.max_receive_message_length": -1,
    "grpc.use_local_subchannel_pool": 1,
  });
}

/** grpc.health.v1.Health/Check for the whole server: true when SERVING. */
export async function healthServing(address: string): Promise<boolean> {
  const c = rawClient(address);
  try {
    const r = await unary(c, "/grpc.health.v1.Health/Check", new Uint8Array(), 5000);
    return r.code === grpc.status.OK && r.response !== undefined && r.response.length === 2 && r.response[0] === 0x08 && r.response[1] === 0x01;
  } finally {
    c.close();
  }
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const t0 = Date.now();
  const concurrency = opts.concurrency ?? 8;
  const deadlineMs = opts.deadlineMs ?? 20_000;
  const ctx: Ctx = { names: Array.from({ length: 24 }, (_, i) => `fz-${opts.seed}-${i}`), tokens: [], spaces: new Map(), live: [] };
  const protectedSet = new Set(opts.protectedNames);
  // A seeded interleaving of perRpc requests of every RPC.
  const schedule: RpcName[] = [];
  for (const rpc of RPCS) for (let i = 0; i < opts.perRpc; i++) schedule.push(rpc);
  const shuffle = createRng(opts.seed, 0xf022);
  for (let i = schedule.length - 1; i > 0; i--) {
    const j = shuffle.int(i + 1);
    [schedule[i], schedule[j]] = [schedule[j], schedule[i]];
  }
  const counts: Record<string, Record<string, number>> = Object.fromEntries(RPCS.map((r) => [r, {}]));
  const failures: FuzzFailure[] = [];
  const clients = Array.from({ length: concurrency }, () => rawClient(opts.address));
  let next = 0;
  let done = 0;
  const encodeErrors: string[] = [];
  const samples: Record<string, string> = {};
  const loop = async (slot: number): Promise<void> => {
    const client = clients[slot % clients.length];
    for (;;) {
      const index = next++;
      if (index >= schedule.length) return;
      const rpc = schedule[index];
      const r = createRng(opts.seed, index);
      let req: Encoded;
      try {
        req = generate(rpc, r, ctx);
      } catch (e) {
        // The generated encoder refused the value (e.g. a NaN int64): count it as a client-side rejection.
        const c = counts[rpc];
        c["CLIENT_ENCODE_ERROR"] = (c["CLIENT_ENCODE_ERROR"] ?? 0) + 1;
        if (encodeErrors.length < 20) encodeErrors.push(`${rpc}: ${(e as Error).message}`);
        done++;
        continue;
      }
      const mutated = mutate(r, rpc, ctx, req);
      const mutation = mutated.mutation;
      // Stay well under the daemon's 4 MiB message limit (the point is what the handlers do with the bytes; grpc-js refuses
      // streams with UNAVAILABLE once a connection buffers ~10 MB of large requests).
      const bytes = mutated.bytes.length > MAX_REQUEST ? mutated.bytes.subarray(0, MAX_REQUEST) : mutated.bytes;
      // Never address a bystander (a byte mutation could only make that less likely, never more, but check anyway).
      const text = Buffer.from(bytes).toString("latin1");
      if ([...protectedSet].some((n) => text.includes(n))) {
        const c = counts[rpc];
        c["SKIPPED_PROTECTED"] = (c["SKIPPED_PROTECTED"] ?? 0) + 1;
        done++;
        continue;
      }
      const res = rpc === "WatchStudy" ? await stream(client, PATH[rpc], bytes, deadlineMs) : await unary(client, PATH[rpc], bytes, deadlineMs);
      const codeName = CODE_NAMES[res.code] ?? String(res.code);
      counts[rpc][codeName] = (counts[rpc][codeName] ?? 0) + 1;
      const sampleKey = `${rpc} ${codeName}`;
      if (!(sampleKey in samples)) samples[sampleKey] = `#${index} ${mutation}: ${res.details.slice(0, 300)}`;
      if (res.code === grpc.status.INTERNAL || res.code === grpc.status.UNKNOWN) {
        failures.push({ rpc, index, code: codeName, details: res.details, mutation, requestHex: Buffer.from(bytes).toString("hex").slice(0, 4000), requestJson: req.json().slice(0, 4000) });
      }
      if (res.code === grpc.status.OK && res.response) {
        try {
          if (rpc === "Suggest") {
            const sr = SuggestResponse.decode(res.response);
            for (const t of sr.trials) {
              ctx.live.push({ study: t.study, id: t.id, worker: t.workerId });
              if (ctx.live.length > 300) ctx.live.shift();
            }
          } else if (rpc === "CreateStudy") {
            const st = CreateStudyResponse.decode(res.response).study;
            if (st?.spec?.searchSpace) ctx.spaces.set(st.name, st.spec.searchSpace.parameters);
          } else if (rpc === "ListTrials") {
            const t = ListTrialsResponse.decode(res.response).nextPageToken;
            if (t && ctx.tokens.length < 200) ctx.tokens.push(t);
          } else if (rpc === "ListStudies") {
            const t = ListStudiesResponse.decode(res.response).nextPageToken;
            if (t && ctx.tokens.length < 200) ctx.tokens.push(t);
          }
        } catch {
          /* not ours to judge here */
        }
      }
      done++;
      if (opts.progress && done % 2000 === 0) opts.progress(done, schedule.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  clients.forEach((c) => c.close());
  return { counts, failures, requests: schedule.length, seconds: (Date.now() - t0) / 1000, encodeErrors, samples };
}

/** The per-RPC table of status codes. */
export function formatCounts(res: FuzzResult): string {
  const codes = new Set<string>();
  for (const c of Object.values(res.counts)) for (const k of Object.keys(c)) codes.add(k);
  const cols = [...codes].sort();
  const w = Math.max(...cols.map((c) => c.length), 7);
  const lines = [["rpc".padEnd(14), ...cols.map((c) => c.padStart(w))].join(" ")];
  for (const [rpc, c] of Object.entries(res.counts)) lines.push([rpc.padEnd(14), ...cols.map((k) => String(c[k] ?? 0).padStart(w))].join(" "));
  return lines.join("\n");
}

/** Request `index` of a run with `seed` (for reproducing a failure, and for timing the generator alone). */
export function requestAt(rpc: RpcName, seed: number, index: number, names: string[] = [`fz-${seed}-0`]): { bytes: Uint8Array; mutation: string; json: string } {
  const r = createRng(seed, index);
  const ctx: Ctx = { names, tokens: [], spaces: new Map(), live: [] };
  const req = generate(rpc, r, ctx);
  return { ...mutate(r, rpc, ctx, req), json: req.json() };
}
