/**
 * Greedy ensemble selection (Caruana et al., ICML 2004, as in auto-sklearn
 * and AutoGluon's weighted ensemble) on the trials' validation predictions:
 * out-of-fold predictions with k-fold cross-validation, the validation
 * split's otherwise. The selection is pure (no tf, no I/O); predictEnsemble
 * applies the chosen models to rows.
 */
import type { Task } from "./data.js";
import type { Tf } from "./backend.js";
import { logProbability, predict, score, type TrainedModel } from "./trainable.js";

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
  const rows = yy.length;
  const width = candidates[0].predictions[0]?.length ?? 1;
  // Flat copies: a round scores every candidate added to the running sum
  // without building the blended matrix (this runs 100 times more inside
  // prior-blend.ts's bootstrap). The loss reads one value per row (the true
  // class's probability, or the value), in the same order and with the same
  // arithmetic as predictionLoss; the score, which only breaks exact ties,
  // is computed only for those.
  const flat = candidates.map((c) => {
    const out = new Float64Array(rows * width);
    c.predictions.forEach((row, i) => {
      for (let k = 0; k < width; k++) out[i * width + k] = row[k];
    });
    return out;
  });
  const target = Int32Array.from(task === "classification" ? yy : yy.map(() => 0));
  const lossOf = (sum: Float64Array, add: Float64Array | undefined, count: number): number => {
    let total = 0;
    if (task === "classification") {
      for (let i = 0; i < rows; i++) {
        const at = i * width + target[i];
        total += logProbability((sum[at] + (add === undefined ? 0 : add[at])) / count);
      }
      total = -total / rows;
    } else {
      for (let i = 0; i < rows; i++) {
        total += ((sum[i] + (add === undefined ? 0 : add[i])) / count - yy[i]) ** 2;
      }
      total /= rows;
    }
    // A NaN loss (a model that output NaN) ranks last.
    return Number.isNaN(total) ? Infinity : total;
  };
  const scoreOf = (sum: Float64Array, add: Float64Array | undefined, count: number): number => {
    const matrix: number[][] = [];
    for (let i = 0; i < rows; i++) {
      const row: number[] = [];
      for (let k = 0; k < width; k++) row.push((sum[i * width + k] + (add === undefined ? 0 : add[i * width + k])) / count);
      matrix.push(row);
    }
    return score(task, matrix, yy);
  };
  const better = (a: { score: number; loss: number }, b: { score: number; loss: number }): boolean => a.loss < b.loss || (a.loss === b.loss && a.score > b.score);
  const zero = new Float64Array(rows * width);
  const losses = flat.map((f) => lossOf(zero, f, 1));
  const lowest = Math.min(...losses);
  const evaluated = flat.map((f, j) => ({ loss: losses[j], score: losses[j] === lowest ? scoreOf(zero, f, 1) : -Infinity }));
  // The first of equals wins, so with ties the caller's order (best trial first) decides.
  const start = evaluated.reduce((bestIndex, e, j) => (better(e, evaluated[bestIndex]) ? j : bestIndex), 0);
  const counts = new Map<number, number>([[start, 1]]);
  const sum = Float64Array.from(flat[start]);
  let n = 1;
  let best = { ...evaluated[start], counts: new Map(counts), sum: Float64Array.from(sum), n };
  for (let r = 1; r < rounds; r++) {
    let pick = -1;
    let pickEval = { score: -Infinity, loss: Infinity };
    flat.forEach((f, j) => {
      if (!counts.has(j) && counts.size >= o.maxMembers) return;
      const loss = lossOf(sum, f, n + 1);
      if (pick >= 0 && loss > pickEval.loss) return;
      if (pick < 0 || loss < pickEval.loss) {
        pick = j;
        pickEval = { loss, score: NaN }; // scored only if another candidate ties it
        return;
      }
      const e = { loss, score: scoreOf(sum, f, n + 1) };
      if (Number.isNaN(pickEval.score)) pickEval.score = scoreOf(sum, flat[pick], n + 1);
      if (better(e, pickEval)) {
        pick = j;
        pickEval = e;
      }
    });
    if (pick < 0) break;
    // Its score matters only against an equal-loss best round (and for the result, computed at the end).
    if (pickEval.loss === best.loss) {
      if (Number.isNaN(pickEval.score)) pickEval.score = scoreOf(sum, flat[pick], n + 1);
      if (Number.isNaN(best.score)) best.score = scoreOf(best.sum, undefined, best.n);
    }
    const f = flat[pick];
    for (let q = 0; q < sum.length; q++) sum[q] += f[q];
    n++;
    counts.set(pick, (counts.get(pick) ?? 0) + 1);
    if (better(pickEval, best)) best = { ...pickEval, counts: new Map(counts), sum: Float64Array.from(sum), n };
  }
  const total = [...best.counts.values()].reduce((s, v) => s + v, 0);
  const members = [...best.counts.entries()]
    .map(([j, c]) => ({ id: candidates[j].id, weight: c / total }))
    .sort((a, b) => b.weight - a.weight);
  return { members, score: Number.isNaN(best.score) ? scoreOf(best.sum, undefined, best.n) : best.score, loss: best.loss };
}
