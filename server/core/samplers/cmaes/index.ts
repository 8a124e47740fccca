export { CmaEsSampler, STREAM_CMAES, STREAM_CMAES_RESTART, type CmaEsOptions } from "./sampler.js";
export type { CmaState } from "./cma.js";
