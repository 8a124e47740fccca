/**
 * How much of the final ensemble goes to the prior portfolio (the default
 * configurations enqueued before the search), chosen by bootstrap
 * out-of-bag loss. Pure: no tf, no I/O.
 *
 * Why: ensemble selection picks from 40 trials by their cross-validation
 * predictions on the same rows it then scores the ensemble on, so on small
 * data its validation loss is optimistic (the best of many noisy estimates),
 * while the portfolio was fixed before the data was seen. Measured on the
 * bench's four datasets over nine split seeds (docs/TUNE.md), the uniform blend
 * of the three portfolio configurations alone matched or beat the selected
 * ensemble on breast cancer, wine and diabetes and lost to it on digits. Which
 * applies to a given data set is estimated as in bootstrap bias-corrected
 * cross-validation (Tsamardinos, Greasidou & Borboudakis, Machine Learning
 * 107, 2018, "BBC-CV"): the whole selection (pool ranking and greedy
 * ensemble selection) is rerun on a bootstrap resample of the validation
 * (out-of-fold) rows and scored on the rows the resample left out, once per
 * candidate weight of the portfolio.
 *
 * Which weight: the largest whose mean out-of-bag loss is within one
 * standard deviation (over the resamples, paired: the same resample scores
 * both) of the lowest mean's, not the lowest mean itself. This is the
 * one-standard-error rule (Breiman, Friedman, Olshen & Stone 1984; Hastie,
 * Tibshirani & Friedman, The Elements of Statistical Learning, 7.10): among
 * choices the estimate cannot tell apart, take the most regularised one,
 * here the one that leans most on configurations fixed before the data was
 * seen. The bootstrap's spread is its estimate of the sampling error of the
 * out-of-bag loss (BBC-CV builds its confidence intervals from it): the
 * search's selection replaces the portfolio only where it is better by more
 * than that noise. On a few hundred validation rows it seldom is, and there
 * the selection's edge in the lowest mean did not carry over to the test
 * rows (the bench's runs, docs/TUNE.md).
 */
import { blend, selectEnsemble, type EnsembleCandidate, type EnsembleChoice } from "./ensemble.js";
import { seededRandom, type Task } from "./data.js";
import { logProbability, predictedClass, predictionLoss, rSquared, score } from "./trainable.js";

export interface PriorBlendOptions {
  /** Most distinct trials the selection picks (as selectEnsemble's maxMembers). */
  maxMembers: number;
  /** The selection considers this many best candidates (by score, then loss), re-ranked on each resample. */
  pool: number;
  /** Bootstrap resamples (default 100). */
  bootstraps?: number;
  /** Portfolio weights tried (default 0, 0.25, 0.5, 0.75, 1). */
  grid?: readonly number[];
  /**
   * How many standard deviations of the paired out-of-bag difference a larger
   * weight's mean loss may exceed the lowest by and still be chosen (default
   * 1, the one-standard-error rule; 0 takes the lowest mean).
   */
  tolerance?: number;
  seed: number;
}

export interface PriorBlendChoice {
  /** The portfolio's share of the final ensemble (0: the selection alone). */
  weight: number;
  /** The weight with the lowest mean out-of-bag loss (`weight` is never below it). */
  lowestLossWeight: number;
  /**
   * Mean out-of-bag loss (log loss, or squared error) and score (accuracy,
   * or R²) of each weight tried: BBC-CV's estimate of how the whole procedure
   * (selection, then that share) does on rows it did not choose on, so less
   * optimistic than the ensemble's validation score.
   */
  outOfBag: Array<{
    weight: number;
    loss: number;
    score: number;
    /** Mean over the resamples of this weight's loss minus the lowest-mean weight's, and its standard deviation. */
    excess: number;
    excessSd: number;
  }>;
}

/**
 * Per-row terms of a candidate's score and loss, computed once: whether the
 * row's argmax is its class (the first maximum, as score() takes it) and the
 * log of its clipped class probability, or the squared error. A resample's
 * score and loss are then sums over its rows, in their order, with the
 * arithmetic of score() and predictionLoss(), without building its rows.
 */
interface RowTerms {
  hit: Uint8Array;
  term: Float64Array;
}

function rowTerms(task: Task, y: readonly number[], predictions: readonly number[][]): RowTerms {
  const hit = new Uint8Array(y.length);
  const term = new Float64Array(y.length);
  predictions.forEach((row, i) => {
    if (task === "classification") {
      hit[i] = predictedClass(row) === y[i] ? 1 : 0;
      term[i] = logProbability(row[y[i]] ?? 0);
    } else {
      term[i] = (y[i] - row[0]) ** 2;
    }
  });
  return { hit, term };
}

/** Candidates ranked on the rows `rows` (with repeats) as hpo tune ranks trials: higher score, then lower loss, then lower id. */
function rankOn(task: Task, y: readonly number[], rows: readonly number[], candidates: readonly EnsembleCandidate[], terms: readonly RowTerms[]): EnsembleCandidate[] {
  let ssTot = 0;
  if (task === "regression") {
    const mean = rows.reduce((s, i) => s + y[i], 0) / rows.length;
    ssTot = rows.reduce((s, i) => s + (y[i] - mean) ** 2, 0);
  }
  const keyed = candidates.map((c, j) => {
    const t = terms[j];
    let sum = 0;
    let hits = 0;
    for (const i of rows) {
      sum += t.term[i];
      hits += t.hit[i];
    }
    // As score() and predictionLoss() compute them on these rows.
    const value = task === "classification" ? hits / rows.length : rSquared(sum, ssTot);
    const loss = task === "classification" ? -sum / rows.length : sum / rows.length;
    return { c, score: value, loss: Number.isNaN(loss) ? Infinity : loss };
  });
  keyed.sort((a, b) => b.score - a.score || a.loss - b.loss || a.c.id - b.c.id);
  return keyed.map((k) => k.c);
}

