/**
 * Domain records of studies and trials: what the store persists and the core
 * reasons about. Plain data (JSON-serialisable), independent of the wire types.
 */
import type { Params, ScalarValue, SearchSpaceDef } from "./space.js";

export const TRIAL_STATES = ["QUEUED", "RUNNING", "COMPLETE", "PRUNED", "FAILED"] as const;
export type TrialState = (typeof TRIAL_STATES)[number];
export const STUDY_STATES = ["ACTIVE", "PAUSED", "STOPPED", "COMPLETED"] as const;
export type StudyState = (typeof STUDY_STATES)[number];
export type Direction = "minimize" | "maximize";
export type TrialSource = "SAMPLED" | "ENQUEUED" | "ADDED" | "RETRY";
export type Decision = "CONTINUE" | "PRUNE";

export const isFinished = (s: TrialState): boolean => s === "COMPLETE" || s === "PRUNED" || s === "FAILED";

export interface Measurement {
  /** Present for intermediate values. */
  step?: number;
  values: number[];
  constraintValues: number[];
  metrics: Record<string, number>;
  elapsedMs?: number;
  /** Epoch milliseconds when the daemon received it. */
  time: number;
}

export interface Trial {
  study: string;
  id: number;
  state: TrialState;
  params: Params;
  intermediate: Measurement[];
  final?: Measurement;
  workerId: string;
  stateReason: string;
  source: TrialSource;
  retryOf?: number;
  createTime: number;
  startTime?: number;
  endTime?: number;
  /** Last sign of life from the worker (not persisted on every report). */
  heartbeatTime?: number;
  decision?: Decision;
  decisionReason: string;
  /**
   * The pruner's predicted final value of the first objective when it pruned
   * the trial (the curve pruner's forecast; absent for other prunes). Stored
   * with the trial, so samplers see the same value after a restart.
   */
  decisionForecast?: number;
  userAttrs: Record<string, string>;
}

export interface Objective {
  name: string;
  direction: Direction;
}

export interface GridAxisDef {
  parameter: string;
  values: ScalarValue[];
  numPoints: number;
}

export interface AlgorithmSpec {
  /** As given by the user ("" means auto). */
  name: string;
  seed: number;
  grid?: { axes: GridAxisDef[] };
  quasiRandom?: { sequence: "sobol" | "halton"; scrambled: boolean };
}

export interface PrunerSpec {
  name: string;
  startupTrials: number;
  warmupSteps: number;
  intervalSteps: number;
  percentile: number;
  lower?: number;
  upper?: number;
  patience: number;
  minResource: number;
  maxResource: number;
  reductionFactor: number;
  brackets: number;
  wrapped?: PrunerSpec;
  confidence: number;
}

export interface StudySpec {
  space: SearchSpaceDef;
  objectives: Objective[];
  constraints: string[];
  algorithm: AlgorithmSpec;
  pruner: PrunerSpec;
  /** 0: unlimited. */
  maxTrials: number;
  heartbeatTimeoutMs: number;
  maxStaleRetries: number;
}

export interface Study {
  name: string;
  namespace: string;
  spec: StudySpec;
  state: StudyState;
  stateReason: string;
  createTime: number;
  updateTime: number;
  resolvedAlgorithm: string;
  labels: Record<string, string>;
  /** The id the next trial gets; ids are dense and never reused. */
  nextTrialId: number;
}
