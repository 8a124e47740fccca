/**
 * Validation of a study as a user submits it, and assembly of the runtime
 * (compiled space, sampler, pruner) that serves it.
 */
import { invalid } from "./errors.js";
import type { PrunerSpec, Study, Trial } from "./model.js";
import { createPruner } from "./pruners/index.js";
import { createSampler } from "./samplers/index.js";
import { checkName, compileSpace } from "./space.js";
import { StudyRuntime } from "./study-runtime.js";

export const STUDY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const MAX_STUDY_NAME_LENGTH = 128;
export const DEFAULT_NAMESPACE = "default";
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10 * 60 * 1000;
const MIN_HEARTBEAT_TIMEOUT_MS = 1000;
const MAX_HEARTBEAT_TIMEOUT_MS = 7 * 24 * 3600 * 1000;
const MAX_OBJECTIVES = 16;
const MAX_CONSTRAINTS = 16;
const MAX_LABELS = 64;
const MAX_STALE_RETRIES = 100;

export function checkStudyName(name: string, field: string): void {
  if (name.length === 0) throw invalid(field, "must not be empty");
  if (name.length > MAX_STUDY_NAME_LENGTH) throw invalid(field, `longer than ${MAX_STUDY_NAME_LENGTH} characters`);
  if (!STUDY_NAME_RE.test(name)) {
    throw invalid(field, `"${name}" must start with a letter or digit and hold only letters, digits, '_', '.', '-'`);
  }
}

export function checkLabels(labels: Record<string, string>, field: string): void {
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) throw invalid(field, `more than ${MAX_LABELS} entries`);
  for (const k of keys) {
    if (k.length === 0 || k.length > 63) throw invalid(`${field}["${k.slice(0, 32)}"]`, "keys must be 1..63 characters");
    if ((labels[k] ?? "").length > 256) throw invalid(`${field}["${k}"]`, "values must be at most 256 characters");
  }
}

/**
 * Checks every field of a new study and fills documented defaults in place.
 * Throws INVALID_ARGUMENT naming the field (`study.spec...`).
 */
export function validateNewStudy(study: Study): void {
  checkStudyName(study.name, "study.name");
  if (study.namespace === "") study.namespace = DEFAULT_NAMESPACE;
  checkStudyName(study.namespace, "study.namespace");
  checkLabels(study.labels, "study.labels");
  const spec = study.spec;
  if (spec.objectives.length === 0) throw invalid("study.spec.objectives", "at least one objective is required");
  if (spec.objectives.length > MAX_OBJECTIVES) throw invalid("study.spec.objectives", `more than ${MAX_OBJECTIVES} objectives`);
  const names = new Set<string>();
  spec.objectives.forEach((o, i) => {
    checkName(o.name, `study.spec.objectives[${i}].name`);
    if (names.has(o.name)) throw invalid(`study.spec.objectives[${i}].name`, `duplicate objective "${o.name}"`);
    names.add(o.name);
  });
  if (spec.constraints.length > MAX_CONSTRAINTS) throw invalid("study.spec.constraints", `more than ${MAX_CONSTRAINTS} constraints`);
  spec.constraints.forEach((c, i) => {
    checkName(c, `study.spec.constraints[${i}].name`);
    if (names.has(c)) throw invalid(`study.spec.constraints[${i}].name`, `duplicate metric name "${c}"`);
    names.add(c);
  });
  if (!(Number.isSafeInteger(spec.maxTrials) && spec.maxTrials >= 0)) throw invalid("study.spec.max_trials", "must be an integer >= 0");
  if (spec.heartbeatTimeoutMs === 0) spec.heartbeatTimeoutMs = DEFAULT_HEARTBEAT_TIMEOUT_MS;
  if (!(spec.heartbeatTimeoutMs >= MIN_HEARTBEAT_TIMEOUT_MS && spec.heartbeatTimeoutMs <= MAX_HEARTBEAT_TIMEOUT_MS)) {
    throw invalid("study.spec.heartbeat_timeout", "must be between 1 s and 7 days");
  }
  if (!(Number.isSafeInteger(spec.maxStaleRetries) && spec.maxStaleRetries >= 0 && spec.maxStaleRetries <= MAX_STALE_RETRIES)) {
    throw invalid("study.spec.max_stale_retries", `must be an integer in [0, ${MAX_STALE_RETRIES}]`);
  }
  const { resolved } = assembleParts(study, true);
  study.resolvedAlgorithm = resolved;
}

/**
 * `creating`: the study is being created, so a named pruner other than
 * "none" is refused for several objectives (pruning looks at one objective
 * only). A stored study is rebuilt as it was accepted.
 */
function assembleParts(study: Study, creating = false) {
  const space = compileSpace(study.spec.space, "study.spec.search_space");
  // A study runs what was resolved when it was created (auto's choice is
  // frozen then, whatever max_trials later becomes).
  const algorithm = study.resolvedAlgorithm ? { ...study.spec.algorithm, name: study.resolvedAlgorithm } : study.spec.algorithm;
  const hints = { objectives: study.spec.objectives.length, maxTrials: study.spec.maxTrials };
  const { sampler, resolved } = createSampler(algorithm, space, "study.spec.algorithm", hints);
  const directions = creating ? study.spec.objectives.map((o) => o.direction) : undefined;
  const pruner = createPruner(study.spec.pruner as PrunerSpec, "study.spec.pruner", directions);
  return { space, sampler, resolved, pruner };
}

/** The serving runtime of a validated (or loaded) study and its trials. */
export function buildRuntime(study: Study, trials: Trial[], now: number): StudyRuntime {
  const { space, sampler, pruner } = assembleParts(study);
  return new StudyRuntime(study, space, sampler, pruner, trials, now);
}
