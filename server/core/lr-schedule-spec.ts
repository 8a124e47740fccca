/**
 * Per-kind rules of learning-rate schedules: which hyperparameters each kind
 * takes (named as in torch.optim.lr_scheduler), their types, legal ranges and
 * defaults, and where each one travels in a concrete `LrSchedule`.
 *
 * Used in three places:
 *  - CreateStudy (space.ts validateLrDomain -> validateLrOptionRules): every
 *    declared hyperparameter must be known to its kind and its whole domain
 *    legal; required ones must be declared.
 *  - Suggest (space.ts assemble -> completeLrSchedule): omitted
 *    hyperparameters are filled with their defaults, so a worker always gets a
 *    complete, concrete schedule.
 *  - lrAt / createScheduler (lr-schedule.ts, SDK and runner):
 *    completeLrSchedule + lrScheduleProblem on the concrete value.
 *
 * Encoding in `LrSchedule` (the proto cannot change): numeric
 * hyperparameters go to `values`; the kind's main string hyperparameter
 * (cyclic `mode`, one_cycle `anneal_strategy`, reduce_on_plateau `mode`) goes
 * to `mode`; any other string hyperparameter (reduce_on_plateau
 * `threshold_mode`) goes to `values` as the index of its choice (rel = 0,
 * abs = 1); a bool (one_cycle `three_phase`) goes to `values` as 0 or 1;
 * `milestone_<i>` hyperparameters go, sorted, to `milestones`.
 */
import { invalid } from "./errors.js";
import type { Domain, LrKind, LrScheduleOption, LrScheduleValue } from "./space.js";

export type HpType = "float" | "int" | "string" | "bool";

export interface Bound {
  value: number;
  inclusive: boolean;
}

/** How an omitted hyperparameter is filled. */
export type HpDefault =
  | { kind: "value"; value: number | string }
  /** The main schedule's horizon: total_steps - warmup_steps. */
  | { kind: "horizon" }
  /** The value of another hyperparameter of the kind (declared before it). */
  | { kind: "same_as"; name: string };

export interface HpRule {
  name: string;
  type: HpType;
  min?: Bound;
  max?: Bound;
  /** Legal strings of a "string" rule. */
  choices?: readonly string[];
  /** Absent: the hyperparameter is required. */
  default?: HpDefault;
  /** Where the value travels in an LrSchedule. */
  slot: "values" | "mode" | "milestones";
  /** PyTorch's own default, where hpod's differs (documentation). */
  torchDefault?: string;
  doc: string;
}

export interface KindSpec {
  kind: LrKind;
  /** The PyTorch class the formulas follow. */
  torch: string;
  hyperparameters: readonly HpRule[];
  /** multi_step: takes milestone_<i> hyperparameters (at least one). */
  milestones: boolean;
  /**
   * The learning rate the schedule starts from (and a warm-up ramps to):
   * the optimiser's lr passed by the caller, or one the kind defines itself.
   */
  baseLr: "optimizer" | "base_lr" | "max_lr / div_factor";
  /** Needs the metric at every step (reduce_on_plateau): no lrAt. */
  stateful: boolean;
}

const incl = (value: number): Bound => ({ value, inclusive: true });
const excl = (value: number): Bound => ({ value, inclusive: false });
const val = (value: number | string): HpDefault => ({ kind: "value", value });
const HORIZON: HpDefault = { kind: "horizon" };

/** LinearLR's default start_factor, used when warm-up steps are set without a factor. */
export const DEFAULT_WARMUP_START_FACTOR = 1 / 3;
export const MAX_MILESTONES = 100;
/** milestone_0, milestone_1, ... (milestone0, milestone1 are accepted too). */
export const MILESTONE_RE = /^milestone_?(\d{1,4})$/;

const MILESTONE_RULE: HpRule = {
  name: "milestone_<i>",
  type: "int",
  min: incl(1),
  slot: "milestones",
  doc: "a step at which the lr is multiplied by gamma (MultiStepLR milestones)",
};

