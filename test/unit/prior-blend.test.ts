/**
 * The portfolio's share of hpo tune's final ensemble (prior-blend.ts): the
 * mixing, and the bootstrap out-of-bag choice on synthetic validation
 * predictions where the answer is known: many candidates that only fit the
 * validation rows' noise (the winner's curse the portfolio guards against),
 * a search candidate that is genuinely better than the portfolio, and search
 * candidates only slightly better (where the one-standard-error rule leans
 * on the portfolio).
 */
import { describe, expect, it } from "vitest";

import { seededRandom } from "../../gpu-runner/tfjs/data.js";
import type { EnsembleCandidate } from "../../gpu-runner/tfjs/ensemble.js";
import { choosePriorWeight, mixWithPrior, type PriorBlendChoice } from "../../gpu-runner/tfjs/prior-blend.js";

const N = 200;
const random = seededRandom(7);
const y = Array.from({ length: N }, () => (random() < 0.5 ? 0 : 1));

/** Probability q of the true class on every row. */
function calibrated(id: number, q: number): EnsembleCandidate {
  return { id, predictions: y.map((c) => (c === 1 ? [1 - q, q] : [q, 1 - q])) };
}

/** Confident predictions that are right on a random 75 % of rows: each candidate fits other rows by chance. */
function lucky(id: number, r: () => number): EnsembleCandidate {
  return { id, predictions: y.map((c) => (r() < 0.75 === (c === 1) ? [0.1, 0.9] : [0.9, 0.1])) };
}

/** Probability of the true class drawn per row from q ± spread / 2: candidates of equal expected quality that differ row by row. */
function noisy(id: number, q: number, spread: number, r: () => number): EnsembleCandidate {
  return {
    id,
    predictions: y.map((c) => {
      const p = Math.min(0.99, Math.max(0.01, q + (r() - 0.5) * spread));
      return c === 1 ? [1 - p, p] : [p, 1 - p];
    }),
  };
}

/** The chosen weight is the largest whose mean excess over the lowest is within `tolerance` standard deviations. */
function expectRule(choice: PriorBlendChoice, tolerance: number): void {
  const lowest = choice.outOfBag.find((x) => x.weight === choice.lowestLossWeight)!;
  expect(lowest.loss).toBe(Math.min(...choice.outOfBag.map((x) => x.loss)));
  expect(lowest.excess).toBe(0);
  const within = choice.outOfBag.filter((x) => x.weight >= choice.lowestLossWeight && x.excess <= tolerance * x.excessSd);
  expect(choice.weight).toBe(Math.max(choice.lowestLossWeight, ...within.map((x) => x.weight)));
}

describe("mixWithPrior", () => {
  const members = [
    { id: 7, weight: 0.75 },
    { id: 1, weight: 0.25 },
  ];
  it("gives the portfolio its share uniformly and merges trials in both", () => {
    const mixed = mixWithPrior(members, [0, 1, 2], 0.5);
    expect(mixed.reduce((s, m) => s + m.weight, 0)).toBeCloseTo(1, 12);
    expect(mixed.find((m) => m.id === 7)!.weight).toBeCloseTo(0.375, 12);
    expect(mixed.find((m) => m.id === 1)!.weight).toBeCloseTo(0.125 + 0.5 / 3, 12);
    expect(mixed.find((m) => m.id === 0)!.weight).toBeCloseTo(0.5 / 3, 12);
    // Heaviest first, ties by trial id.
    expect(mixed.map((m) => m.id)).toEqual([7, 1, 0, 2]);
  });

  it("leaves the selection alone at weight 0 or without a portfolio, and keeps only the portfolio at 1", () => {
    expect(mixWithPrior(members, [0, 1, 2], 0)).toEqual(members);
    expect(mixWithPrior(members, [], 0.5)).toEqual(members);
    expect(mixWithPrior(members, [0, 1], 1)).toEqual([
      { id: 0, weight: 0.5 },
      { id: 1, weight: 0.5 },
    ]);
  });
});

