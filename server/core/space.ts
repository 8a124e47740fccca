/**
 * Search-space model shared by the daemon, the SDK and the runner: parameter
 * domains, conditions, validation of spaces and of concrete parameter values,
 * and the flat view samplers work on.
 *
 * A learning-rate-schedule parameter is flattened into a categorical `kind`
 * dimension and conditional children (one per hyperparameter of each kind), so
 * every sampler searches schedules as an ordinary conditional sub-space and
 * `assemble` turns the flat values back into a schedule.
 */
import { invalid } from "./errors.js";
import {
  completeLrSchedule,
  lrScheduleProblem,
  decodeChoice,
  encodeChoice,
  hpRuleOf,
  validateLrOptionRules,
  validateWarmupDomains,
} from "./lr-schedule-spec.js";

export const LR_KINDS = [
  "constant",
  "step",
  "multi_step",
  "exponential",
  "cosine_annealing",
  "cosine_annealing_warm_restarts",
  "one_cycle",
  "cyclic",
  "polynomial",
  "reduce_on_plateau",
] as const;
export type LrKind = (typeof LR_KINDS)[number];

export interface LrScheduleValue {
  kind: LrKind;
  /** Scalar hyperparameters by PyTorch name. */
  values: Record<string, number>;
  milestones: number[];
  mode: string;
  totalSteps: number;
  warmupSteps: number;
  warmupStartFactor: number;
}

export type ScalarValue = number | string | boolean;
export type ParamValue = ScalarValue | LrScheduleValue;
export type Params = Record<string, ParamValue>;
/** Values keyed by flat dimension name (schedules split into their parts). */
export type FlatParams = Record<string, ScalarValue>;

/** How a scalar travels on the wire: proto number_value, int_value, string_value or bool_value. */
export type ValueKind = "number" | "int" | "string" | "bool";

export interface FloatDomain {
  type: "float";
  low: number;
  high: number;
  log: boolean;
  step?: number;
}
export interface IntDomain {
  type: "int";
  low: number;
  high: number;
  log: boolean;
  step: number;
}
export interface CategoricalDomain {
  type: "categorical";
  valueKind: ValueKind;
  choices: ScalarValue[];
}
export interface LrScheduleOption {
  kind: LrKind;
  hyperparameters: ParameterDef[];
}
export interface LrScheduleDomain {
  type: "lr_schedule";
  options: LrScheduleOption[];
  totalSteps: number;
  warmupSteps?: IntDomain;
  warmupStartFactor?: FloatDomain;
}
export type ScalarDomain = FloatDomain | IntDomain | CategoricalDomain;
export type Domain = ScalarDomain | LrScheduleDomain;

export interface Condition {
  parent: string;
  values: ScalarValue[];
}
export interface ParameterDef {
  name: string;
  domain: Domain;
  condition?: Condition;
  description?: string;
}
export interface SearchSpaceDef {
  parameters: ParameterDef[];
}

/** One dimension of the flat space samplers see. */
export interface Dim {
  name: string;
  domain: ScalarDomain;
  condition?: Condition;
  /** Position in `dims`; parents always come before their children. */
  index: number;
  /** The user-level parameter this dimension belongs to. */
  owner: string;
}

export const MAX_PARAMETERS = 512;
export const MAX_CHOICES = 10_000;
export const MAX_NAME_LENGTH = 128;
export const MAX_STRING_VALUE_LENGTH = 1024;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const REL_TOL = 1e-9;

export function checkName(name: string, field: string): void {
  if (name.length === 0) throw invalid(field, "must not be empty");
  if (name.length > MAX_NAME_LENGTH) throw invalid(field, `longer than ${MAX_NAME_LENGTH} characters`);
  if (!NAME_RE.test(name)) {
    throw invalid(field, `"${name}" must start with a letter or '_' and hold only letters, digits, '_', '.', '-'`);
  }
}

/** Number of values of a stepped float domain, or undefined when continuous. */
export function floatGridSize(d: FloatDomain): number | undefined {
  if (d.step === undefined) return undefined;
  return Math.floor((d.high - d.low) / d.step + REL_TOL) + 1;
}

export function intGridSize(d: IntDomain): number {
  return Math.floor((d.high - d.low) / d.step) + 1;
}

function nearlyInteger(x: number): boolean {
  return Math.abs(x - Math.round(x)) <= REL_TOL * Math.max(1, Math.abs(x));
}

