/**
 * Acquisition functions, all to be maximised, on standardised outputs of a
 * minimisation problem:
 *
 * - "logei": log expected improvement over `best`, log EI = log sigma +
 *   log h((best - mean) / sigma), numerically safe far from the incumbent
 *   (see special.ts), so the optimiser still sees a slope where EI itself
 *   underflows to 0.
 * - "ucb": the lower confidence bound, negated: -(mean - sqrt(beta) sigma).
 *
 * Constraints (feasible when c <= 0) add the log probability of feasibility
 * of each constraint GP: log PoF = sum_c log Phi((t_c - mean_c) / sigma_c).
 * With no feasible observation yet, `best` is undefined and the acquisition
 * is the log PoF alone (find the feasible region first); without constraints
 * and without `best` (not reached by the sampler) it is log sigma.
 */
import type { GpPosterior } from "./posterior.js";
import { dLogH, logH, logNormCdf, normPdfOverCdf } from "./special.js";

export type AcquisitionKind = "logei" | "ucb";

export interface ConstraintModel {
  gp: GpPosterior;
  /** The feasibility bound in the GP's standardised units ((0 - mean) / sd). */
  threshold: number;
}

export interface Acquisition {
  kind: AcquisitionKind;
  objective: GpPosterior;
  /** Best (lowest) standardised objective among feasible observations; undefined when none is feasible. */
  best: number | undefined;
  /** UCB exploration weight. */
  beta: number;
  constraints: readonly ConstraintModel[];
}

/** log EI for a minimisation problem at posterior (mean, sd). */
export function logExpectedImprovement(mean: number, sd: number, best: number): number {
  return Math.log(sd) + logH((best - mean) / sd);
}

/** Value of the acquisition at a point (features), to maximise. */
export function acquisitionValue(acq: Acquisition, point: ArrayLike<number>): number {
  let v = 0;
  if (acq.best !== undefined || acq.constraints.length === 0) {
    const p = acq.objective.predict(point);
    const sd = Math.sqrt(p.variance);
    if (acq.kind === "ucb") v += -(p.mean - Math.sqrt(acq.beta) * sd);
    else if (acq.best === undefined) v += Math.log(sd);
    else v += logExpectedImprovement(p.mean, sd, acq.best);
  }
  for (const c of acq.constraints) {
    const p = c.gp.predict(point);
    v += logNormCdf((c.threshold - p.mean) / Math.sqrt(p.variance));
  }
  return v;
}

/**
 * Value and gradient (into `grad`, length D) of the acquisition; scratch
 * buffers gm / gv of length D are reused across calls.
 */
export function acquisitionValueAndGradient(
  acq: Acquisition,
  point: ArrayLike<number>,
  grad: Float64Array,
  gm: Float64Array,
  gv: Float64Array,
): number {
  grad.fill(0);
  const d = grad.length;
  let v = 0;
  if (acq.best !== undefined || acq.constraints.length === 0) {
    const p = acq.objective.predictWithGradient(point, gm, gv);
    const sd = Math.sqrt(p.variance);
    let dMean: number;
    let dSd: number;
    if (acq.kind === "ucb") {
      const sb = Math.sqrt(acq.beta);
      v += -(p.mean - sb * sd);
      dMean = -1;
      dSd = sb;
    } else if (acq.best === undefined) {
      // Nothing to improve on (cannot happen with a complete trial): pure exploration.
      v += Math.log(sd);
      dMean = 0;
      dSd = 1 / sd;
    } else {
      const z = (acq.best - p.mean) / sd;
      v += Math.log(sd) + logH(z);
      const dz = dLogH(z);
      dMean = -dz / sd;
      dSd = (1 - dz * z) / sd;
    }
    const dVar = dSd / (2 * sd);
    for (let j = 0; j < d; j++) grad[j] += dMean * gm[j] + dVar * gv[j];
  }
  for (const c of acq.constraints) {
    const p = c.gp.predictWithGradient(point, gm, gv);
    const sd = Math.sqrt(p.variance);
    const u = (c.threshold - p.mean) / sd;
    v += logNormCdf(u);
    const du = normPdfOverCdf(u);
    const dMean = -du / sd;
    const dVar = (-du * u) / sd / (2 * sd);
    for (let j = 0; j < d; j++) grad[j] += dMean * gm[j] + dVar * gv[j];
  }
  return v;
}
