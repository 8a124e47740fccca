/**
 * Special functions of the standard normal that the acquisition functions
 * need in log space: the scaled complementary error function erfcx, log Phi,
 * and log h(z) with h(z) = phi(z) + z Phi(z), the "expected improvement
 * function" (EI = sigma h(z)).
 *
 * Hand-written rather than taken from @stdlib: only erfcx is needed, the
 * formulas are short, and the log-EI helper needs its own asymptotic branch
 * anyway (1 - |z| Phi(z) / phi(z) cancels catastrophically for large |z|).
 * Accuracy (checked against mpmath at 50 digits in the unit tests): erfcx to
 * about 1e-14 relative everywhere, log h(z) to about 1e-13 relative for
 * z in [-1e150, 40].
 */

const SQRT_PI = Math.sqrt(Math.PI);
const SQRT2 = Math.SQRT2;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const SQRT_HALF_PI = Math.sqrt(Math.PI / 2);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Below this the power series is used, above it the continued fraction. */
const ERFCX_SERIES_MAX = 1.25;
/** Above |z| = this the asymptotic series gives 1 - |z| Phi(z) / phi(z). */
const ASYMPTOTIC_Z = 10;

/**
 * erfcx(x) = exp(x^2) erfc(x) for x >= 0 (callers fold negative arguments;
 * for x < 0 this returns the exact formula, which overflows past x = -26).
 *
 * x < 1.25: erfcx = exp(x^2) - (2 / sqrt(pi)) x S(x), with the all-positive
 * series S = sum_n (2x^2)^n / (2n+1)!! (Abramowitz & Stegun 7.1.6), which has
 * no cancellation of its own; the final subtraction loses at most
 * log10(exp(1.25^2) / erfcx(1.25)) ~ 1.1 digits.
 * x >= 1.25: Laplace's continued fraction (A&S 7.1.14)
 *   erfcx(x) = (1/sqrt(pi)) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))),
 * evaluated by the modified Lentz method; it needs about 125 terms at 1.25,
 * under 60 at 2 and a handful for large x.
 */
export function erfcx(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) {
    // Not used by this module; kept exact for completeness.
    return 2 * Math.exp(x * x) - erfcx(-x);
  }
  if (x < ERFCX_SERIES_MAX) {
    const t = 2 * x * x;
    let term = 1;
    let sum = 1;
    for (let n = 1; n < 200; n++) {
      term *= t / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return Math.exp(x * x) - (2 / SQRT_PI) * x * sum;
  }
  if (x === Infinity) return 0;
  // Modified Lentz for f = b0 + a1 / (b1 + a2 / (b2 + ...)), b_k = x, a_k = k / 2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    c = x + a / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (SQRT_PI * f);
}

/** Standard normal density. */
export function normPdf(z: number): number {
  return Math.exp(-0.5 * z * z - LOG_SQRT_2PI);
}

/** log of the standard normal density. */
export function logNormPdf(z: number): number {
  return -0.5 * z * z - LOG_SQRT_2PI;
}

/** Standard normal CDF Phi(z), accurate in relative terms in both tails. */
export function normCdf(z: number): number {
  if (z < 0) return 0.5 * Math.exp(-0.5 * z * z) * erfcx(-z / SQRT2);
  return 1 - 0.5 * Math.exp(-0.5 * z * z) * erfcx(z / SQRT2);
}

/** log Phi(z), finite for every finite z (about -z^2/2 for very negative z). */
export function logNormCdf(z: number): number {
  if (z < 0) return -0.5 * z * z + Math.log(0.5 * erfcx(-z / SQRT2));
  return Math.log1p(-0.5 * Math.exp(-0.5 * z * z) * erfcx(z / SQRT2));
}

/** phi(z) / Phi(z) (the inverse Mills ratio of -z): d log Phi / dz. */
export function normPdfOverCdf(z: number): number {
  if (z < 0) return SQRT_2_OVER_PI / erfcx(-z / SQRT2);
  return normPdf(z) / normCdf(z);
}

/**
 * For z < -1, h(z) / phi(z) = 1 - |z| Phi(z) / phi(z) = 1 - t sqrt(pi) erfcx(t)
 * with t = |z| / sqrt(2), returned as s with h / phi = s / z^2 (s -> 1 as
 * z -> -inf), so that callers never form z^2 for huge |z|. For |z| >= 10 the
 * asymptotic series s = 1 - 3/z^2 + 15/z^4 - ... (A&S 7.1.23), summed until
 * its terms stop shrinking, avoids the cancellation of the direct formula.
 */
function scaledHOverPhi(z: number): number {
  const a = -z;
  if (a < ASYMPTOTIC_Z) return (1 - a * SQRT_HALF_PI * erfcx(a / SQRT2)) * a * a;
  const inv = 1 / a / a;
  let term = 1;
  let sum = 1;
  for (let n = 1; n < 60; n++) {
    const next = -term * (2 * n + 1) * inv;
    if (Math.abs(next) >= Math.abs(term) || Math.abs(next) < 1e-18) break;
    sum += next;
    term = next;
  }
  return sum;
}

/**
 * log h(z), h(z) = phi(z) + z Phi(z) > 0: log EI = log sigma + log h(z) with
 * z = (best - mean) / sigma. Stable for very negative z, where EI underflows
 * long before its logarithm stops carrying information (Ament et al.,
 * "Unexpected improvements to expected improvement", NeurIPS 2023).
 */
export function logH(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z === Infinity) return Infinity;
  if (z === -Infinity) return -Infinity;
  if (z >= -1) {
    const h = normPdf(z) + z * normCdf(z);
    return Math.log(h);
  }
  return logNormPdf(z) + Math.log(scaledHOverPhi(z)) - 2 * Math.log(-z);
}

/**
 * d log h / dz = Phi(z) / h(z) (h' = Phi), stable for very negative z, where
 * it tends to |z|.
 */
export function dLogH(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z >= -1) return normCdf(z) / (normPdf(z) + z * normCdf(z));
  if (z === -Infinity) return Infinity;
  // With h / phi = s / z^2: Phi / phi = (1 - s / z^2) / |z|, so
  // Phi / h = (1 - s / z^2) |z| / s = (|z| - s / |z|) / s.
  const a = -z;
  const s = scaledHOverPhi(z);
  return (a - s / a) / s;
}
