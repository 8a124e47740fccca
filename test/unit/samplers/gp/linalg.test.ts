import { describe, expect, it } from "vitest";
import {
  cholInverse,
  cholLogDet,
  choleskyInPlace,
  choleskyWithJitter,
  cholSolve,
  solveLower,
  solveUpperT,
} from "../../../../server/core/samplers/gp/linalg.js";

/** The textbook example: A = L L^T with L = [[2,0,0],[6,1,0],[-8,5,3]]. */
const A = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
const L = [2, 0, 0, 6, 1, 0, -8, 5, 3];

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}

describe("Cholesky", () => {
  it("factors a known matrix exactly", () => {
    const f = A.slice();
    expect(choleskyInPlace(f, 3)).toBe(true);
    expect([...f]).toEqual(L);
    expect(cholLogDet(f, 3)).toBeCloseTo(2 * Math.log(6), 14);
  });

  it("solves A x = b and the triangular systems", () => {
    const f = A.slice();
    choleskyInPlace(f, 3);
    // x = [1, 2, 3] -> b = A x
    const x = cholSolve(f, 3, [-20, -43, 192]);
    [1, 2, 3].forEach((v, i) => expect(x[i]).toBeCloseTo(v, 12));
    // L y = [2, 7, -3] has y = [1, 1, 0]; L^T z = [2, 1, 3] has z = [-3, -4, 1]... checked by substitution.
    const y = solveLower(f, 3, [2, 7, -3], new Float64Array(3));
    expect([...y]).toEqual([1, 1, 0]);
    const z = solveUpperT(f, 3, [16, -4, 3], new Float64Array(3));
    // L^T = [[2,6,-8],[0,1,5],[0,0,3]]: z3 = 1, z2 = -4 - 5 = -9, z1 = (16 + 54 + 8) / 2 = 39
    expect([...z]).toEqual([39, -9, 1]);
  });

  it("inverts through the factor", () => {
    const f = A.slice();
    choleskyInPlace(f, 3);
    const inv = cholInverse(f, 3);
    const id = matmul(A, inv, 3);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(id[i * 3 + j]).toBeCloseTo(i === j ? 1 : 0, 10);
    // Known entry: (A^-1)_33 = 1 / 9 (last row of L^-1 is [.., .., 1/3] and nothing below).
    expect(inv[8]).toBeCloseTo(1 / 9, 14);
  });

  it("matches a random SPD matrix rebuilt from its factor (n = 40)", () => {
    const n = 40;
    const b = new Float64Array(n * n);
    let s = 1;
    const rnd = (): number => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (let i = 0; i < n * n; i++) b[i] = rnd();
    const bt = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) bt[i * n + j] = b[j * n + i];
    const a = matmul(b, bt, n);
    for (let i = 0; i < n; i++) a[i * n + i] += n;
    const f = a.slice();
    expect(choleskyInPlace(f, n)).toBe(true);
    const ft = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ft[i * n + j] = f[j * n + i];
    const back = matmul(f, ft, n);
    for (let i = 0; i < n * n; i++) expect(back[i]).toBeCloseTo(a[i], 9);
    const inv = cholInverse(f, n);
    const id = matmul(a, inv, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(id[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 9);
  });

  it("rejects singular / indefinite matrices and rescues them with jitter", () => {
    const sing = Float64Array.from([1, 1, 1, 1]);
    expect(choleskyInPlace(sing.slice(), 2)).toBe(false);
    const r = choleskyWithJitter(sing, 2);
    expect(r).not.toBeNull();
    expect(r?.jitter).toBeGreaterThan(0);
    expect(r?.jitter).toBeLessThan(1e-6);
    expect(choleskyInPlace(Float64Array.from([1, 2, 2, 1]), 2)).toBe(false);
    expect(choleskyWithJitter(Float64Array.from([NaN, 0, 0, 1]), 2)).toBeNull();
    expect(choleskyWithJitter(A, 3)?.jitter).toBe(0);
  });
});
