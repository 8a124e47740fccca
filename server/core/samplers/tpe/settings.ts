/**
 * Tunables of the TPE sampler. The daemon uses the defaults (the study spec
 * has no TPE options); they follow Optuna 3.1's TPESampler so results can be
 * compared side by side, except where noted.
 */

export interface TpeSettings {
  /**
   * One Parzen estimator per group of dimensions that are active together
   * (joint kernels, Optuna's `multivariate=True, group=True`) rather than one
   * per dimension (Optuna's default, independent TPE). Default: false; the
   * factory's "tpe" name picks the variant (see samplers/index.ts).
   */
  multivariate: boolean;
  /**
   * Trials that carry information (COMPLETE, PRUNED, and FAILED unless
   * failedTrials is "ignore") before the model is used; until then proposals
   * come from the start-up sampler. Default 6, where Optuna's
   * n_startup_trials is 10: on the quality benchmark's 12 functions over 40
   * seeds, every value from 4 to 7 beat 10 against Optuna 3.1's TPE at both
   * budgets, and 6 did best (geometric-mean regret ratio 0.911 at 50 trials
   * and 1.000 at 200, against 1.051 and 1.120 with 10): the Parzen
   * estimators' prior kernel keeps the early model broad, so model-guided
   * proposals pay off sooner than ten random points (bench/README.md, "TPE
   * start-up trials"). The multivariate variant showed no difference
   * between 6 and 10 over the same 40 seeds, so both share it.
   */
  nStartupTrials: number;
  /** Candidates drawn from l(x) per decision; the best l(x)/g(x) wins. Default 24 (n_ei_candidates). */
  nEiCandidates: number;
  /**
   * Size of the "good" group given the number n of ranked trials (COMPLETE
   * and PRUNED). Default min(ceil(0.1 n), 25) (Optuna's default_gamma).
   */
  gamma: (n: number) => number;
  /**
   * Kernel weights of n observations in trial order (oldest first), before
   * the prior is added and the sum normalised. Default: Optuna's
   * default_weights (1 for the 25 most recent, a ramp from 1/n to 1 for older).
   */
  weights: (n: number) => Float64Array;
  /** Weight of the prior kernel (uniform-ish over the domain). Default 1.0. */
  priorWeight: number;
  /**
   * Lower bound on kernel bandwidths of range / min(100, 1 + kernels), which
   * keeps estimators from collapsing onto single points. Default true.
   */
  considerMagicClip: boolean;
  /**
   * Score candidates with a mixture whose kernels are weighted by their
   * bandwidth (weight x product of its continuous dimensions' bandwidths,
   * renormalised), as Optuna 3.1 effectively does: its truncated-normal log
   * density leaves out the -log(sigma) term, so wide kernels (the prior,
   * isolated observations) count for more. Kernels are still drawn by their
   * plain weights. false gives the textbook normalised mixture.
   * Default (undefined): true for the independent variant, where the quality
   * benchmark shows it clearly better at 50 trials (geo-mean regret ratio to
   * random 0.33 vs 0.43) and never worse; false for the multivariate one,
   * where it makes no difference on the benchmark but lets the prior
   * (bandwidth 1 in every dimension) swamp the joint kernels in small spaces.
   */
  bandwidthWeighted: boolean | undefined;
  /**
   * Independent variant: let the outermost kernels reach to the domain's ends
   * (bandwidth = distance to the bound). Default false.
   */
  considerEndpoints: boolean;
  /**
   * RUNNING and QUEUED trials join the "bad" group as if they had the worst
   * value (a constant liar), so parallel workers are steered apart.
   * Default true (Optuna's constant_liar defaults to false; a daemon serving
   * parallel workers wants it on).
   */
  constantLiar: boolean;
  /**
   * What FAILED trials (and COMPLETE trials whose values are NaN, infinite or
   * missing) count for: "bad" puts them in the bad group, so g(x) grows where
   * trials fail and proposals move away; "ignore" drops them (Optuna's
   * behaviour). Default "bad".
   */
  failedTrials: "bad" | "ignore";
  /**
   * With failures on record, also multiply l(x) / g(x) by an estimate of the
   * probability that x does not fail: n_ok s(x) / (n_ok s(x) + n_failed f(x)),
   * s and f Parzen estimators of the trials that succeeded and of those that
   * failed (the feasibility factor of constrained TPE, c-TPE). It makes the
   * sampler respect a sharp failing boundary next to a good region, where
   * g(x) alone is diluted by the good trials just inside. Needs failedTrials
   * "bad"; costs two more estimators only while failures exist. Default true.
   */
  failureModel: boolean;
  /**
   * Most observations one Parzen estimator is fitted to (per group and per
   * set: good, bad, succeeded, failed). Past it, a weight-preserving
   * subsample stands in for the set (TpeHistory.gather), which bounds the
   * cost of a suggestion whatever the history's size. Default 1000: a study
   * of up to about 1,000 trials never reaches it.
   */
  maxKernels: number;
  /** Start-up proposals: scrambled Sobol points ("quasi_random") or independent uniform draws. Default "quasi_random". */
  startup: "quasi_random" | "random";
}

/** Optuna's default_gamma: min(ceil(0.1 n), 25). */
export const defaultGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25);

/**
 * Optuna's default_weights: all ones below 25 observations; otherwise the 25
 * most recent get 1 and the older ones a linear ramp from 1/n up to 1.
 */
export function defaultWeights(n: number): Float64Array {
  const w = new Float64Array(n).fill(1);
  if (n < 25) return w;
  const ramp = n - 25;
  // numpy.linspace(1/n, 1, num=ramp)
  for (let i = 0; i < ramp; i++) w[i] = ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1);
  return w;
}

export const DEFAULT_TPE_SETTINGS: Readonly<TpeSettings> = Object.freeze({
  multivariate: false,
  nStartupTrials: 6,
  nEiCandidates: 24,
  gamma: defaultGamma,
  weights: defaultWeights,
  priorWeight: 1.0,
  considerMagicClip: true,
  considerEndpoints: false,
  bandwidthWeighted: undefined,
  constantLiar: true,
  failedTrials: "bad",
  failureModel: true,
  startup: "quasi_random",
  maxKernels: 1000,
});
