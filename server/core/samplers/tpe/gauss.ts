/**
 * Normal-distribution helpers for the Parzen estimators: log CDF, log mass
 * of an interval and truncated sampling, all stable in the far tails (they
 * work in log space, so a point 40 sigmas away still has a finite log
 * density and candidates keep a strict order).
 *
 * erfc uses the classic Chebyshev-fitted formula of Numerical Recipes
 * (fractional error below 1.2e-7 over the whole real line), written as
 * log erfc so it never underflows. That accuracy is far below what changes a
 * TPE decision and costs one exp per call, which matters: the estimators
 * evaluate it for every (candidate, kernel) pair of a stepped dimension.
 */

export const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const SQRT1_2 = Math.SQRT1_2;
const LN_HALF = Math.log(0.5);

/** The Chebyshev fit's exponent correction at t = 1 / (1 + z / 2). */
function erfcPoly(t: number): number {
  return (
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
  );
}

/** log(erfc(z)) for z >= 0, without underflow. */
export function logErfcPos(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  return Math.log(t) - z * z + erfcPoly(t);
}

/** erfc(z) for z >= 0 (underflows to 0 past z = 27). */
function erfcPos(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  return t * Math.exp(erfcPoly(t) - z * z);
}

/** erfc(x) for any real x. */
export function erfc(x: number): number {
  return x >= 0 ? erfcPos(x) : 2 - erfcPos(-x);
}

/** log Phi(x), Phi the standard normal CDF. */
export function logNdtr(x: number): number {
  if (x <= 0) return LN_HALF + logErfcPos(-x * SQRT1_2);
  return Math.log1p(-0.5 * erfcPos(x * SQRT1_2));
}

/** Phi(x) for x <= 0 (a lower tail: no cancellation). */
function lowerTail(x: number): number {
  return 0.5 * erfcPos(-x * SQRT1_2);
}

/** log(exp(lp) - exp(lq)) for lp > lq; NaN when the difference is not positive. */
function logDiff(lp: number, lq: number): number {
  const r = Math.exp(lq - lp);
  return r < 1 ? lp + Math.log1p(-r) : Number.NaN;
}

/** Below this width (in sigmas) an interval's mass comes from the density instead of a CDF difference. */
const NARROW = 0.01;

/**
 * log of the standard normal mass of a narrow interval [m - h, m + h]:
 * phi(m) * integral of exp(-m u - u^2 / 2) over [-h, h]. The exp(-m u) part
 * is integrated exactly (2 sinh(m h) / m, in log space), the u^2 / 2 part
 * approximated by exp(-h^2 / 6); relative error below h^2 / 3 (1e-5 at the
 * NARROW width), whatever m.
 */
function logNarrowMass(m: number, h: number): number {
  const y = Math.abs(m * h);
  let logInt: number;
  if (y < 1e-8) logInt = Math.log(2 * h);
  else if (y < 20) logInt = Math.log((2 * Math.sinh(y)) / Math.abs(m));
  else logInt = y + Math.log1p(-Math.exp(-2 * y)) - Math.log(Math.abs(m));
  return -0.5 * m * m - LOG_SQRT_2PI + logInt - (h * h) / 6;
}

/**
 * log(Phi(b) - Phi(a)) for a < b: the log probability that a standard normal
 * falls in [a, b]. Works in the tail where the mass is smaller (so neither
 * side cancels); narrow intervals use the density. -Infinity when a >= b.
 */
export function logGaussMass(a: number, b: number): number {
  if (!(b > a)) return Number.NEGATIVE_INFINITY;
  // Both tails beyond 9 sigmas: the mass is 1 up to 2e-19.
  if (a < -9 && b > 9) return 0;
  const w = b - a;
  if (w < NARROW) return logNarrowMass(0.5 * (a + b), 0.5 * w);
  let r: number;
  if (b <= 0) r = logDiff(logNdtr(b), logNdtr(a));
  else if (a >= 0) r = logDiff(logNdtr(-a), logNdtr(-b));
  else {
    // Central: 1 - Phi(a) - Phi(-b), both lower tails.
    const s = lowerTail(a) + lowerTail(-b);
    r = Math.log1p(-s);
  }
  // The CDF's fractional error can make a moderately narrow difference
  // vanish; the density estimate is then the better answer.
  return Number.isFinite(r) ? r : logNarrowMass(0.5 * (a + b), 0.5 * w);
}

/** log of the smaller tail of the standard normal at z: log Phi(-|z|). */
export function logSmallTail(z: number): number {
  return LN_HALF + logErfcPos(Math.abs(z) * SQRT1_2);
}

/**
 * logGaussMass(za, zb) from the small-tail logs of its ends (logSmallTail(za),
 * logSmallTail(zb)), for callers that share interval ends between many
 * intervals; falls back to logGaussMass where that would lose precision
 * (narrow or cancelling intervals).
 */
export function logGaussMassFromTails(za: number, zb: number, lta: number, ltb: number): number {
  if (!(zb > za)) return Number.NEGATIVE_INFINITY;
  if (zb - za >= NARROW) {
    let r: number;
    if (zb <= 0) r = logDiff(ltb, lta);
    else if (za >= 0) r = logDiff(lta, ltb);
    else r = Math.log1p(-Math.exp(lta) - Math.exp(ltb));
    // Accept unless the difference cancelled to below 1e-3 of the larger tail.
    if (Number.isFinite(r) && (za < 0 && zb > 0 ? true : r - Math.max(lta, ltb) > -6.9)) return r;
  }
  return logGaussMass(za, zb);
}

/** Log density of the standard normal. */
export const logPhi = (z: number): number => -0.5 * z * z - LOG_SQRT_2PI;
