/**
 * Halton low-discrepancy sequence: coordinate j is the radical inverse of the
 * point index in the j-th prime base. Optionally scrambled with a random
 * affine permutation of the digits at every position, seeded per coordinate.
 */
import { createRng } from "../rng.js";
import { STREAM_HALTON_SCRAMBLE } from "./streams.js";

const ONE_MINUS_EPS = 1 - 2 ** -53;

const primeList: number[] = [2];

function isPrime(c: number): boolean {
  for (const p of primeList) {
    if (p * p > c) return true;
    if (c % p === 0) return false;
  }
  return true;
}

/** The j-th prime (0-based: 2, 3, 5, ...), grown on demand. */
export function nthPrime(j: number): number {
  for (let c = primeList[primeList.length - 1] + 1; primeList.length <= j; c++) {
    if (isPrime(c)) primeList.push(c);
  }
  return primeList[j];
}

/**
 * One coordinate of a (scrambled) Halton sequence. The scramble maps digit d
 * at position i to (a_i * d + c_i) mod b with a_i in [1, b), c_i in [0, b): a
 * bijection of the digits (b is prime), so the first b^k points still fall in
 * distinct cells of width b^-k. Unlike a single permutation fixing 0, it also
 * scrambles the zero digits past the end of the index, so the point is
 * randomised down to double precision (Owen's randomised Halton, linear form).
 */
export class HaltonCoordinate {
  readonly base: number;
  private readonly mult: Uint32Array | undefined;
  private readonly add: Uint32Array | undefined;

  /** scrambleKeys: rng keys for the digit permutations; undefined for the plain sequence. */
  constructor(base: number, scrambleKeys?: readonly number[]) {
    this.base = base;
    if (scrambleKeys === undefined) return;
    // Digits that still change a double: b^-digits < 2^-53.
    const digits = Math.ceil(53 / Math.log2(base));
    const rng = createRng(...scrambleKeys, base, STREAM_HALTON_SCRAMBLE);
    this.mult = new Uint32Array(digits);
    this.add = new Uint32Array(digits);
    for (let i = 0; i < digits; i++) {
      this.mult[i] = 1 + rng.int(base - 1);
      this.add[i] = rng.int(base);
    }
  }

  /** The coordinate of point `index` (an integer >= 0), in [0, 1). */
  value(index: number): number {
    const b = this.base;
    if (this.mult === undefined || this.add === undefined) return radicalInverse(index, b);
    let n = index;
    let u = 0;
    let scale = 1 / b;
    for (let i = 0; i < this.mult.length; i++, n = Math.floor(n / b), scale /= b) {
      u += ((this.mult[i] * (n % b) + this.add[i]) % b) * scale;
    }
    return Math.min(u, ONE_MINUS_EPS);
  }
}

/**
 * The plain radical inverse as one division of integers (digits reversed over
 * b^digits), so a point that is exactly k / b^j comes out correctly rounded
 * and lands in its own cell, not at the top of the one below.
 */
function radicalInverse(index: number, b: number): number {
  let reversed = 0;
  let denom = 1;
  for (let n = index; n > 0; n = Math.floor(n / b)) {
    reversed = reversed * b + (n % b);
    denom *= b;
  }
  return Math.min(reversed / denom, ONE_MINUS_EPS);
}