const GAMMA_DECAY = (def?: number): HpRule => ({
  name: "gamma",
  type: "float",
  min: excl(0),
  max: incl(1),
  ...(def !== undefined ? { default: val(def) } : {}),
  slot: "values",
  doc: "multiplicative decay factor",
});
const ETA_MIN: HpRule = { name: "eta_min", type: "float", min: incl(0), default: val(0), slot: "values", doc: "minimum learning rate" };

export const LR_KIND_SPECS: Readonly<Record<LrKind, KindSpec>> = {
  constant: {
    kind: "constant",
    torch: "ConstantLR",
    milestones: false,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [
      {
        name: "factor",
        type: "float",
        min: excl(0),
        max: incl(1),
        default: val(1),
        slot: "values",
        torchDefault: "1/3",
        doc: "the lr is base_lr * factor until total_iters, then base_lr (factor 1: a constant lr)",
      },
      { name: "total_iters", type: "int", min: incl(1), default: val(5), slot: "values", doc: "steps at the reduced factor" },
    ],
  },
  step: {
    kind: "step",
    torch: "StepLR",
    milestones: false,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [
      { name: "step_size", type: "int", min: incl(1), slot: "values", doc: "period of the decay in steps" },
      GAMMA_DECAY(0.1),
    ],
  },
  multi_step: {
    kind: "multi_step",
    torch: "MultiStepLR",
    milestones: true,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [GAMMA_DECAY(0.1)],
  },
  exponential: {
    kind: "exponential",
    torch: "ExponentialLR",
    milestones: false,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [GAMMA_DECAY()],
  },
  cosine_annealing: {
    kind: "cosine_annealing",
    torch: "CosineAnnealingLR",
    milestones: false,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [
      {
        name: "T_max",
        type: "int",
        min: incl(1),
        default: HORIZON,
        slot: "values",
        torchDefault: "none (required)",
        doc: "half period in steps",
      },
      ETA_MIN,
    ],
  },
  cosine_annealing_warm_restarts: {
    kind: "cosine_annealing_warm_restarts",
    torch: "CosineAnnealingWarmRestarts",
    milestones: false,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [
      { name: "T_0", type: "int", min: incl(1), slot: "values", doc: "steps until the first restart" },
      { name: "T_mult", type: "int", min: incl(1), default: val(1), slot: "values", doc: "growth factor of the period after a restart" },
      ETA_MIN,
    ],
  },
  one_cycle: {
    kind: "one_cycle",
    torch: "OneCycleLR",
    milestones: false,
    baseLr: "max_lr / div_factor",
    stateful: false,
    hyperparameters: [
      { name: "max_lr", type: "float", min: excl(0), slot: "values", doc: "peak learning rate" },
      {
        name: "total_steps",
        type: "int",
        min: incl(1),
        default: HORIZON,
        slot: "values",
        torchDefault: "none (required)",
        doc: "length of the cycle in steps",
      },
      { name: "pct_start", type: "float", min: excl(0), max: excl(1), default: val(0.3), slot: "values", doc: "fraction of the cycle spent increasing the lr" },
      {
        name: "anneal_strategy",
        type: "string",
        choices: ["cos", "linear"],
        default: val("cos"),
        slot: "mode",
        doc: "annealing curve",
      },
      { name: "div_factor", type: "float", min: excl(0), default: val(25), slot: "values", doc: "initial lr = max_lr / div_factor" },
      {
        name: "final_div_factor",
        type: "float",
        min: excl(0),
        default: val(1e4),
        slot: "values",
        doc: "minimum lr = initial lr / final_div_factor",
      },
      { name: "three_phase", type: "bool", default: val(0), slot: "values", doc: "use the three-phase variant (0 or 1 in values)" },
    ],
  },
  cyclic: {
    kind: "cyclic",
    torch: "CyclicLR",
    milestones: false,
    baseLr: "base_lr",
    stateful: false,
    hyperparameters: [
      { name: "base_lr", type: "float", min: excl(0), slot: "values", doc: "lower bound of the cycle (replaces the optimiser's lr)" },
      { name: "max_lr", type: "float", min: excl(0), slot: "values", doc: "upper bound of the cycle" },
      { name: "step_size_up", type: "int", min: incl(1), default: val(2000), slot: "values", doc: "steps of the increasing half" },
      {
        name: "step_size_down",
        type: "int",
        min: incl(1),
        default: { kind: "same_as", name: "step_size_up" },
        slot: "values",
        doc: "steps of the decreasing half",
      },
      {
        name: "mode",
        type: "string",
        choices: ["triangular", "triangular2", "exp_range"],
        default: val("triangular"),
        slot: "mode",
        doc: "amplitude policy",
      },
      { name: "gamma", type: "float", min: excl(0), max: incl(1), default: val(1), slot: "values", doc: "exp_range decay per step" },
    ],
  },
  polynomial: {
    kind: "polynomial",
    torch: "PolynomialLR",
    milestones: false,
    baseLr: "optimizer",
    stateful: false,
    hyperparameters: [
      { name: "total_iters", type: "int", min: incl(1), default: HORIZON, slot: "values", torchDefault: "5", doc: "steps until the lr reaches 0" },
      { name: "power", type: "float", min: excl(0), default: val(1), slot: "values", doc: "power of the polynomial" },
    ],
  },
  reduce_on_plateau: {
    kind: "reduce_on_plateau",
    torch: "ReduceLROnPlateau",
    milestones: false,
    baseLr: "optimizer",
    stateful: true,
    hyperparameters: [
      { name: "mode", type: "string", choices: ["min", "max"], default: val("min"), slot: "mode", doc: "whether the metric should decrease or increase" },
      { name: "factor", type: "float", min: excl(0), max: excl(1), default: val(0.1), slot: "values", doc: "new lr = lr * factor" },
      { name: "patience", type: "int", min: incl(0), default: val(10), slot: "values", doc: "bad steps tolerated before a reduction" },
      { name: "threshold", type: "float", min: incl(0), default: val(1e-4), slot: "values", doc: "minimum significant change" },
      {
        name: "threshold_mode",
        type: "string",
        choices: ["rel", "abs"],
        default: val("rel"),
        slot: "values",
        doc: "relative or absolute threshold (in values: 0 = rel, 1 = abs)",
      },
      { name: "cooldown", type: "int", min: incl(0), default: val(0), slot: "values", doc: "steps to wait after a reduction" },
      { name: "min_lr", type: "float", min: incl(0), default: val(0), slot: "values", doc: "lower bound of the lr" },
      { name: "eps", type: "float", min: incl(0), default: val(1e-8), slot: "values", doc: "reductions smaller than eps are ignored" },
    ],
  },
};

