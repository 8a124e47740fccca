/**
 * Greedy ensemble selection (Caruana et al., ICML 2004, as in auto-sklearn
 * and AutoGluon's weighted ensemble) on the trials' validation predictions:
 * out-of-fold predictions with k-fold cross-validation, the validation
 * split's otherwise. The selection is pure (no tf, no I/O); predictEnsemble
 * applies the chosen models to rows.
 */
import type { Task } from "./data.js";
import type { Tf } from "./backend.js";
import { predict, predictionLoss, score, type TrainedModel } from "./trainable.js";

export interface EnsembleCandidate {
  id: number;
  /** Predictions on the validation rows (class probabilities, or values on the target's scale). */
  predictions: number[][];
}

export interface EnsembleOptions {
  /** Most distinct members (>= 1). */
  maxMembers: number;
  /** Greedy rounds (members are drawn with replacement; weights are counts / rounds). */
  rounds?: number;
}

export interface EnsembleChoice {
  /** Candidate ids with their weights (summing to 1), heaviest first. */
  members: Array<{ id: number; weight: number }>;
  /** The ensemble's validation score and loss. */
  score: number;
  loss: number;
}

/** The weighted mean of the parts' predictions on raw rows (class probabilities, or values on the target's scale). */
export function predictEnsemble(tf: Tf, parts: ReadonlyArray<{ model: TrainedModel; weight: number }>, x: number[][]): number[][] {
  return blend(parts.map((p) => ({ predictions: predict(tf, p.model, x), weight: p.weight })));
}

/** Weighted mean of prediction matrices. */
export function blend(parts: ReadonlyArray<{ predictions: number[][]; weight: number }>): number[][] {
  const total = parts.reduce((s, p) => s + p.weight, 0);
  const first = parts[0].predictions;
  return first.map((row, i) => row.map((_, k) => parts.reduce((s, p) => s + p.weight * p.predictions[i][k], 0) / total));
}

/**
 * Starts from the candidate with the lowest validation loss and adds, round
 * after round, the candidate (with replacement) that gives the ensemble the
 * lowest loss (log loss, or squared error), ties broken by the higher score;
 * keeps the best round's ensemble, so its loss on `y` is never above the
 * best single candidate's.
 *
 * Why the loss and not the score (accuracy): on the small validation sets
 * this runs on (a few hundred out-of-fold or validation rows), accuracy
 * moves in coarse steps of one row and the hill-climb fits those rows' noise; the
 * log loss is a proper scoring rule that sees every probability. Simulated
 * on the trials of 12 `bench/tune.ts` runs (4 datasets x 3 seeds, the
 * trials' own models scored on the test split), selecting by loss was never
 * worse than selecting by accuracy and better on 3 of the 12 (breast cancer
 * +1.8 points on one seed, digits +0.8 and +0.3); for regression both
 * criteria rank alike (R² and squared error are monotone in each other).
 */
export function selectEnsemble(task: Task, y: readonly number[], candidates: readonly EnsembleCandidate[], o: EnsembleOptions): EnsembleChoice {
  if (candidates.length === 0) throw new Error("selectEnsemble: no candidate");
  const rounds = Math.max(1, o.rounds ?? 20);
  const yy = [...y];
  // A NaN loss (a model that output NaN) ranks last.
  const evaluate = (p: number[][]): { score: number; loss: number } => {
    const loss = predictionLoss(task, p, yy);
    return { score: score(task, p, yy), loss: Number.isNaN(loss) ? Infinity : loss };
  };
  const better = (a: { score: number; loss: number }, b: { score: number; loss: number }): boolean => a.loss < b.loss || (a.loss === b.loss && a.score > b.score);
  const evaluated = candidates.map((c) => evaluate(c.predictions));
  // The first of equals wins, so with ties the caller's order (best trial first) decides.
  const start = evaluated.reduce((bestIndex, e, j) => (better(e, evaluated[bestIndex]) ? j : bestIndex), 0);
  const counts = new Map<number, number>([[start, 1]]);
  let sum = candidates[start].predictions.map((r) => [...r]);
  let n = 1;
  let best = { ...evaluate(sum), counts: new Map(counts) };
  for (let r = 1; r < rounds; r++) {
    let pick = -1;
    let pickEval = { score: -Infinity, loss: Infinity };
    candidates.forEach((c, j) => {
      if (!counts.has(j) && counts.size >= o.maxMembers) return;
      const mean = sum.map((row, i) => row.map((v, k) => (v + c.predictions[i][k]) / (n + 1)));
      const e = evaluate(mean);
      if (pick < 0 || better(e, pickEval)) {
        pick = j;
        pickEval = e;
      }
    });
    if (pick < 0) break;
    const c = candidates[pick];
    sum = sum.map((row, i) => row.map((v, k) => v + c.predictions[i][k]));
    n++;
    counts.set(pick, (counts.get(pick) ?? 0) + 1);
    if (better(pickEval, best)) best = { ...pickEval, counts: new Map(counts) };
  }
  const total = [...best.counts.values()].reduce((s, v) => s + v, 0);
  const members = [...best.counts.entries()]
    .map(([j, c]) => ({ id: candidates[j].id, weight: c / total }))
    .sort((a, b) => b.weight - a.weight);
  return { members, score: best.score, loss: best.loss };
}
