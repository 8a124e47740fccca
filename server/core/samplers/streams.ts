/**
 * Stream keys for createRng: every sampler derives its generators from
 * (seed, ..., stream), so two purposes never share a random sequence even for
 * the same seed and trial id. Values are arbitrary but must stay distinct and
 * must never change (they fix what a given seed suggests).
 */
export const STREAM_RANDOM = 0x52_41_4e_44; // "RAND"
export const STREAM_GRID_ORDER = 0x47_52_49_44; // "GRID"
export const STREAM_SOBOL_SCRAMBLE = 0x53_4f_42_4c; // "SOBL"
export const STREAM_HALTON_SCRAMBLE = 0x48_41_4c_54; // "HALT"
export const STREAM_TPE = 0x54_50_45_53; // "TPES"
export const STREAM_TPE_CAP = 0x54_50_45_43; // "TPEC": subsampling past TPE's kernel cap