function validateScalarDomain(d: ScalarDomain, field: string): void {
  switch (d.type) {
    case "float": {
      if (!Number.isFinite(d.low)) throw invalid(`${field}.low`, "must be finite");
      if (!Number.isFinite(d.high)) throw invalid(`${field}.high`, "must be finite");
      if (d.low > d.high) throw invalid(`${field}.low`, `low (${d.low}) is greater than high (${d.high})`);
      if (d.log && d.low <= 0) throw invalid(`${field}.low`, `must be > 0 with log (got ${d.low})`);
      if (d.step !== undefined) {
        if (!(Number.isFinite(d.step) && d.step > 0)) throw invalid(`${field}.step`, "must be a finite number > 0");
        if (d.log) throw invalid(`${field}.step`, "cannot be combined with log");
        if (d.high > d.low && !nearlyInteger((d.high - d.low) / d.step)) {
          throw invalid(`${field}.step`, `high - low (${d.high - d.low}) is not a multiple of step (${d.step})`);
        }
      }
      return;
    }
    case "int": {
      if (!Number.isSafeInteger(d.low)) throw invalid(`${field}.low`, "must be a safe integer");
      if (!Number.isSafeInteger(d.high)) throw invalid(`${field}.high`, "must be a safe integer");
      if (d.low > d.high) throw invalid(`${field}.low`, `low (${d.low}) is greater than high (${d.high})`);
      if (d.log && d.low < 1) throw invalid(`${field}.low`, `must be >= 1 with log (got ${d.low})`);
      if (!Number.isSafeInteger(d.step) || d.step < 1) throw invalid(`${field}.step`, "must be an integer >= 1");
      if (d.log && d.step !== 1) throw invalid(`${field}.step`, "cannot be combined with log");
      if ((d.high - d.low) % d.step !== 0) {
        throw invalid(`${field}.step`, `high - low (${d.high - d.low}) is not a multiple of step (${d.step})`);
      }
      return;
    }
    case "categorical": {
      if (d.choices.length === 0) throw invalid(`${field}.choices`, "must hold at least one choice");
      if (d.choices.length > MAX_CHOICES) throw invalid(`${field}.choices`, `more than ${MAX_CHOICES} choices`);
      const seen = new Set<ScalarValue>();
      d.choices.forEach((c, i) => {
        const f = `${field}.choices[${i}]`;
        checkScalarKind(c, d.valueKind, f);
        if (seen.has(c)) throw invalid(f, `duplicate choice ${JSON.stringify(c)}`);
        seen.add(c);
      });
      return;
    }
  }
}

function checkScalarKind(v: ScalarValue, kind: ValueKind, field: string): void {
  switch (kind) {
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(field, "must be a finite number");
      return;
    case "int":
      if (typeof v !== "number" || !Number.isSafeInteger(v)) throw invalid(field, "must be an integer");
      return;
    case "string":
      if (typeof v !== "string") throw invalid(field, "must be a string");
      if (v.length > MAX_STRING_VALUE_LENGTH) throw invalid(field, `longer than ${MAX_STRING_VALUE_LENGTH} characters`);
      return;
    case "bool":
      if (typeof v !== "boolean") throw invalid(field, "must be a bool");
      return;
  }
}

/** Whether `v` is a legal value of the scalar domain (type, range, step). */
export function scalarInDomain(v: ScalarValue, d: ScalarDomain): boolean {
  switch (d.type) {
    case "float": {
      if (typeof v !== "number" || !Number.isFinite(v)) return false;
      const tol = REL_TOL * Math.max(1, Math.abs(d.low), Math.abs(d.high));
      if (v < d.low - tol || v > d.high + tol) return false;
      return d.step === undefined || nearlyInteger((v - d.low) / d.step);
    }
    case "int":
      return (
        typeof v === "number" && Number.isSafeInteger(v) && v >= d.low && v <= d.high && (v - d.low) % d.step === 0
      );
    case "categorical":
      return d.choices.some((c) => c === v);
  }
}

function describeDomain(d: ScalarDomain): string {
  switch (d.type) {
    case "float":
      return `a number in [${d.low}, ${d.high}]${d.step !== undefined ? ` on step ${d.step}` : ""}`;
    case "int":
      return `an integer in [${d.low}, ${d.high}]${d.step !== 1 ? ` on step ${d.step}` : ""}`;
    case "categorical":
      return `one of ${JSON.stringify(d.choices.slice(0, 10))}${d.choices.length > 10 ? "..." : ""}`;
  }
}