// ---- lookups ------------------------------------------------------------------

export function kindSpec(kind: LrKind): KindSpec {
  return LR_KIND_SPECS[kind];
}

/** The rule of a hyperparameter name of a kind (milestone_<i> included), or undefined. */
export function hpRuleOf(kind: LrKind, name: string): HpRule | undefined {
  const spec = LR_KIND_SPECS[kind];
  if (spec.milestones && MILESTONE_RE.test(name)) return MILESTONE_RULE;
  return spec.hyperparameters.find((r) => r.name === name);
}

/** Names for messages: "step_size, gamma"; multi_step lists milestone_0, milestone_1, ... */
export function knownHpNames(kind: LrKind): string {
  const spec = LR_KIND_SPECS[kind];
  const names = spec.hyperparameters.map((r) => r.name);
  if (spec.milestones) names.unshift("milestone_0", "milestone_1", "...");
  return names.length > 0 ? names.join(", ") : "none";
}

/** "(0, 1]", ">= 1", "> 0", or "any" for a rule. */
export function describeRange(rule: HpRule): string {
  if (rule.type === "string") return `one of ${(rule.choices ?? []).join(", ")}`;
  if (rule.type === "bool") return "a bool";
  const lo = rule.min;
  const hi = rule.max;
  if (lo && hi) return `in ${lo.inclusive ? "[" : "("}${lo.value}, ${hi.value}${hi.inclusive ? "]" : ")"}`;
  if (lo) return `${lo.inclusive ? ">=" : ">"} ${lo.value}`;
  if (hi) return `${hi.inclusive ? "<=" : "<"} ${hi.value}`;
  return "any number";
}

