/**
 * Variation operators on genes encoded on [0, 1] (see encoding.ts), with the
 * bounds of Deb's reference implementations.
 */
import type { Rng } from "../../rng.js";

const clamp01 = (u: number): number => (u < 0 ? 0 : u > 1 ? 1 : u);

/**
 * Simulated binary crossover (Deb & Agrawal 1995) of two coordinates on
 * [0, 1] with distribution index eta, bounded form (Deb's NSGA-II code).
 * Returns one of the two children, picked at random.
 */
export function sbx(x1: number, x2: number, eta: number, rng: Rng): number {
  if (Math.abs(x1 - x2) < 1e-14) return rng.next() < 0.5 ? x1 : x2;
  const y1 = Math.min(x1, x2);
  const y2 = Math.max(x1, x2);
  const u = rng.next();
  const spread = (beta: number): number => {
    const alpha = 2 - beta ** -(eta + 1);
    return u <= 1 / alpha ? (u * alpha) ** (1 / (eta + 1)) : (1 / (2 - u * alpha)) ** (1 / (eta + 1));
  };
  const c1 = 0.5 * (y1 + y2 - spread(1 + (2 * y1) / (y2 - y1)) * (y2 - y1));
  const c2 = 0.5 * (y1 + y2 + spread(1 + (2 * (1 - y2)) / (y2 - y1)) * (y2 - y1));
  return clamp01(rng.next() < 0.5 ? c1 : c2);
}

/** Polynomial mutation (Deb & Goyal 1996), bounded form, on [0, 1]. */
export function polynomialMutation(x: number, eta: number, rng: Rng): number {
  const u = rng.next();
  const pow = 1 / (eta + 1);
  let delta: number;
  if (u < 0.5) {
    const xy = 1 - x;
    const val = 2 * u + (1 - 2 * u) * xy ** (eta + 1);
    delta = val ** pow - 1;
  } else {
    const xy = x;
    const val = 2 * (1 - u) + 2 * (u - 0.5) * xy ** (eta + 1);
    delta = 1 - val ** pow;
  }
  return clamp01(x + delta);
}

/** Gaussian mutation with standard deviation sd, reflected into [0, 1]. */
export function gaussianMutation(x: number, sd: number, rng: Rng): number {
  let y = x + sd * rng.normal();
  // Reflect (at most a few times: sd is far below 1), then clamp.
  for (let i = 0; i < 4 && (y < 0 || y > 1); i++) y = y < 0 ? -y : 2 - y;
  return clamp01(y);
}