describe("choosePriorWeight", () => {
  const options = { maxMembers: 5, pool: 20, bootstraps: 60, seed: 3 };

  it("trusts the portfolio when the search's candidates only fit the validation rows' noise", () => {
    const r = seededRandom(11);
    const prior = [calibrated(0, 0.7), calibrated(1, 0.68), calibrated(2, 0.72)];
    const search = Array.from({ length: 37 }, (_, i) => lucky(3 + i, r));
    const choice = choosePriorWeight("classification", y, [...prior, ...search], [0, 1, 2], options);
    expect(choice.weight).toBeGreaterThanOrEqual(0.75);
    expect(choice.outOfBag.map((x) => x.weight)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    // Selection alone looks best on the rows it was chosen on, not out of bag.
    expect(choice.outOfBag[0].loss).toBeGreaterThan(choice.outOfBag[4].loss);
    // The out-of-bag accuracy: the portfolio is right on every row (0.7 on the true class), the lucky
    // candidates on about 75 % of rows they were not chosen on.
    expect(choice.outOfBag[4].score).toBe(1);
    expect(choice.outOfBag[0].score).toBeLessThan(0.95);
    expectRule(choice, 1);
  });

  it("keeps the selection when a search candidate is genuinely better than the portfolio", () => {
    const r = seededRandom(12);
    const prior = [calibrated(0, 0.6), calibrated(1, 0.62), calibrated(2, 0.58)];
    const search = [calibrated(3, 0.97), ...Array.from({ length: 10 }, (_, i) => lucky(4 + i, r))];
    const choice = choosePriorWeight("classification", y, [...prior, ...search], [0, 1, 2], options);
    expect(choice.weight).toBe(0);
    // Every share with the portfolio is worse by more than its standard deviation.
    for (const x of choice.outOfBag.slice(1)) expect(x.excess).toBeGreaterThan(x.excessSd);
    expectRule(choice, 1);
  });

  it("leans on the portfolio when the search is better by less than the out-of-bag estimate's spread", () => {
    // Search candidates 0.72 on the true class against the portfolio's 0.70, each row drawn with noise: the
    // selection has the lowest mean out-of-bag loss, but not by one standard deviation over the shares up to 0.5.
    const r = seededRandom(22);
    const prior = [noisy(0, 0.7, 0.6, r), noisy(1, 0.7, 0.6, r), noisy(2, 0.7, 0.6, r)];
    const search = Array.from({ length: 20 }, (_, i) => noisy(3 + i, 0.72, 0.6, r));
    const cands = [...prior, ...search];
    const oneSe = choosePriorWeight("classification", y, cands, [0, 1, 2], options);
    expect(oneSe.lowestLossWeight).toBe(0);
    expect(oneSe.weight).toBe(0.5);
    expectRule(oneSe, 1);
    // The whole portfolio is worse by more than one SD, so it is not taken.
    expect(oneSe.outOfBag[4].excess).toBeGreaterThan(oneSe.outOfBag[4].excessSd);
    // Tolerance 0: the lowest mean, on the same resamples (same losses).
    const lowest = choosePriorWeight("classification", y, cands, [0, 1, 2], { ...options, tolerance: 0 });
    expect(lowest.weight).toBe(0);
    expect(lowest.outOfBag).toEqual(oneSe.outOfBag);
  });

  it("is deterministic for a seed, and 0 without a completed portfolio trial", () => {
    const r = seededRandom(13);
    const cands = [calibrated(0, 0.7), ...Array.from({ length: 8 }, (_, i) => lucky(1 + i, r))];
    const a = choosePriorWeight("classification", y, cands, [0], options);
    const b = choosePriorWeight("classification", y, cands, [0], options);
    expect(b).toEqual(a);
    expect(choosePriorWeight("classification", y, cands, [99], options)).toEqual({ weight: 0, lowestLossWeight: 0, outOfBag: [] });
  });

  it("works on squared error for regression", () => {
    const r = seededRandom(14);
    const target = Array.from({ length: N }, () => r() * 10);
    const near = (id: number, spread: number): EnsembleCandidate => ({ id, predictions: target.map((v) => [v + (r() - 0.5) * spread]) });
    const choice = choosePriorWeight("regression", target, [near(0, 6), near(1, 6), near(2, 1)], [0, 1], options);
    expect(choice.weight).toBe(0);
    expectRule(choice, 1);
    // The portfolio alone: uniform noise of width 6 averaged over two trials, about 6^2 / 12 / 2 = 1.5.
    expect(choice.outOfBag[4].loss).toBeGreaterThan(1);
    expect(choice.outOfBag[0].loss).toBeLessThan(0.2);
  });
});