function inBounds(v: number, rule: HpRule): boolean {
  if (!Number.isFinite(v)) return false;
  if (rule.min && (rule.min.inclusive ? v < rule.min.value : v <= rule.min.value)) return false;
  if (rule.max && (rule.max.inclusive ? v > rule.max.value : v >= rule.max.value)) return false;
  return true;
}

/** Whether a numeric value is legal for a numeric (float, int or bool as 0/1) rule. */
export function numberLegal(v: number, rule: HpRule): boolean {
  switch (rule.type) {
    case "bool":
      return v === 0 || v === 1;
    case "int":
      return Number.isSafeInteger(v) && inBounds(v, rule);
    case "float":
      return inBounds(v, rule);
    case "string":
      return Number.isInteger(v) && v >= 0 && v < (rule.choices ?? []).length;
  }
}

function typeLabel(rule: HpRule): string {
  switch (rule.type) {
    case "float":
      return "a number";
    case "int":
      return "an integer";
    case "string":
      return "a string";
    case "bool":
      return "a bool";
  }
}

// ---- CreateStudy: the domain of each declared hyperparameter ---------------------

export interface LrDomainContext {
  /** LrScheduleDomain.total_steps. */
  totalSteps: number;
  /** The largest warm-up length the domain allows (0 without warm-up). */
  maxWarmupSteps: number;
}

/** The [lowest, highest] values a numeric domain can produce, or undefined. */
function numericExtent(d: Domain): [number, number] | undefined {
  switch (d.type) {
    case "float":
    case "int":
      return [d.low, d.high];
    case "categorical": {
      const nums = d.choices.filter((c): c is number => typeof c === "number");
      if (nums.length !== d.choices.length || nums.length === 0) return undefined;
      return [Math.min(...nums), Math.max(...nums)];
    }
    case "lr_schedule":
      return undefined;
  }
}

function checkBound(v: number, rule: HpRule, label: string, field: string, what: string): void {
  if (!inBounds(v, rule)) throw invalid(field, `${label} must be ${describeRange(rule)} (${what} ${v})`);
}

/** One declared hyperparameter's domain against its rule (domain itself already validated). */
function checkHpDomain(rule: HpRule, d: Domain, label: string, hf: string): void {
  switch (rule.type) {
    case "float":
    case "int": {
      if (d.type === "float") {
        if (rule.type === "int") {
          throw invalid(`${hf}.float_domain`, `${label} is an integer: use int_domain or integer choices`);
        }
        checkBound(d.low, rule, label, `${hf}.float_domain.low`, "low is");
        checkBound(d.high, rule, label, `${hf}.float_domain.high`, "high is");
        return;
      }
      if (d.type === "int") {
        checkBound(d.low, rule, label, `${hf}.int_domain.low`, "low is");
        checkBound(d.high, rule, label, `${hf}.int_domain.high`, "high is");
        return;
      }
      if (d.type === "categorical" && (d.valueKind === "number" || d.valueKind === "int")) {
        d.choices.forEach((c, i) => {
          const f = `${hf}.categorical_domain.choices[${i}]`;
          const v = Number(c);
          if (rule.type === "int" && !Number.isInteger(v)) throw invalid(f, `${label} is an integer (got ${v})`);
          checkBound(v, rule, label, f, "got");
        });
        return;
      }
      const where = d.type === "categorical" ? `${hf}.categorical_domain` : hf;
      throw invalid(where, `${label} is ${typeLabel(rule)}: use ${rule.type === "int" ? "int_domain or integer choices" : "float_domain, int_domain or numeric choices"}`);
    }
    case "string": {
      const choices = rule.choices ?? [];
      if (d.type !== "categorical" || d.valueKind !== "string") {
        const where = d.type === "lr_schedule" ? hf : `${hf}.${d.type}_domain`;
        throw invalid(where, `${label} is a string: use categorical_domain with choices among ${choices.join(", ")}`);
      }
      d.choices.forEach((c, i) => {
        if (typeof c !== "string" || !choices.includes(c)) {
          throw invalid(`${hf}.categorical_domain.choices[${i}]`, `${JSON.stringify(c)} is not a legal ${label} (one of ${choices.join(", ")})`);
        }
      });
      return;
    }
    case "bool": {
      if (d.type !== "categorical" || d.valueKind !== "bool") {
        const where = d.type === "lr_schedule" ? hf : `${hf}.${d.type}_domain`;
        throw invalid(where, `${label} is a bool: use categorical_domain with bool choices`);
      }
      return;
    }
  }
}

