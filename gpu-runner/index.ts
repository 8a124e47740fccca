/**
 * The GPU runner: runs a study's trials as local processes on this machine's
 * GPUs (or CPU slots) or as Slurm batch jobs. `hpo runner` is its command
 * line; see docs/RUNNER.md.
 */
export { Runner, RunnerSetupError } from "./runner.js";
export type { RunnerDeps, RunnerResult } from "./runner.js";
export { resolveRunnerOptions, readSpecFile, RunnerOptionsError, RUNNER_FLAGS, RUNNER_USAGE, DEFAULTS } from "./options.js";
export type { RunnerOptions, RawValues } from "./options.js";
export { parseMetricLine, LineSplitter } from "./metric-lines.js";
export type { MetricReport, ParsedLine } from "./metric-lines.js";
export { parseTemplate, checkPlaceholders, renderCommand, shellQuote, TemplateError } from "./command-template.js";
export { parseNvidiaSmi, queryNvidiaSmi, parseGpuList, selectGpus, NVIDIA_SMI_ARGS } from "./gpu-discovery.js";
export type { GpuInfo } from "./gpu-discovery.js";
export { planGpuSlots, planCpuSlots, planSlurmSlots } from "./slots.js";
export type { Slot } from "./slots.js";
export { plainParams, scheduleToJson } from "./trial-params.js";
export { RunnerMetrics } from "./runner-metrics.js";
export { TrialSupervisor } from "./trial-supervisor.js";
export type { RunnerApi, TrialEnd } from "./trial-supervisor.js";