export function isLrSchedule(v: ParamValue): v is LrScheduleValue {
  return typeof v === "object" && v !== null;
}

const SEP = "/";

/**
 * A validated space with its flat dimensions. Build with `compileSpace`.
 */
export class CompiledSpace {
  readonly def: SearchSpaceDef;
  readonly dims: readonly Dim[];
  private readonly byName: Map<string, Dim>;
  private readonly paramByName: Map<string, ParameterDef>;

  constructor(def: SearchSpaceDef, dims: Dim[]) {
    this.def = def;
    this.dims = dims;
    this.byName = new Map(dims.map((d) => [d.name, d]));
    this.paramByName = new Map(def.parameters.map((p) => [p.name, p]));
  }

  dim(name: string): Dim | undefined {
    return this.byName.get(name);
  }

  parameter(name: string): ParameterDef | undefined {
    return this.paramByName.get(name);
  }

  /** Whether a dimension is active given the (parents-first) values chosen so far. */
  isActive(dim: Dim, flat: FlatParams): boolean {
    let d: Dim | undefined = dim;
    while (d?.condition) {
      const c: Condition = d.condition;
      const pv = flat[c.parent];
      if (pv === undefined || !c.values.includes(pv)) return false;
      d = this.byName.get(c.parent);
    }
    return true;
  }

  /** Turn flat dimension values into user parameters (schedules assembled). */
  assemble(flat: FlatParams): Params {
    const out: Params = {};
    for (const p of this.def.parameters) {
      if (p.domain.type !== "lr_schedule") {
        const v = flat[p.name];
        if (v !== undefined) out[p.name] = v;
        continue;
      }
      const kind = flat[p.name + SEP + "kind"];
      if (typeof kind !== "string") continue;
      const option = p.domain.options.find((o) => o.kind === kind);
      if (!option) continue;
      const sched: LrScheduleValue = {
        kind: option.kind,
        values: {},
        milestones: [],
        mode: "",
        totalSteps: p.domain.totalSteps,
        warmupSteps: 0,
        warmupStartFactor: 0,
      };
      for (const hp of option.hyperparameters) {
        const v = flat[p.name + SEP + kind + SEP + hp.name];
        if (v === undefined) continue;
        // Where each value travels is the kind's rule (lr-schedule-spec.ts).
        const rule = hpRuleOf(option.kind, hp.name);
        if (rule?.slot === "milestones" || (!rule && hp.name.startsWith("milestone"))) sched.milestones.push(Number(v));
        else if (typeof v === "string") {
          const i = rule && rule.slot === "values" ? encodeChoice(rule, v) : undefined;
          if (i !== undefined) sched.values[hp.name] = i;
          else sched.mode = v;
        } else sched.values[hp.name] = Number(v);
      }
      sched.milestones.sort((a, b) => a - b);
      const ws = flat[p.name + SEP + "warmup_steps"];
      if (typeof ws === "number") sched.warmupSteps = ws;
      const wf = flat[p.name + SEP + "warmup_start_factor"];
      if (typeof wf === "number") sched.warmupStartFactor = wf;
      // Suggest returns a complete schedule: omitted hyperparameters take their defaults.
      out[p.name] = completeLrSchedule(sched);
    }
    return out;
  }

  /** The inverse of `assemble`, for parameters given by users (enqueue, add). */
  flatten(params: Params): FlatParams {
    const flat: FlatParams = {};
    for (const [name, v] of Object.entries(params)) {
      if (!isLrSchedule(v)) {
        flat[name] = v;
        continue;
      }
      flat[name + SEP + "kind"] = v.kind;
      const p = this.paramByName.get(name);
      const option = p && p.domain.type === "lr_schedule" ? p.domain.options.find((o) => o.kind === v.kind) : undefined;
      let m = 0;
      for (const hp of option?.hyperparameters ?? []) {
        const key = name + SEP + v.kind + SEP + hp.name;
        const rule = hpRuleOf(v.kind, hp.name);
        const x = v.values[hp.name];
        if (rule?.slot === "milestones" || (!rule && hp.name.startsWith("milestone"))) {
          const ms = v.milestones[m++];
          if (ms !== undefined) flat[key] = ms;
        } else if (rule?.slot === "mode" || (!rule && hp.domain.type === "categorical" && hp.domain.valueKind === "string")) {
          flat[key] = v.mode;
        } else if (x !== undefined) {
          if (rule?.type === "string") {
            const s = decodeChoice(rule, x);
            if (s !== undefined) flat[key] = s;
          } else if (hp.domain.type === "categorical" && hp.domain.valueKind === "bool") flat[key] = x !== 0;
          else flat[key] = x;
        }
      }
      if (p && p.domain.type === "lr_schedule") {
        if (p.domain.warmupSteps) flat[name + SEP + "warmup_steps"] = v.warmupSteps;
        if (p.domain.warmupStartFactor) flat[name + SEP + "warmup_start_factor"] = v.warmupStartFactor;
      }
    }
    return flat;
  }