/**
 * Check one option of an LrScheduleDomain against its kind's rules. `field`
 * is the option's path (…lr_schedule_domain.options[i]). The generic checks
 * (names, duplicates, domain shapes) have run before.
 */
export function validateLrOptionRules(option: LrScheduleOption, field: string, ctx: LrDomainContext): void {
  const spec = LR_KIND_SPECS[option.kind];
  const declared = new Map<string, Domain>();
  let milestones = 0;
  option.hyperparameters.forEach((hp, j) => {
    const hf = `${field}.hyperparameters[${j}]`;
    const rule = hpRuleOf(option.kind, hp.name);
    if (!rule) {
      throw invalid(`${hf}.name`, `"${hp.name}" is not a hyperparameter of ${option.kind} (known: ${knownHpNames(option.kind)})`);
    }
    if (rule.slot === "milestones") {
      milestones++;
      if (milestones > MAX_MILESTONES) throw invalid(`${hf}.name`, `more than ${MAX_MILESTONES} milestones`);
    }
    checkHpDomain(rule, hp.domain, rule.slot === "milestones" ? `${hp.name} of ${option.kind}` : `${rule.name} of ${option.kind}`, hf);
    declared.set(hp.name, hp.domain);
  });
  for (const rule of spec.hyperparameters) {
    if (rule.default === undefined && !declared.has(rule.name)) {
      throw invalid(
        `${field}.hyperparameters`,
        `${option.kind} requires "${rule.name}" (${rule.type}, ${describeRange(rule)}; PyTorch's ${spec.torch} has no default for it)`,
      );
    }
  }
  if (spec.milestones && milestones === 0) {
    throw invalid(`${field}.hyperparameters`, `${option.kind} requires at least one milestone (int hyperparameters milestone_0, milestone_1, ...)`);
  }
  if (option.kind === "one_cycle") checkOneCycleDomain(declared, field, ctx);
}

/**
 * OneCycleLR divides by pct_start * total_steps - 1 (phase 1's length): it
 * must stay > 0 for every value the space can produce; with three_phase the
 * third phase also needs pct_start < 0.5.
 */
function checkOneCycleDomain(declared: Map<string, Domain>, field: string, ctx: LrDomainContext): void {
  const pct = declared.get("pct_start");
  const [pctLow, pctHigh] = pct ? (numericExtent(pct) ?? [0.3, 0.3]) : [0.3, 0.3];
  const total = declared.get("total_steps");
  const totalLow = total ? (numericExtent(total)?.[0] ?? 1) : ctx.totalSteps - ctx.maxWarmupSteps;
  if (!(pctLow * totalLow > 1)) {
    throw invalid(
      `${field}.hyperparameters`,
      `one_cycle needs pct_start * total_steps > 1 (a non-empty warm-up phase; PyTorch divides by its length), ` +
        `but the space allows pct_start ${pctLow} with total_steps ${totalLow}` +
        (total ? "" : " (total_steps defaults to total_steps - warmup_steps)"),
    );
  }
  const tp = declared.get("three_phase");
  if (tp && tp.type === "categorical" && tp.choices.includes(true) && !(pctHigh < 0.5)) {
    throw invalid(`${field}.hyperparameters`, `one_cycle with three_phase needs pct_start < 0.5, but the space allows pct_start ${pctHigh}`);
  }
}

