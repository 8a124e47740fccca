/**
 * Sobol low-discrepancy sequence in 32-bit fixed point, with an optional
 * Owen-style (nested uniform) scramble.
 *
 * Points come in Gray-code order (as in SciPy and most libraries): the first
 * 2^m points are the same set as in natural order, so every prefix of length
 * 2^m is a (t, m, s)-net.
 */
import { SOBOL_DIRECTIONS } from "./sobol-directions.js";

/** Dimensions with Joe-Kuo direction numbers (dimension 0 needs none). */
export const SOBOL_MAX_DIMS = SOBOL_DIRECTIONS.length + 1;

const BITS = 32;
const TWO_POW_32 = 4294967296;

/** Direction numbers V_1..V_32 per dimension (V_k = m_k * 2^(32-k)), built on first use. */
const directionCache = new Map<number, Uint32Array>();

function buildDirections(dim: number): Uint32Array {
  const v = new Uint32Array(BITS);
  if (dim === 0) {
    // van der Corput: m_k = 1 for every k.
    for (let k = 0; k < BITS; k++) v[k] = 2 ** (BITS - 1 - k);
    return v;
  }
  const entry = SOBOL_DIRECTIONS[dim - 1];
  if (entry === undefined) throw new RangeError(`Sobol dimension ${dim} is beyond the table (${SOBOL_MAX_DIMS})`);
  const [poly = 1, ...m] = entry;
  const s = m.length;
  for (let k = 0; k < s; k++) v[k] = m[k] * 2 ** (BITS - 1 - k);
  // Bratley-Fox recurrence on the scaled numbers: with poly
  // x^s + a_1 x^(s-1) + ... + a_(s-1) x + 1,
  // V_k = a_1 V_(k-1) ^ ... ^ a_(s-1) V_(k-s+1) ^ V_(k-s) ^ (V_(k-s) >> s).
  for (let k = s; k < BITS; k++) {
    let x = v[k - s] ^ (v[k - s] >>> s);
    for (let i = 1; i < s; i++) {
      if ((poly >>> (s - i)) & 1) x ^= v[k - i];
    }
    v[k] = x >>> 0;
  }
  return v;
}

function directions(dim: number): Uint32Array {
  let v = directionCache.get(dim);
  if (v === undefined) {
    v = buildDirections(dim);
    directionCache.set(dim, v);
  }
  return v;
}

/**
 * Coordinate `dim` of Sobol point `index` as a 32-bit integer (the point is
 * this / 2^32). Indices wrap at 2^32, far beyond any study.
 */
export function sobolInt(index: number, dim: number): number {
  const n = index % TWO_POW_32 >>> 0;
  let gray = (n ^ (n >>> 1)) >>> 0;
  const v = directions(dim);
  let x = 0;
  for (let k = 0; gray !== 0; k++, gray >>>= 1) {
    if (gray & 1) x ^= v[k];
  }
  return x >>> 0;
}

function reverseBits32(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return ((x >>> 16) | (x << 16)) >>> 0;
}

/**
 * Laine-Karras style hash, with the constants of N. Vegdahl, "Building a
 * better LK hash" (2021). Every step (xor with an even multiple, add, multiply
 * by an odd number) is a bijection in which bit i depends only on bits <= i,
 * so on bit-reversed input it is a nested uniform (Owen) scramble.
 */
function lkHash(x: number, seed: number): number {
  x ^= Math.imul(x, 0x3d20adea);
  x = (x + seed) | 0;
  x = Math.imul(x, (seed >>> 16) | 1);
  x ^= Math.imul(x, 0x05526c56);
  x ^= Math.imul(x, 0x53a22864);
  return x >>> 0;
}

/**
 * Owen-scramble a 32-bit fixed-point coordinate (Burley, "Practical
 * hash-based Owen scrambling", JCGT 2020): each output bit is flipped by a
 * hash of the bits above it, which keeps the net structure (each dyadic
 * interval still holds its share of points) while randomising the pattern.
 */
export function owenScramble(x: number, seed: number): number {
  return reverseBits32(lkHash(reverseBits32(x), seed >>> 0));
}

/** 32-bit fixed point to [0, 1). */
export const fixedToUnit = (x: number): number => x / TWO_POW_32;