  /**
   * User-given parameters made ready to store: validated (see
   * `validateParams`), with every schedule completed with the defaults of its
   * kind (as sampled schedules are) and checked against the kind's rules.
   */
  normalizeParams(params: Params, field: string): Params {
    this.validateParams(params, field);
    const out: Params = {};
    for (const [name, v] of Object.entries(params)) {
      if (!isLrSchedule(v)) {
        out[name] = v;
        continue;
      }
      const done = completeLrSchedule(v);
      const problem = lrScheduleProblem(done);
      if (problem) throw invalid(`${field}["${name}"].${problem.field}`, problem.message);
      out[name] = done;
    }
    return out;
  }

  /**
   * Check user-given parameters (EnqueueTrial, AddTrial): every active
   * parameter present with a legal value, no unknown or inactive ones.
   */
  validateParams(params: Params, field: string): void {
    for (const name of Object.keys(params)) {
      if (!this.paramByName.has(name)) throw invalid(`${field}["${name}"]`, "is not a parameter of the study");
    }
    for (const p of this.def.parameters) {
      const v = params[p.name];
      if (p.domain.type === "lr_schedule") {
        if (v !== undefined && !isLrSchedule(v)) throw invalid(`${field}["${p.name}"]`, "must be an lr_schedule_value");
        if (v !== undefined && !p.domain.options.some((o) => o.kind === v.kind)) {
          throw invalid(`${field}["${p.name}"].kind`, `kind ${v.kind} is not allowed by the study`);
        }
      } else if (v !== undefined && isLrSchedule(v)) {
        throw invalid(`${field}["${p.name}"]`, "an lr_schedule_value is only valid for an lr_schedule parameter");
      }
    }
    const flat = this.flatten(params);
    for (const dim of this.dims) {
      const active = this.isActive(dim, flat);
      const v = flat[dim.name];
      const f = `${field}["${dim.name}"]`;
      if (!active) {
        // A schedule's own activity is that of its kind dimension.
        const top = dim.owner === dim.name || dim.name === dim.owner + SEP + "kind";
        if (v !== undefined && top) throw invalid(`${field}["${dim.owner}"]`, "is set but inactive under its condition");
        continue;
      }
      if (v === undefined) throw invalid(f, "is missing (it is active)");
      if (!scalarInDomain(v, dim.domain)) throw invalid(f, `${JSON.stringify(v)} is not ${describeDomain(dim.domain)}`);
    }
  }

  /** A canonical string of parameter values, for de-duplication. */
  static key(flat: FlatParams): string {
    return JSON.stringify(
      Object.keys(flat)
        .sort()
        .map((k) => [k, flat[k]]),
    );
  }
}