/** Legal warm-up domains: warmup_steps ints in [0, total_steps), warmup_start_factor in (0, 1]. */
export const WARMUP_STEPS_RULE: HpRule = { name: "warmup_steps", type: "int", min: incl(0), default: val(0), slot: "values", doc: "length of the linear warm-up" };
export const WARMUP_FACTOR_RULE: HpRule = {
  name: "warmup_start_factor",
  type: "float",
  min: excl(0),
  max: incl(1),
  default: val(DEFAULT_WARMUP_START_FACTOR),
  slot: "values",
  doc: "lr multiplier at step 0 of the warm-up",
};

export function validateWarmupDomains(
  warmupSteps: Domain | undefined,
  warmupStartFactor: Domain | undefined,
  field: string,
  totalSteps: number,
): void {
  if (warmupSteps) {
    checkHpDomain(WARMUP_STEPS_RULE, warmupSteps, "warmup_steps", `${field}.warmup_steps`);
    const hi = numericExtent(warmupSteps)?.[1] ?? 0;
    if (hi >= totalSteps) {
      throw invalid(`${field}.warmup_steps.high`, `must be < total_steps (${totalSteps}) so that the main schedule has at least one step (high is ${hi})`);
    }
  }
  if (warmupStartFactor) checkHpDomain(WARMUP_FACTOR_RULE, warmupStartFactor, "warmup_start_factor", `${field}.warmup_start_factor`);
}

// ---- concrete schedules --------------------------------------------------------

/** Index of a choice of a string rule stored in `values` (threshold_mode: rel 0, abs 1). */
export function encodeChoice(rule: HpRule, s: string): number | undefined {
  const i = (rule.choices ?? []).indexOf(s);
  return i < 0 ? undefined : i;
}

export function decodeChoice(rule: HpRule, v: number): string | undefined {
  return Number.isInteger(v) ? rule.choices?.[v] : undefined;
}

/** total_steps - warmup_steps: the steps the main schedule runs for; undefined when total_steps is unset. */
export function horizonOf(s: Pick<LrScheduleValue, "totalSteps" | "warmupSteps">): number | undefined {
  if (!(s.totalSteps > 0)) return undefined;
  return Math.max(1, s.totalSteps - Math.max(0, s.warmupSteps));
}

/**
 * A copy of `s` with every omitted hyperparameter of its kind set to its
 * default (and warmup_start_factor 1/3 when warm-up steps are set without
 * one). Required hyperparameters stay missing (see lrScheduleProblem).
 */
export function completeLrSchedule(s: LrScheduleValue): LrScheduleValue {
  const spec = Object.hasOwn(LR_KIND_SPECS, s.kind) ? LR_KIND_SPECS[s.kind] : undefined;
  const out: LrScheduleValue = {
    kind: s.kind,
    values: { ...s.values },
    milestones: [...s.milestones].sort((a, b) => a - b),
    mode: s.mode,
    totalSteps: s.totalSteps,
    warmupSteps: s.warmupSteps,
    warmupStartFactor: s.warmupStartFactor,
  };
  if (!spec) return out;
  for (const rule of spec.hyperparameters) {
    const d = rule.default;
    if (d === undefined) continue;
    if (rule.slot === "mode") {
      if (out.mode === "" && d.kind === "value") out.mode = String(d.value);
      continue;
    }
    if (out.values[rule.name] !== undefined) continue;
    switch (d.kind) {
      case "value":
        if (typeof d.value === "number") out.values[rule.name] = d.value;
        else {
          const i = encodeChoice(rule, d.value);
          if (i !== undefined) out.values[rule.name] = i;
        }
        break;
      case "horizon": {
        const h = horizonOf(out);
        if (h !== undefined) out.values[rule.name] = h;
        break;
      }
      case "same_as": {
        const other = out.values[d.name];
        if (other !== undefined) out.values[rule.name] = other;
        break;
      }
    }
  }
  if (out.warmupSteps > 0 && out.warmupStartFactor === 0) out.warmupStartFactor = DEFAULT_WARMUP_START_FACTOR;
  return out;
}

export interface LrScheduleProblem {
  /** Path inside the schedule, e.g. "values.gamma". */
  field: string;
  message: string;
}

