/**
 * The one implementation of lr(step) for hpod's learning-rate schedules,
 * shared by the SDK (client/lr-schedule.ts), the runner and the daemon. Its
 * Python twin is examples/python/hpod_lr.py; test/e2e/lr-schedule-torch.test.ts
 * checks both against torch.optim.lr_scheduler over 1,000 steps.
 *
 * Formulas follow PyTorch's closed forms (`_get_closed_form_lr`, or `get_lr`
 * where that already is one), with PyTorch's order of floating-point
 * operations. PyTorch's default step() path is "chainable" (each lr is the
 * previous one times a ratio) for StepLR, MultiStepLR, ConstantLR, LinearLR,
 * ExponentialLR, PolynomialLR and CosineAnnealingLR; the two agree except for
 * rounding (a few ulps per step; the e2e test measures it), including
 * CosineAnnealingLR past T_max, where both keep following the cosine (the lr
 * rises again with period 2*T_max instead of staying at eta_min).
 *
 * Step numbering: step 0 is the first optimiser step, i.e. the lr right after
 * the scheduler is built; step t is the lr after t calls of scheduler.step().
 *
 * Warm-up: with warmup_steps W > 0 and warmup_start_factor f,
 *   lr(t) = B * (f + (1 - f) * t / W)      for t < W   (LinearLR)
 *   lr(t) = main(t - W)                    for t >= W
 * which is what PyTorch produces for
 *   SequentialLR(opt, [LinearLR(opt, f, 1.0, W), main], milestones=[W])
 * with the optimiser's lr set to B, the schedule's base lr: the optimiser's
 * lr (baseLr argument) for most kinds, `base_lr` for cyclic and
 * `max_lr / div_factor` for one_cycle (those two ignore baseLr).
 */
import { completeLrSchedule, LR_KIND_SPECS, lrScheduleProblem } from "./lr-schedule-spec.js";
import type { LrKind, LrScheduleValue } from "./space.js";

export type { LrKind, LrScheduleValue } from "./space.js";

/** A schedule that cannot be evaluated: a missing or illegal hyperparameter, or a bad step/base lr. */
export class LrScheduleError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "LrScheduleError";
  }
}

/** A running schedule: the lr of the current step, advanced by `step`. */
export interface LrScheduler {
  /** The schedule with every default filled in. */
  readonly schedule: Readonly<LrScheduleValue>;
  /** The index of the current step (0 before the first `step()`). */
  readonly stepCount: number;
  /** The learning rate of the current step. */
  readonly lr: number;
  /**
   * Advance to the next step and return its lr. `metric` is the value the
   * step just finished produced: required by reduce_on_plateau once its
   * warm-up is over, ignored otherwise.
   */
  step(metric?: number): number;
}

/**
 * The schedule with defaults filled (see lr-schedule-spec.ts), checked;
 * throws LrScheduleError naming the offending field.
 */
export function resolveLrSchedule(schedule: LrScheduleValue): LrScheduleValue {
  if (!Object.hasOwn(LR_KIND_SPECS, schedule.kind)) throw new LrScheduleError(`lr schedule kind: unknown kind ${JSON.stringify(schedule.kind)}`);
  const s = completeLrSchedule(schedule);
  const p = lrScheduleProblem(s);
  if (p) throw new LrScheduleError(`lr schedule ${p.field}: ${p.message}`);
  return s;
}

function checkBaseLr(baseLr: number): void {
  if (typeof baseLr !== "number" || !Number.isFinite(baseLr) || baseLr < 0) {
    throw new LrScheduleError(`baseLr must be a finite number >= 0 (got ${String(baseLr)})`);
  }
}

/**
 * B: the lr the main schedule starts from and the warm-up ramps to. The
 * optimiser's lr, except for cyclic (base_lr) and one_cycle (max_lr /
 * div_factor), which define their own.
 */
export function scheduleBaseLr(schedule: LrScheduleValue, baseLr: number): number {
  const s = resolveLrSchedule(schedule);
  return baseOf(s, baseLr);
}

function baseOf(s: LrScheduleValue, baseLr: number): number {
  switch (LR_KIND_SPECS[s.kind].baseLr) {
    case "base_lr":
      return v(s, "base_lr");
    case "max_lr / div_factor":
      return v(s, "max_lr") / v(s, "div_factor");
    case "optimizer":
      checkBaseLr(baseLr);
      return baseLr;
  }
}

const v = (s: LrScheduleValue, name: string): number => s.values[name] as number;

function checkStep(step: number): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new LrScheduleError(`step must be an integer >= 0 (got ${step})`);
}

