/**
 * Learning-rate schedules in the SDK: `lrAt` and `createScheduler` evaluate
 * the schedule a trial got from Suggest (`trial.params.getSchedule(name)`),
 * with the daemon's own implementation (server/core/lr-schedule.ts), whose
 * formulas follow torch.optim.lr_scheduler. See docs/LR_SCHEDULES.md.
 *
 *     const sched = params.getSchedule("sched");
 *     const s = createScheduler(sched, params.getFloat("lr"));
 *     for (let i = 0; i < steps; i++) {
 *       optimizer.lr = s.lr;
 *       const loss = trainStep();
 *       s.step(loss); // the metric matters only for reduce_on_plateau
 *     }
 *
 * Both accept the generated `LrSchedule` message (kind an `LrScheduleKind`
 * number) or a plain `LrScheduleValue` (kind a name such as "cosine_annealing").
 */
import type { LrSchedule } from "./gen/hpod/v1/search_space.js";
import {
  createScheduler as createCore,
  lrAt as lrAtCore,
  LrScheduleError,
  resolveLrSchedule as resolveCore,
  scheduleBaseLr as baseCore,
  type LrScheduler,
} from "../server/core/lr-schedule.js";
import { LR_KIND_SPECS, type HpRule, type KindSpec } from "../server/core/lr-schedule-spec.js";
import { LR_KINDS, type LrKind, type LrScheduleValue } from "../server/core/space.js";

export { LrScheduleError, LR_KINDS, LR_KIND_SPECS };
export type { LrScheduler, LrKind, LrScheduleValue, HpRule, KindSpec };

/** A schedule as the SDK hands it out (proto message) or as plain values. */
export type LrScheduleInput = LrSchedule | LrScheduleValue;

/** The plain form of a schedule: kind by name, every field present. */
export function toLrScheduleValue(schedule: LrScheduleInput): LrScheduleValue {
  const k: unknown = schedule.kind;
  let kind: LrKind;
  if (typeof k === "number") {
    const name = LR_KINDS[k - 1];
    if (!Number.isInteger(k) || name === undefined) throw new LrScheduleError(`lr schedule kind: unknown kind ${k}`);
    kind = name;
  } else if (typeof k === "string") {
    const name = k.toLowerCase().replace(/^lr_schedule_kind_/, "");
    const found = LR_KINDS.find((x) => x === name);
    if (found === undefined) throw new LrScheduleError(`lr schedule kind: unknown kind ${JSON.stringify(k)}`);
    kind = found;
  } else {
    throw new LrScheduleError("lr schedule kind: missing");
  }
  return {
    kind,
    values: { ...(schedule.values ?? {}) },
    milestones: [...(schedule.milestones ?? [])],
    mode: schedule.mode ?? "",
    totalSteps: schedule.totalSteps ?? 0,
    warmupSteps: schedule.warmupSteps ?? 0,
    warmupStartFactor: schedule.warmupStartFactor ?? 0,
  };
}

/** The schedule with every default filled in; throws LrScheduleError when illegal. */
export function resolveLrSchedule(schedule: LrScheduleInput): LrScheduleValue {
  return resolveCore(toLrScheduleValue(schedule));
}

/**
 * The learning rate at `step` (0-based) of a stateless schedule (every kind
 * but reduce_on_plateau). `baseLr` is the optimiser's lr; cyclic and
 * one_cycle define their own and ignore it.
 */
export function lrAt(schedule: LrScheduleInput, baseLr: number, step: number): number {
  return lrAtCore(toLrScheduleValue(schedule), baseLr, step);
}

/** A running scheduler for any kind (reduce_on_plateau included: pass the metric to `step`). */
export function createScheduler(schedule: LrScheduleInput, baseLr: number): LrScheduler {
  return createCore(toLrScheduleValue(schedule), baseLr);
}

/** The lr the schedule starts from and the warm-up ramps to (see docs/LR_SCHEDULES.md). */
export function scheduleBaseLr(schedule: LrScheduleInput, baseLr: number): number {
  return baseCore(toLrScheduleValue(schedule), baseLr);
}