/**
 * The first reason a (completed) concrete schedule is not legal, or
 * undefined: every hyperparameter of the kind present and in range, nothing
 * unknown, milestones only for multi_step, warm-up in range, and the
 * one_cycle phase lengths non-empty.
 */
export function lrScheduleProblem(s: LrScheduleValue): LrScheduleProblem | undefined {
  const spec = Object.hasOwn(LR_KIND_SPECS, s.kind) ? LR_KIND_SPECS[s.kind] : undefined;
  if (!spec) return { field: "kind", message: `unknown schedule kind ${JSON.stringify(s.kind)}` };
  if (!Number.isSafeInteger(s.totalSteps) || s.totalSteps < 0) return { field: "total_steps", message: `must be an integer >= 0 (got ${s.totalSteps})` };
  if (!Number.isSafeInteger(s.warmupSteps) || s.warmupSteps < 0) return { field: "warmup_steps", message: `must be an integer >= 0 (got ${s.warmupSteps})` };
  if (s.warmupSteps > 0 && !numberLegal(s.warmupStartFactor, WARMUP_FACTOR_RULE)) {
    return { field: "warmup_start_factor", message: `must be in (0, 1] with warm-up steps (got ${s.warmupStartFactor})` };
  }
  for (const [name, v] of Object.entries(s.values)) {
    const rule = spec.hyperparameters.find((r) => r.name === name && r.slot === "values");
    if (!rule) {
      const known = spec.hyperparameters.filter((r) => r.slot === "values").map((r) => r.name);
      return { field: `values.${name}`, message: `"${name}" is not a hyperparameter of ${s.kind} (known in values: ${known.join(", ") || "none"})` };
    }
    if (typeof v !== "number" || !numberLegal(v, rule)) {
      const what = rule.type === "string" ? `the index of one of ${(rule.choices ?? []).join(", ")} (0..${(rule.choices ?? []).length - 1})` : rule.type === "bool" ? "0 or 1" : `${typeLabel(rule)} ${describeRange(rule)}`;
      return { field: `values.${name}`, message: `${name} of ${s.kind} must be ${what} (got ${v})` };
    }
  }
  for (const rule of spec.hyperparameters) {
    if (rule.slot === "values" && s.values[rule.name] === undefined) {
      const why = rule.default?.kind === "horizon" ? " (its default needs total_steps)" : "";
      return { field: `values.${rule.name}`, message: `${s.kind} requires ${rule.name}${why}` };
    }
  }
  const modeRule = spec.hyperparameters.find((r) => r.slot === "mode");
  if (modeRule) {
    if (!(modeRule.choices ?? []).includes(s.mode)) {
      return { field: "mode", message: `${modeRule.name} of ${s.kind} must be one of ${(modeRule.choices ?? []).join(", ")} (got ${JSON.stringify(s.mode)})` };
    }
  } else if (s.mode !== "") {
    return { field: "mode", message: `${s.kind} takes no mode (got ${JSON.stringify(s.mode)})` };
  }
  if (spec.milestones) {
    if (s.milestones.length === 0) return { field: "milestones", message: `${s.kind} requires at least one milestone` };
    const bad = s.milestones.findIndex((m) => !numberLegal(m, MILESTONE_RULE));
    if (bad >= 0) return { field: `milestones[${bad}]`, message: `must be an integer >= 1 (got ${s.milestones[bad]})` };
  } else if (s.milestones.length > 0) {
    return { field: "milestones", message: `${s.kind} takes no milestones` };
  }
  if (s.kind === "one_cycle") {
    const pct = s.values.pct_start as number;
    const total = s.values.total_steps as number;
    if (!(pct * total > 1)) {
      return { field: "values.pct_start", message: `one_cycle needs pct_start * total_steps > 1 (got ${pct} * ${total})` };
    }
    if (s.values.three_phase === 1 && !(pct < 0.5)) {
      return { field: "values.pct_start", message: `one_cycle with three_phase needs pct_start < 0.5 (got ${pct})` };
    }
  }
  return undefined;
}