/** LinearLR's closed form, end_factor 1: base * (f + (1 - f) * min(W, t) / W). */
function warmupLr(B: number, f: number, W: number, t: number): number {
  return B * (f + ((1.0 - f) * Math.min(W, t)) / W);
}

/** Python's bisect_right on a sorted array. */
function bisectRight(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < (xs[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The main (post-warm-up) schedule at its own step m >= 0, for the stateless kinds. */
function mainLr(s: LrScheduleValue, B: number, m: number): number {
  switch (s.kind) {
    case "constant": {
      // ConstantLR: base_lr * (factor + (last_epoch >= total_iters) * (1 - factor))
      const factor = v(s, "factor");
      return B * (factor + (m >= v(s, "total_iters") ? 1 : 0) * (1 - factor));
    }
    case "step":
      // StepLR: base_lr * gamma ** (last_epoch // step_size)
      return B * v(s, "gamma") ** Math.floor(m / v(s, "step_size"));
    case "multi_step":
      // MultiStepLR: base_lr * gamma ** bisect_right(milestones, last_epoch)
      return B * v(s, "gamma") ** bisectRight(s.milestones, m);
    case "exponential":
      // ExponentialLR: base_lr * gamma ** last_epoch
      return B * v(s, "gamma") ** m;
    case "cosine_annealing": {
      // CosineAnnealingLR: eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2
      const etaMin = v(s, "eta_min");
      return etaMin + ((B - etaMin) * (1 + Math.cos((Math.PI * m) / v(s, "T_max")))) / 2;
    }
    case "cosine_annealing_warm_restarts": {
      // CosineAnnealingWarmRestarts: T_cur/T_i advanced one step at a time from (0, T_0).
      const T0 = v(s, "T_0");
      const mult = v(s, "T_mult");
      let Ti = T0;
      let Tcur = m;
      if (mult === 1) Tcur = m % T0;
      else {
        while (Tcur >= Ti) {
          Tcur -= Ti;
          Ti *= mult;
        }
      }
      const etaMin = v(s, "eta_min");
      return etaMin + ((B - etaMin) * (1 + Math.cos((Math.PI * Tcur) / Ti))) / 2;
    }
    case "one_cycle":
      return oneCycleLr(s, m);
    case "cyclic":
      return cyclicLr(s, m);
    case "polynomial": {
      // PolynomialLR: base_lr * (1 - min(total_iters, last_epoch) / total_iters) ** power
      const n = v(s, "total_iters");
      return B * (1.0 - Math.min(n, m) / n) ** v(s, "power");
    }
    case "reduce_on_plateau":
      throw new LrScheduleError("reduce_on_plateau depends on the metric: use createScheduler(schedule, baseLr).step(metric)");
  }
}

/** OneCycleLR.get_lr, operation for operation. */
function oneCycleLr(s: LrScheduleValue, step: number): number {
  const total = v(s, "total_steps");
  if (step > total) {
    throw new LrScheduleError(`one_cycle: step ${step} is past total_steps ${total} (PyTorch's OneCycleLR raises here too)`);
  }
  const maxLr = v(s, "max_lr");
  const initial = maxLr / v(s, "div_factor");
  const minLr = initial / v(s, "final_div_factor");
  const pct = v(s, "pct_start");
  const phases: { end: number; from: number; to: number }[] =
    v(s, "three_phase") === 1
      ? [
          { end: pct * total - 1, from: initial, to: maxLr },
          { end: 2 * pct * total - 2, from: maxLr, to: initial },
          { end: total - 1, from: initial, to: minLr },
        ]
      : [
          { end: pct * total - 1, from: initial, to: maxLr },
          { end: total - 1, from: maxLr, to: minLr },
        ];
  const cos = s.mode !== "linear";
  let start = 0;
  for (let i = 0; i < phases.length; i++) {
    const ph = phases[i] as { end: number; from: number; to: number };
    if (step <= ph.end || i === phases.length - 1) {
      const p = (step - start) / (ph.end - start);
      if (cos) {
        const cosOut = Math.cos(Math.PI * p) + 1;
        return ph.to + ((ph.from - ph.to) / 2.0) * cosOut;
      }
      return (ph.to - ph.from) * p + ph.from;
    }
    start = ph.end;
  }
  throw new LrScheduleError("one_cycle: no phase");
}

/** CyclicLR.get_lr, operation for operation. */
function cyclicLr(s: LrScheduleValue, t: number): number {
  const up = v(s, "step_size_up");
  const down = v(s, "step_size_down");
  const totalSize = up + down;
  const stepRatio = up / totalSize;
  const cycle = Math.floor(1 + t / totalSize);
  const x = 1.0 + t / totalSize - cycle;
  const scaleFactor = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
  const baseLr = v(s, "base_lr");
  const baseHeight = (v(s, "max_lr") - baseLr) * scaleFactor;
  switch (s.mode) {
    case "triangular2":
      return baseLr + baseHeight * (1 / 2.0 ** (cycle - 1));
    case "exp_range":
      return baseLr + baseHeight * v(s, "gamma") ** t;
    default:
      return baseLr + baseHeight * 1.0;
  }
}

function lrResolved(s: LrScheduleValue, baseLr: number, step: number): number {
  const B = baseOf(s, baseLr);
  const W = s.warmupSteps;
  if (step < W) return warmupLr(B, s.warmupStartFactor, W, step);
  return mainLr(s, B, step - W);
}

/**
 * The learning rate at `step` (0-based) of a stateless schedule (every kind
 * but reduce_on_plateau). `baseLr` is the optimiser's lr; cyclic and
 * one_cycle use their own and ignore it. Omitted hyperparameters take their
 * defaults. Throws LrScheduleError for an illegal schedule, a negative or
 * fractional step, or a one_cycle step past total_steps.
 */
export function lrAt(schedule: LrScheduleValue, baseLr: number, step: number): number {
  const s = resolveLrSchedule(schedule);
  checkStep(step);
  return lrResolved(s, baseLr, step);
}

/** ReduceLROnPlateau's state, as PyTorch keeps it. */
class Plateau {
  private best: number;
  private badSteps = 0;
  private cooldownCounter = 0;
  private readonly maxMode: boolean;
  private readonly absMode: boolean;
  private readonly s: LrScheduleValue;
  lr: number;

  constructor(s: LrScheduleValue, lr: number) {
    this.s = s;
    this.lr = lr;
    this.maxMode = s.mode === "max";
    this.absMode = v(s, "threshold_mode") === 1;
    this.best = this.maxMode ? -Infinity : Infinity;
  }

  private isBetter(a: number, best: number): boolean {
    const th = v(this.s, "threshold");
    if (!this.maxMode && !this.absMode) return a < best * (1.0 - th);
    if (!this.maxMode && this.absMode) return a < best - th;
    if (this.maxMode && !this.absMode) return a > best * (th + 1.0);
    return a > best + th;
  }

  step(current: number): void {
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.badSteps = 0;
    } else {
      this.badSteps += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.badSteps = 0;
    }
    if (this.badSteps > v(this.s, "patience")) {
      const old = this.lr;
      const next = Math.max(old * v(this.s, "factor"), v(this.s, "min_lr"));
      if (old - next > v(this.s, "eps")) this.lr = next;
      this.cooldownCounter = v(this.s, "cooldown");
      this.badSteps = 0;
    }
  }
}

/**
 * A running scheduler for any kind, reduce_on_plateau included. `lr` is the
 * current step's lr; `step(metric?)` moves to the next step. For
 * reduce_on_plateau the metric of every step after the warm-up is required
 * (PyTorch's ReduceLROnPlateau.step(metrics)); metrics given during warm-up
 * are ignored, and the plateau logic starts from B at step warmup_steps.
 */
export function createScheduler(schedule: LrScheduleValue, baseLr: number): LrScheduler {
  const s = resolveLrSchedule(schedule);
  const B = baseOf(s, baseLr);
  const W = s.warmupSteps;
  const plateau = s.kind === "reduce_on_plateau" ? new Plateau(s, B) : undefined;
  let t = 0;
  const current = (): number => {
    if (t < W) return warmupLr(B, s.warmupStartFactor, W, t);
    if (plateau) return plateau.lr;
    return mainLr(s, B, t - W);
  };
  let lr = current();
  return {
    schedule: s,
    get stepCount() {
      return t;
    },
    get lr() {
      return lr;
    },
    step(metric?: number): number {
      if (plateau && t >= W) {
        if (typeof metric !== "number") {
          throw new LrScheduleError(`reduce_on_plateau: step(metric) needs the metric of step ${t} (got ${String(metric)})`);
        }
        plateau.step(metric);
      }
      t += 1;
      lr = current();
      return lr;
    },
  };
}

/** Whether the kind needs metrics (createScheduler) rather than lrAt. */
export function isStatefulKind(kind: LrKind): boolean {
  return LR_KIND_SPECS[kind].stateful;
}