/** Validate a space definition and build its flat dimensions. */
export function compileSpace(def: SearchSpaceDef, field = "search_space"): CompiledSpace {
  if (def.parameters.length > MAX_PARAMETERS) {
    throw invalid(`${field}.parameters`, `more than ${MAX_PARAMETERS} parameters`);
  }
  const dims: Dim[] = [];
  const declared = new Map<string, ParameterDef>();
  const push = (d: Omit<Dim, "index">): void => {
    dims.push({ ...d, index: dims.length });
  };
  def.parameters.forEach((p, i) => {
    const f = `${field}.parameters[${i}]`;
    checkName(p.name, `${f}.name`);
    if (declared.has(p.name)) throw invalid(`${f}.name`, `duplicate parameter name "${p.name}"`);
    if (p.condition) validateCondition(p.condition, declared, `${f}.condition`);
    if (p.domain.type === "lr_schedule") {
      validateLrDomain(p.domain, `${f}.lr_schedule_domain`);
      const kindDim: Omit<Dim, "index"> = {
        name: p.name + SEP + "kind",
        domain: { type: "categorical", valueKind: "string", choices: p.domain.options.map((o) => o.kind) },
        owner: p.name,
      };
      if (p.condition) kindDim.condition = p.condition;
      push(kindDim);
      // Warm-up is independent of the kind but active only with the schedule itself.
      const anyKind: Condition = { parent: kindDim.name, values: p.domain.options.map((o) => o.kind) };
      if (p.domain.warmupSteps) {
        push({ name: p.name + SEP + "warmup_steps", domain: p.domain.warmupSteps, condition: anyKind, owner: p.name });
      }
      if (p.domain.warmupStartFactor) {
        push({ name: p.name + SEP + "warmup_start_factor", domain: p.domain.warmupStartFactor, condition: anyKind, owner: p.name });
      }
      for (const o of p.domain.options) {
        for (const hp of o.hyperparameters) {
          push({
            name: p.name + SEP + o.kind + SEP + hp.name,
            domain: hp.domain as ScalarDomain,
            condition: { parent: kindDim.name, values: [o.kind] },
            owner: p.name,
          });
        }
      }
    } else {
      validateScalarDomain(p.domain, `${f}.${p.domain.type}_domain`);
      const d: Omit<Dim, "index"> = { name: p.name, domain: p.domain, owner: p.name };
      if (p.condition) d.condition = p.condition;
      push(d);
    }
    declared.set(p.name, p);
  });
  return new CompiledSpace(def, dims);
}

function validateCondition(c: Condition, declared: Map<string, ParameterDef>, field: string): void {
  if (c.parent === "") throw invalid(`${field}.parent`, "must name a parameter declared before this one");
  const parent = declared.get(c.parent);
  if (!parent) throw invalid(`${field}.parent`, `unknown parent "${c.parent}" (it must be declared before its children)`);
  if (parent.domain.type !== "categorical" && parent.domain.type !== "int") {
    throw invalid(`${field}.parent`, `parent "${c.parent}" must be categorical or int, not ${parent.domain.type}`);
  }
  if (c.values.length === 0) throw invalid(`${field}.values`, "must hold at least one parent value");
  const pd = parent.domain;
  c.values.forEach((v, i) => {
    if (!scalarInDomain(v, pd)) throw invalid(`${field}.values[${i}]`, `${JSON.stringify(v)} is not a value of "${c.parent}"`);
  });
}

function validateLrDomain(d: LrScheduleDomain, field: string): void {
  if (d.options.length === 0) throw invalid(`${field}.options`, "must allow at least one schedule kind");
  if (!Number.isSafeInteger(d.totalSteps) || d.totalSteps < 1) throw invalid(`${field}.total_steps`, "must be an integer >= 1");
  const kinds = new Set<LrKind>();
  d.options.forEach((o, i) => {
    const f = `${field}.options[${i}]`;
    if (kinds.has(o.kind)) throw invalid(`${f}.kind`, `duplicate kind ${o.kind}`);
    kinds.add(o.kind);
    const names = new Set<string>();
    o.hyperparameters.forEach((hp, j) => {
      const hf = `${f}.hyperparameters[${j}]`;
      checkName(hp.name, `${hf}.name`);
      if (names.has(hp.name)) throw invalid(`${hf}.name`, `duplicate hyperparameter "${hp.name}"`);
      names.add(hp.name);
      if (hp.condition) throw invalid(`${hf}.condition`, "schedule hyperparameters cannot be conditional");
      if (hp.domain.type === "lr_schedule") throw invalid(`${hf}`, "a schedule hyperparameter must be float, int or categorical");
      validateScalarDomain(hp.domain, `${hf}.${hp.domain.type}_domain`);
    });
  });
  if (d.warmupSteps) validateScalarDomain(d.warmupSteps, `${field}.warmup_steps`);
  if (d.warmupStartFactor) validateScalarDomain(d.warmupStartFactor, `${field}.warmup_start_factor`);
  // Per-kind rules (lr-schedule-spec.ts): known names, types, legal ranges, required ones.
  validateWarmupDomains(d.warmupSteps, d.warmupStartFactor, field, d.totalSteps);
  const ctx = { totalSteps: d.totalSteps, maxWarmupSteps: d.warmupSteps ? d.warmupSteps.high : 0 };
  d.options.forEach((o, i) => validateLrOptionRules(o, `${field}.options[${i}]`, ctx));
}
