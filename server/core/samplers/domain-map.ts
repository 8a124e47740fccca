/**
 * Mapping between the unit interval and scalar domains, shared by the random,
 * quasi-random and grid samplers so every sampler honours bounds, steps and
 * log scales the same way.
 */
import {
  floatGridSize,
  intGridSize,
  scalarInDomain,
  type FloatDomain,
  type IntDomain,
  type ScalarDomain,
  type ScalarValue,
} from "../space.js";

const clamp = (x: number, low: number, high: number): number => Math.min(high, Math.max(low, x));

/**
 * Drop the last digits of floating noise (0.1 + 2 * 0.1 gives
 * 0.30000000000000004): suggestions read better and compare equal to the
 * values users type. Kept only when the tidy value is still legal, which guards
 * against domains so fine that 15 digits are not enough.
 */
function tidy(x: number, d: FloatDomain): number {
  const t = Number(x.toPrecision(15));
  return scalarInDomain(t, d) ? t : x;
}

/** Number of values of a discrete domain; undefined for a continuous float. */
export function discreteSize(d: ScalarDomain): number | undefined {
  switch (d.type) {
    case "categorical":
      return d.choices.length;
    case "int":
      return intGridSize(d);
    case "float":
      return floatGridSize(d);
  }
}

/** The k-th value (0-based) of a float with a step; the last one is `high` exactly. */
export function floatStepValue(d: FloatDomain, k: number): number {
  const n = floatGridSize(d) ?? 1;
  if (k >= n - 1) return n === 1 ? d.low : d.high;
  return clamp(tidy(d.low + k * (d.step ?? 0), d), d.low, d.high);
}

/** The k-th value (0-based) of an int domain. */
export function intStepValue(d: IntDomain, k: number): number {
  return Math.min(d.high, d.low + k * d.step);
}

/** Nearest legal value of a numeric domain to x (rounded onto the step grid, clamped). */
export function snapToDomain(x: number, d: FloatDomain | IntDomain): number {
  if (d.type === "int") {
    const k = clamp(Math.round((x - d.low) / d.step), 0, intGridSize(d) - 1);
    return intStepValue(d, k);
  }
  if (d.step === undefined) return clamp(x, d.low, d.high);
  const n = floatGridSize(d) ?? 1;
  return floatStepValue(d, clamp(Math.round((x - d.low) / d.step), 0, n - 1));
}

/** Index in [0, n) of the cell of u in n equal cells; u = 1 (rounding) stays in range. */
const cell = (u: number, n: number): number => Math.min(n - 1, Math.floor(u * n));

/** Log-uniform in [a, b] (a, b > 0) from u in [0, 1). */
const logScale = (u: number, a: number, b: number): number => Math.exp(Math.log(a) + u * (Math.log(b) - Math.log(a)));

/**
 * The value of `d` at unit coordinate u in [0, 1): uniform over the domain
 * (log-uniform with log) when u is. Stepped domains give every step the same
 * mass, except log ints, which give value v the mass of [v - 0.5, v + 0.5] in
 * log space so small values are not starved.
 */
export function fromUnit(u: number, d: ScalarDomain): ScalarValue {
  switch (d.type) {
    case "categorical":
      return d.choices[cell(u, d.choices.length)];
    case "int":
      if (d.log) return snapToDomain(logScale(u, d.low - 0.5, d.high + 0.5), d);
      return intStepValue(d, cell(u, intGridSize(d)));
    case "float":
      if (d.step !== undefined) return floatStepValue(d, cell(u, floatGridSize(d) ?? 1));
      if (d.low === d.high) return d.low;
      if (d.log) return clamp(logScale(u, d.low, d.high), d.low, d.high);
      return clamp(d.low + u * (d.high - d.low), d.low, d.high);
  }
}

/**
 * Every value of a discrete domain in order (categorical choices, stepped
 * ints or floats); undefined for a continuous float. Callers cap the size
 * first with discreteSize.
 */
export function discreteValues(d: ScalarDomain): ScalarValue[] | undefined {
  const n = discreteSize(d);
  if (n === undefined) return undefined;
  switch (d.type) {
    case "categorical":
      return [...d.choices];
    case "int":
      return Array.from({ length: n }, (_, k) => intStepValue(d, k));
    case "float":
      return Array.from({ length: n }, (_, k) => floatStepValue(d, k));
  }
}

/**
 * n points spread evenly over a numeric domain (geometrically with log), both
 * ends included; one point means the lower bound. Stepped domains snap each
 * point to the nearest step and drop the duplicates this creates.
 */
export function spacedValues(d: FloatDomain | IntDomain, n: number): number[] {
  if (n === 1 || d.low === d.high) return [d.low];
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = k / (n - 1);
    let x: number;
    if (k === 0) x = d.low;
    else if (k === n - 1) x = d.high;
    else x = d.log ? logScale(t, d.low, d.high) : d.low + t * (d.high - d.low);
    const v = d.type === "float" && d.step === undefined ? clamp(tidy(x, d), d.low, d.high) : snapToDomain(x, d);
    if (out[out.length - 1] !== v) out.push(v);
  }
  return out;
}
