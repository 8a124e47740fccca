/**
 * The contract between the study engine and search algorithms. A sampler is
 * pure: it sees the space, the seed and the study's trials (RUNNING and QUEUED
 * included, so parallel workers get distinct points) and proposes the flat
 * parameter values of one new trial.
 */
import type { Direction, TrialState } from "../model.js";
import type { CompiledSpace, FlatParams } from "../space.js";

export interface TrialView {
  id: number;
  state: TrialState;
  /** Flat values (see CompiledSpace.flatten); only active dimensions present. */
  flat: FlatParams;
  /** Final objective values (COMPLETE trials; FAILED may carry NaN). */
  values?: number[];
  /** Final constraint values (feasible when all <= 0), when the study has constraints. */
  constraints?: number[];
  /** Last intermediate objective value and its step (PRUNED or RUNNING trials). */
  lastIntermediate?: { step: number; value: number };
  /**
   * PRUNED trials of a single-objective study: the pruner's predicted final
   * value of the objective when it pruned the trial (Trial.decisionForecast),
   * when it made one. A better stand-in for the trial's outcome than the last
   * intermediate value, which an early stop leaves far from where the curve
   * was going.
   */
  forecast?: number;
}

export interface SampleContext {
  space: CompiledSpace;
  seed: number;
  /** Id of the trial being created: dense, so a deterministic stream key. */
  trialId: number;
  /** Every trial of the study in id order, including RUNNING and QUEUED ones. */
  trials: readonly TrialView[];
  directions: readonly Direction[];
}

export type SampleResult =
  | { kind: "params"; flat: FlatParams }
  /** The space holds no unvisited point and nothing is running: the study is done. */
  | { kind: "exhausted" }
  /** Nothing new to propose until running trials finish (e.g. grid almost done). */
  | { kind: "wait" };

export interface Sampler {
  readonly name: string;
  sample(ctx: SampleContext): SampleResult;
}
