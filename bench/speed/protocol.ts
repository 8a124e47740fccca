/**
 * Messages between the coordinator and its client processes. Both sides are
 * this same script, so the shapes are trusted and only cast, not validated.
 */

export type Phase = "echo" | "trials";

/** What one client process runs in one phase. */
export interface Assignment {
  phase: Phase;
  address: string;
  study: string;
  workerIds: string[];
  workersPerChannel: number;
  callTimeoutMs: number;
  payloadBytes: number;
  /** Intermediate Reports (steps 0..K-1) before the final one in each trial; absent: none. */
  intermediate?: number;
  /**
   * bench/load --soak-rotate: new trials go to rotate.studies[k] during the k-th period of everyMs after the window
   * opens (the warm-up uses the first), so the coordinator can delete finished studies and keep the data bounded.
   */
  rotate?: { studies: string[]; everyMs: number };
}

/**
 * The measured window as wall-clock (Date.now) milliseconds: performance.now
 * has a different origin in every process, so it cannot align them.
 */
export interface Window {
  measureFrom: number;
  measureUntil: number;
}

export type ToChild = { type: "prepare"; assignment: Assignment } | { type: "go"; window: Window } | { type: "exit" };

/** Samples of calls that completed inside the window. */
export interface ChildResult {
  phase: Phase;
  /** Trials (Suggest + final Report) or echo calls. */
  completed: number;
  errors: number;
  firstError: string;
  suggestMs: number[];
  reportMs: number[];
  roundTripMs: number[];
  echoMs: number[];
  /** Loops still busy when the child gave up waiting (should be 0). */
  stuckLoops: number;
}

export type FromChild = { type: "ready" } | { type: "result"; result: ChildResult } | { type: "failed"; error: string };
