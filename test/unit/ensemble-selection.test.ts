/**
 * selectEnsemble's flat, allocation-free rounds against the textbook
 * algorithm (blend the matrix, score it with predictionLoss and score):
 * the same members, weights, score and loss on random candidate sets,
 * with predictions rounded to a coarse grid so that ties in loss and score
 * (which the tie-breaking rules decide) are frequent.
 */
import { describe, expect, it } from "vitest";

import { seededRandom, type Task } from "../../gpu-runner/tfjs/data.js";
import { selectEnsemble, type EnsembleCandidate, type EnsembleChoice } from "../../gpu-runner/tfjs/ensemble.js";
import { predictionLoss, score } from "../../gpu-runner/tfjs/trainable.js";

function reference(task: Task, y: number[], candidates: readonly EnsembleCandidate[], maxMembers: number, rounds = 20): EnsembleChoice {
  const evaluate = (p: number[][]): { score: number; loss: number } => {
    const loss = predictionLoss(task, p, y);
    return { score: score(task, p, y), loss: Number.isNaN(loss) ? Infinity : loss };
  };
  const better = (a: { score: number; loss: number }, b: { score: number; loss: number }): boolean => a.loss < b.loss || (a.loss === b.loss && a.score > b.score);
  const evaluated = candidates.map((c) => evaluate(c.predictions));
  const start = evaluated.reduce((bi, e, j) => (better(e, evaluated[bi]) ? j : bi), 0);
  const counts = new Map<number, number>([[start, 1]]);
  let sum = candidates[start].predictions.map((r) => [...r]);
  let n = 1;
  let best = { ...evaluate(sum), counts: new Map(counts) };
  for (let r = 1; r < rounds; r++) {
    let pick = -1;
    let pickEval = { score: -Infinity, loss: Infinity };
    candidates.forEach((c, j) => {
      if (!counts.has(j) && counts.size >= maxMembers) return;
      const e = evaluate(sum.map((row, i) => row.map((v, k) => (v + c.predictions[i][k]) / (n + 1))));
      if (pick < 0 || better(e, pickEval)) {
        pick = j;
        pickEval = e;
      }
    });
    if (pick < 0) break;
    sum = sum.map((row, i) => row.map((v, k) => v + candidates[pick].predictions[i][k]));
    n++;
    counts.set(pick, (counts.get(pick) ?? 0) + 1);
    if (better(pickEval, best)) best = { ...pickEval, counts: new Map(counts) };
  }
  const total = [...best.counts.values()].reduce((s, v) => s + v, 0);
  const members = [...best.counts.entries()].map(([j, c]) => ({ id: candidates[j].id, weight: c / total })).sort((a, b) => b.weight - a.weight);
  return { members, score: best.score, loss: best.loss };
}

describe("selectEnsemble", () => {
  it("chooses exactly what the textbook algorithm chooses, ties included", () => {
    const r = seededRandom(5);
    let cases = 0;
    for (const [task, classes] of [["classification", 2], ["classification", 3], ["regression", 1]] as Array<[Task, number]>) {
      for (let trial = 0; trial < 15; trial++) {
        const rows = 6 + Math.floor(r() * 30);
        const y = Array.from({ length: rows }, () => (task === "classification" ? Math.floor(r() * classes) : Math.round(r() * 4)));
        const count = 2 + Math.floor(r() * 10);
        const candidates = Array.from({ length: count }, (_, id) => ({
          id: 100 + id,
          predictions: y.map(() => {
            if (task === "regression") return [Math.round(r() * 8) / 2];
            const p = Array.from({ length: classes }, () => 1 + Math.floor(r() * 3));
            const s = p.reduce((a, b) => a + b, 0);
            return p.map((v) => v / s);
          }),
        }));
        // Duplicates make exact ties in loss and score; a twin with the same
        // true-class probabilities and the rest spread evenly ties in loss
        // with a different accuracy, so the score must break the tie.
        if (trial % 3 === 0) candidates.push({ id: 999, predictions: candidates[0].predictions });
        if (classes === 3) {
          for (const source of [0, 1]) {
            candidates.push({ id: 500 + source, predictions: candidates[source].predictions.map((row, i) => row.map((v, k) => (k === y[i] ? v : (1 - row[y[i]]) / 2))) });
          }
        }
        const maxMembers = 1 + Math.floor(r() * 5);
        expect(selectEnsemble(task, y, candidates, { maxMembers }), `${task} case ${trial}`).toEqual(reference(task, y, candidates, maxMembers));
        cases++;
      }
    }
    expect(cases).toBe(45);
  });
});