/** The members' weighted predictions plus the prior's uniform blend, mixed at `weight`. */
export function mixWithPrior(members: EnsembleChoice["members"], priorIds: readonly number[], weight: number): EnsembleChoice["members"] {
  if (priorIds.length === 0 || weight <= 0) return members;
  const w = new Map<number, number>();
  for (const m of members) w.set(m.id, (w.get(m.id) ?? 0) + m.weight * (1 - weight));
  for (const id of priorIds) w.set(id, (w.get(id) ?? 0) + weight / priorIds.length);
  return [...w.entries()]
    .filter(([, v]) => v > 0)
    .map(([id, v]) => ({ id, weight: v }))
    .sort((a, b) => b.weight - a.weight || a.id - b.id);
}

/**
 * Chooses the portfolio's weight in the final ensemble. `candidates` are all
 * completed trials with their validation predictions, `priorIds` those of
 * the portfolio (a subset).
 */
export function choosePriorWeight(task: Task, y: readonly number[], candidates: readonly EnsembleCandidate[], priorIds: readonly number[], o: PriorBlendOptions): PriorBlendChoice {
  const grid = o.grid ?? [0, 0.25, 0.5, 0.75, 1];
  const prior = candidates.filter((c) => priorIds.includes(c.id));
  if (prior.length === 0) return { weight: 0, lowestLossWeight: 0, outOfBag: [] };
  const n = y.length;
  const random = seededRandom((o.seed ^ 0x2545f491) >>> 0);
  // Each resample's loss per weight, kept for the paired differences.
  const losses: number[][] = [];
  const scores = grid.map(() => 0);
  const bootstraps = Math.max(1, o.bootstraps ?? 100);
  const at = (rows: readonly number[], p: number[][]): number[][] => rows.map((i) => p[i]);
  const terms = candidates.map((c) => rowTerms(task, y, c.predictions));
  const byId = new Map(candidates.map((c) => [c.id, c]));
  for (let b = 0; b < bootstraps; b++) {
    const drawn = new Uint8Array(n);
    const inBag = Array.from({ length: n }, () => {
      const i = Math.floor(random() * n);
      drawn[i] = 1;
      return i;
    });
    const outOfBag = [...Array(n).keys()].filter((i) => drawn[i] === 0);
    if (outOfBag.length === 0) continue;
    const yIn = inBag.map((i) => y[i]);
    const yOut = outOfBag.map((i) => y[i]);
    const pool = rankOn(task, y, inBag, candidates, terms)
      .slice(0, Math.max(1, o.pool))
      .map((c) => ({ id: c.id, predictions: at(inBag, c.predictions) }));
    const chosen = pool.length === 1 ? [{ id: pool[0].id, weight: 1 }] : selectEnsemble(task, yIn, pool, { maxMembers: o.maxMembers }).members;
    const selected = blend(chosen.map((m) => ({ predictions: at(outOfBag, byId.get(m.id)!.predictions), weight: m.weight })));
    const priorBlend = blend(prior.map((c) => ({ predictions: at(outOfBag, c.predictions), weight: 1 })));
    losses.push(
      grid.map((w, g) => {
        const mixed = blend([
          { predictions: selected, weight: 1 - w },
          { predictions: priorBlend, weight: w },
        ]);
        const loss = predictionLoss(task, mixed, yOut);
        scores[g] += score(task, mixed, yOut);
        return Number.isNaN(loss) ? Infinity : loss;
      }),
    );
  }
  const used = losses.length;
  const means = grid.map((_, g) => (used > 0 ? losses.reduce((s, l) => s + l[g], 0) / used : NaN));
  // Lowest mean out-of-bag loss; among equals the smaller portfolio weight.
  const lowest = means.reduce((a, m, g) => (m < means[a] ? g : a), 0);
  const tolerance = Math.max(0, o.tolerance ?? 1);
  const outOfBag = grid.map((weight, g) => {
    const diff = losses.map((l) => l[g] - l[lowest]);
    const excess = used > 0 ? diff.reduce((s, d) => s + d, 0) / used : NaN;
    const excessSd = used > 1 ? Math.sqrt(diff.reduce((s, d) => s + (d - excess) ** 2, 0) / (used - 1)) : NaN;
    return { weight, loss: means[g], score: used > 0 ? scores[g] / used : NaN, excess, excessSd };
  });
  // The one-standard-error rule: the largest weight within tolerance x SD of the lowest (a NaN or infinite excess never is).
  const chosen = outOfBag.reduce((a, x) => (x.weight > a.weight && Number.isFinite(x.excess) && x.excess <= tolerance * x.excessSd ? x : a), outOfBag[lowest]);
  return { weight: chosen.weight, lowestLossWeight: grid[lowest], outOfBag };
}
