/**
 * hpo tune's trainable: preprocessing (standardisation, PCA, RFE-style
 * selection), augmentation, the MLP loop (per-epoch reports, pruning, early
 * stopping, lr schedule), model saving, and the report's importance.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { TrialPruned } from "../../client/trial-pruned.js";
import { flipImage, mixup, rotateImage, shiftImage } from "../../gpu-runner/tfjs/augment.js";
import { loadTf, type Tf } from "../../gpu-runner/tfjs/backend.js";
import { kFolds, loadDataset, seededRandom, splitDataset, take, TuneDataError, type Dataset } from "../../gpu-runner/tfjs/data.js";
import { solveElasticNet } from "../../gpu-runner/tfjs/elastic-net.js";
import { blend, selectEnsemble } from "../../gpu-runner/tfjs/ensemble.js";
import { fitPreprocessor, outputWidth, transform } from "../../gpu-runner/tfjs/preprocess.js";
import { parameterImportance, renderReport } from "../../gpu-runner/tfjs/report.js";
import { saveModel } from "../../gpu-runner/tfjs/save.js";
import { buildModel, DEFAULT_PARAMS, predict, predictionLoss, trainFolds, trainMlp, type EpochInfo, type TrainData } from "../../gpu-runner/tfjs/trainable.js";
import { autoEpochs, autoFolds, foldCount } from "../../gpu-runner/tfjs/tune.js";
import { Registry } from "prom-client";
import type { Tensor } from "@tensorflow/tfjs";

const DATA = join(import.meta.dirname, "..", "..", "examples", "tune", "data");

/** Diabetes (regression), split seed 0: train rows and validation rows as TrainData. */
function diabetesSplit(): { reg: TrainData; tr: { x: number[][]; y: number[] }; va: { x: number[][]; y: number[] } } {
  const d = loadDataset(join(DATA, "diabetes.csv"), { target: "progression" });
  const s = splitDataset(d, { seed: 0 });
  const tr = take(d, s.train);
  const va = take(d, s.validation);
  return { reg: { task: "regression", classes: 0, xTrain: tr.x, yTrain: tr.y, xVal: va.x, yVal: va.y }, tr, va };
}

let tf: Tf;
let data: TrainData;
beforeAll(async () => {
  tf = (await loadTf()).tf;
  const d = loadDataset(join(DATA, "breast_cancer.csv"), { target: "target" });
  const s = splitDataset(d, { seed: 0 });
  const tr = take(d, s.train);
  const va = take(d, s.validation);
  data = { task: "classification", classes: 2, xTrain: tr.x, yTrain: tr.y, xVal: va.x, yVal: va.y };
});

describe("backend", () => {
  it("loads one tf and exposes the backend gauge", async () => {
    const registry = new Registry();
    const loaded = await loadTf({ registry });
    expect(["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"]).toContain(loaded.backend);
    expect(loaded.tf).toBe(tf);
    expect(await registry.metrics()).toContain(`hpod_tune_backend_info{backend="${loaded.backend}"} 1`);
  });
});

describe("preprocessing", () => {
  const x = Array.from({ length: 50 }, (_, i) => [i, 2 * i + (i % 3), 100 + (i % 7), Math.sin(i)]);
  const y = x.map((r) => (r[0] > 25 ? 1 : 0));

  it("standardises with training statistics", () => {
    const p = fitPreprocessor(x, y, { standardize: true, selection: "none", keepFraction: 1, classes: 2 });
    const t = transform(p, x);
    const mean0 = t.reduce((s, r) => s + r[0], 0) / t.length;
    const var0 = t.reduce((s, r) => s + r[0] ** 2, 0) / t.length;
    expect(mean0).toBeCloseTo(0, 9);
    expect(var0).toBeCloseTo(1, 9);
  });

  it("PCA keeps k orthonormal components, the first along the largest variance", () => {
    const p = fitPreprocessor(x, y, { standardize: true, selection: "pca", keepFraction: 0.5, classes: 2 });
    expect(outputWidth(p)).toBe(2);
    const [a, b] = p.components!;
    expect(a.reduce((s, v, j) => s + v * b[j], 0)).toBeCloseTo(0, 6);
    expect(a.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 6);
    // columns 0 and 1 are nearly collinear: they dominate the first component.
    expect(Math.abs(a[0]) + Math.abs(a[1])).toBeGreaterThan(Math.abs(a[2]) + Math.abs(a[3]));
    expect(transform(p, x)[0]).toHaveLength(2);
  });

  it("RFE keeps the informative features", () => {
    const rnd = seededRandom(3);
    const xs = Array.from({ length: 200 }, () => [rnd(), rnd(), rnd(), rnd(), rnd()]);
    const ys = xs.map((r) => 3 * r[1] - 2 * r[3]);
    const p = fitPreprocessor(xs, ys, { standardize: true, selection: "rfe", keepFraction: 0.4, classes: 0 });
    expect([...p.kept!].sort()).toEqual([1, 3]);
  });
});

describe("augmentation", () => {
  const img = Array.from({ length: 16 }, (_, i) => i);
  it("shifts, flips and rotates 4x4 images", () => {
    expect(shiftImage(img, 4, 4, 0, 1).slice(0, 4)).toEqual([0, 0, 1, 2]);
    expect(shiftImage(img, 4, 4, 1, 0).slice(0, 8)).toEqual([0, 0, 0, 0, 0, 1, 2, 3]);
    expect(flipImage(img, 4, 4).slice(0, 4)).toEqual([3, 2, 1, 0]);
    expect(rotateImage(img, 4, 4, 0)).toEqual(img);
    expect(rotateImage(img, 4, 4, 90)).not.toEqual(img);
  });

  it("mixup keeps soft targets summing to one", () => {
    const m = mixup([[0], [1], [2]], [[1, 0], [0, 1], [1, 0]], 0.4, seededRandom(1));
    for (const t of m.targets) expect(t[0] + t[1]).toBeCloseTo(1, 9);
  });
});

describe("trainMlp", () => {
  it("reports every epoch, learns, and follows the lr schedule", async () => {
    const seen: EpochInfo[] = [];
    const m = await trainMlp(
      tf,
      data,
      { ...DEFAULT_PARAMS, maxEpochs: 4, patience: 10, schedule: { kind: "step", values: { step_size: 2, gamma: 0.5 }, milestones: [], mode: "", totalSteps: 4, warmupSteps: 0, warmupStartFactor: 0 } },
      { seed: 1, onEpoch: (info) => (seen.push(info), false) },
    );
    expect(seen.map((s) => s.epoch)).toEqual([0, 1, 2, 3]);
    expect(seen.map((s) => s.lr)).toEqual([0.003, 0.003, 0.0015, 0.0015]);
    expect(m.bestScore).toBeGreaterThan(0.85);
    // The best epoch is the one with the lowest validation loss; its score is the trial's.
    expect(m.bestScore).toBe(seen[m.bestEpoch].score);
    m.model.dispose();
  });

  it("throws TrialPruned right after the epoch the callback prunes", async () => {
    let epochs = 0;
    await expect(trainMlp(tf, data, { ...DEFAULT_PARAMS, maxEpochs: 10 }, { seed: 1, onEpoch: () => ++epochs >= 2 })).rejects.toBeInstanceOf(TrialPruned);
    expect(epochs).toBe(2);
  });

  it("cuts an epoch short when shouldPrune turns true mid-epoch (heartbeat PRUNE)", async () => {
    let batches = 0;
    await expect(
      trainMlp(tf, data, { ...DEFAULT_PARAMS, maxEpochs: 50, batchSize: 16 }, { seed: 1, shouldPrune: () => ++batches > 3 }),
    ).rejects.toThrow(/pruned during epoch 0/);
    // An epoch is 22 batches of 16 rows: the check stops it within a batch of turning true.
    expect(batches).toBeLessThan(10);
  });

  it("fails a trial that diverges before any finite epoch", async () => {
    const { reg } = diabetesSplit();
    await expect(trainMlp(tf, reg, { ...DEFAULT_PARAMS, standardize: false, optimizer: "sgd", lr: 1e6, maxEpochs: 5, l2: 0, dropout: 0 }, { seed: 1 })).rejects.toThrow(/diverged at epoch 0/);
  });

  it("stops early after `patience` epochs without improvement and restores the best weights", async () => {
    // lr 0: the score never improves after epoch 0.
    const m = await trainMlp(tf, data, { ...DEFAULT_PARAMS, lr: 0, optimizer: "sgd", maxEpochs: 20, patience: 2, dropout: 0 }, { seed: 2 });
    expect(m.curve.length).toBe(3);
    m.model.dispose();
  });

  it("trains with PCA, mixup and noise, and for regression", async () => {
    for (const extra of [
      { selection: "pca" as const, keepFraction: 0.3, augment: "mixup" as const, augmentStrength: 0.2 },
      { selection: "rfe" as const, keepFraction: 0.5, augment: "noise" as const, augmentStrength: 0.1, optimizer: "rmsprop" as const, l1: 1e-4 },
    ]) {
      const m = await trainMlp(tf, data, { ...DEFAULT_PARAMS, maxEpochs: 3, ...extra }, { seed: 3 });
      expect(m.bestScore).toBeGreaterThan(0.6);
      m.model.dispose();
    }
    const { reg, va } = diabetesSplit();
    const r = await trainMlp(tf, reg, { ...DEFAULT_PARAMS, maxEpochs: 15, lr: 0.01 }, { seed: 4 });
    expect(r.bestScore).toBeGreaterThan(0.2);
    expect(predict(tf, r, va.x.slice(0, 2))[0][0]).toBeGreaterThan(20);
    r.model.dispose();
  });

  it("augments 8x8 digits with image shifts", async () => {
    const d = loadDataset(join(DATA, "digits.csv.gz"), { target: "target" });
    const s = splitDataset(d, { seed: 0 });
    const tr = take(d, s.train);
    const va = take(d, s.validation);
    const m = await trainMlp(tf, { task: "classification", classes: 10, xTrain: tr.x, yTrain: tr.y, xVal: va.x, yVal: va.y, imageShape: [8, 8] }, { ...DEFAULT_PARAMS, maxEpochs: 3, augment: "shift", augmentStrength: 0.5 }, { seed: 5 });
    expect(m.bestScore).toBeGreaterThan(0.5); // chance is 0.1
    m.model.dispose();
  });
});

describe("linear models, k folds and refits", () => {
  it("0 hidden layers is a linear (logistic) model that learns", async () => {
    const model = buildModel(tf, { ...DEFAULT_PARAMS, layers: 0 }, 30, 2, true, 1);
    expect(model.layers).toHaveLength(1);
    expect(model.countParams()).toBe(30 * 2 + 2);
    model.dispose();
    const m = await trainMlp(tf, data, { ...DEFAULT_PARAMS, layers: 0, lr: 0.01, maxEpochs: 10, patience: 10 }, { seed: 1 });
    expect(m.bestScore).toBeGreaterThan(0.9);
    m.model.dispose();
  });

  it("a 0-layer regression trial is solved exactly (elastic net), with one report; with augmentation it trains by gradient steps", async () => {
    const { reg, tr, va } = diabetesSplit();
    const p = { ...DEFAULT_PARAMS, layers: 0, l1: 1e-3, l2: 1e-2, maxEpochs: 30, patience: 5 };
    const reports: EpochInfo[] = [];
    const a = await trainFolds(tf, [reg], p, { seed: 1, onEpoch: (i) => (reports.push(i), false) });
    // Another optimiser, lr and seed: the same optimum.
    const b = await trainFolds(tf, [reg], { ...p, optimizer: "sgd", lr: 1e-4, batchSize: 128 }, { seed: 9 });
    expect(reports.map((r) => r.epoch)).toEqual([0]);
    expect(a.bestEpoch).toBe(0);
    const pa = predict(tf, a.models[0], va.x).map((r) => r[0]);
    const pb = predict(tf, b.models[0], va.x).map((r) => r[0]);
    pa.forEach((v, i) => expect(v).toBeCloseTo(pb[i], 3));
    // The optimum of the network's own objective, on its standardised rows and target.
    const m = a.models[0];
    const rows = transform(m.preprocessor, tr.x);
    const opt = solveElasticNet(rows, tr.y.map((v) => (v - m.yMean) / m.yScale), { l1: p.l1, l2: p.l2 });
    const expected = transform(m.preprocessor, va.x).map((row) => (opt.bias + row.reduce((t, v, j) => t + v * opt.weights[j], 0)) * m.yScale + m.yMean);
    pa.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 3));
    expect(a.bestScore).toBeGreaterThan(0.3);
    expect(a.bestScore).toBeCloseTo(reports[0].score, 12);
    // A refit is solved the same way on its rows.
    const refit = await trainFolds(tf, [{ ...reg, xVal: [], yVal: [] }], p, { seed: 2, fixedEpochs: 7 });
    expect(refit.curve).toHaveLength(1);
    predict(tf, refit.models[0], va.x).forEach((r, i) => expect(r[0]).toBeCloseTo(pa[i], 3));
    // Noise augmentation changes the objective: gradient steps, one report per epoch.
    const noisy: EpochInfo[] = [];
    const c = await trainFolds(tf, [reg], { ...p, augment: "noise", augmentStrength: 0.1, maxEpochs: 3, patience: 10 }, { seed: 1, onEpoch: (i) => (noisy.push(i), false) });
    expect(noisy).toHaveLength(3);
    [a, b, refit, c].forEach((r) => r.models.forEach((x) => x.model.dispose()));
  });

  it("a pruned exactly-solved trial throws TrialPruned after its one report", async () => {
    const { reg } = diabetesSplit();
    await expect(trainFolds(tf, [reg], { ...DEFAULT_PARAMS, layers: 0 }, { seed: 1, onEpoch: () => true })).rejects.toBeInstanceOf(TrialPruned);
  });

  it("the same seed gives the same initial weights", () => {
    const a = buildModel(tf, DEFAULT_PARAMS, 5, 2, true, 42);
    const b = buildModel(tf, DEFAULT_PARAMS, 5, 2, true, 42);
    const c = buildModel(tf, DEFAULT_PARAMS, 5, 2, true, 43);
    const w = (m: typeof a): number[] => Array.from(m.getWeights()[0].dataSync());
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    [a, b, c].forEach((m) => m.dispose());
  });

  it("a trial is reproducible: the same seed trains the same curve (batch order and dropout masks are seeded)", async () => {
    const p = { ...DEFAULT_PARAMS, layers: 2, units: 32, dropout: 0.3, batchSize: 16, augment: "noise" as const, augmentStrength: 0.1, maxEpochs: 4, patience: 10 };
    const run = async (seed: number): Promise<{ curve: number[]; w: number[] }> => {
      const m = await trainMlp(tf, data, p, { seed });
      const out = { curve: m.curve.map((e) => e.loss), w: Array.from(m.model.getWeights()[0].dataSync()) };
      m.model.dispose();
      return out;
    };
    const a = await run(3);
    const b = await run(3);
    const c = await run(4);
    expect(b.curve).toEqual(a.curve);
    expect(b.w).toEqual(a.w);
    expect(c.w).not.toEqual(a.w);
  });

  it("dropout draws a fresh mask for every training batch", async () => {
    const model = buildModel(tf, { ...DEFAULT_PARAMS, layers: 1, units: 64, dropout: 0.5 }, 30, 2, true, 1);
    const dropout = model.layers.find((l) => l.getClassName() === "Dropout");
    expect(dropout).toBeDefined();
    const masks: string[] = [];
    const x = tf.ones([4, 64]);
    // What fitEpoch does before each batch: a new seed, then a training-mode call.
    const seeded = dropout as unknown as { seed?: number };
    for (const seed of [11, 12, 11]) {
      seeded.seed = seed;
      const y = dropout!.apply(x, { training: true }) as Tensor;
      masks.push(Array.from(y.dataSync()).map((v) => (v === 0 ? "0" : "1")).join(""));
      y.dispose();
    }
    x.dispose();
    model.dispose();
    expect(masks[0]).not.toEqual(masks[1]);
    expect(masks[2]).toEqual(masks[0]);
  });

  it("trains k folds in lockstep on a pooled validation score and returns out-of-fold predictions", async () => {
    const d = loadDataset(join(DATA, "breast_cancer.csv"), { target: "target" });
    const s = splitDataset(d, { seed: 0 });
    const nonTest = [...s.train, ...s.validation];
    const folds = kFolds(d, nonTest, 3, 0);
    const foldData: TrainData[] = folds.map((v) => {
      const inVal = new Set(v);
      const tr = take(d, nonTest.filter((i) => !inVal.has(i)));
      const va = take(d, v);
      return { task: "classification", classes: 2, xTrain: tr.x, yTrain: tr.y, xVal: va.x, yVal: va.y };
    });
    const seen: EpochInfo[] = [];
    const r = await trainFolds(tf, foldData, { ...DEFAULT_PARAMS, maxEpochs: 3, patience: 10 }, { seed: 1, onEpoch: (info) => (seen.push(info), false) });
    expect(r.models).toHaveLength(3);
    expect(seen).toHaveLength(3);
    expect(r.validationPredictions).toHaveLength(nonTest.length);
    expect(r.bestScore).toBeGreaterThan(0.85);
    expect(r.bestScore).toBe(seen[r.bestEpoch].score);
    r.models.forEach((m) => m.model.dispose());
  });

  it("a refit trains exactly fixedEpochs epochs with no validation rows", async () => {
    const all: TrainData = { ...data, xTrain: [...data.xTrain, ...data.xVal], yTrain: [...data.yTrain, ...data.yVal], xVal: [], yVal: [] };
    const reports: number[] = [];
    const r = await trainFolds(tf, [all], { ...DEFAULT_PARAMS, maxEpochs: 30, patience: 1 }, { seed: 1, fixedEpochs: 4, onEpoch: (i) => (reports.push(i.epoch), false) });
    expect(r.curve.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    expect(reports).toEqual([]);
    expect(predict(tf, r.models[0], data.xVal).length).toBe(data.xVal.length);
    r.models.forEach((m) => m.model.dispose());
  });

  it("auto folds and epochs follow the data size", () => {
    expect([autoFolds(142), autoFolds(455), autoFolds(1437)]).toEqual([5, 3, 1]);
    expect(autoEpochs(100)).toBe(100);
    expect(autoEpochs(300)).toBe(54);
    expect(autoEpochs(5000)).toBe(30);
  });

  it("refuses explicit folds the tuning rows cannot fill, and lowers automatic ones to the rarest class", () => {
    // 10 rows: class "a" 7, class "b" 3.
    const d: Dataset = { featureNames: ["x"], x: Array.from({ length: 10 }, (_, i) => [i]), y: [0, 0, 0, 0, 0, 0, 0, 1, 1, 1], task: "classification", classes: ["a", "b"], target: "y" };
    const all = [...Array(10).keys()];
    expect(foldCount(d, all, 3)).toBe(3);
    expect(foldCount(d, all, 1)).toBe(1);
    expect(() => foldCount(d, all, 4)).toThrow(TuneDataError);
    expect(() => foldCount(d, all, 4)).toThrow("class b has 3 tuning (non-test) rows, fewer than the 4 folds asked for (--folds); use --folds 3 or fewer");
    expect(() => foldCount(d, all, 11)).toThrow("10 tuning (non-test) rows, fewer than the 11 folds asked for (--folds)");
    // Auto: 5 for 10 rows, lowered to the rarest class's 3; a class of one row leaves the plain split.
    expect(foldCount(d, all, undefined)).toBe(3);
    expect(foldCount(d, all, 0)).toBe(3);
    expect(foldCount(d, [0, 1, 2, 3, 4, 5, 7], undefined)).toBe(1);
    // Regression: only the row count limits.
    const r: Dataset = { ...d, task: "regression", classes: [] };
    expect(foldCount(r, all, 10)).toBe(10);
    expect(foldCount(r, all, undefined)).toBe(5);
    expect(() => foldCount(r, all, 11)).toThrow(TuneDataError);
  });
});

describe("ensemble selection", () => {
  const y = [0, 0, 1, 1];
  it("keeps the best single candidate unless a blend scores better", () => {
    const good = { id: 1, predictions: [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]] };
    const bad = { id: 2, predictions: [[0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]] };
    const choice = selectEnsemble("classification", y, [good, bad], { maxMembers: 5 });
    expect(choice.members).toEqual([{ id: 1, weight: 1 }]);
    expect(choice.score).toBe(1);
  });

  it("selects by log loss: a confident miss costs more than a hesitant right answer", () => {
    // sharp is right on 3 rows of 4 but certain of its miss; soft is right
    // on 2 of 4 with hesitant probabilities. Accuracy prefers sharp; the log
    // loss (0.65 against 1.16 for sharp) prefers soft.
    const sharp = { id: 1, predictions: [[0.99, 0.01], [0.99, 0.01], [0.01, 0.99], [0.99, 0.01]] };
    const soft = { id: 2, predictions: [[0.6, 0.4], [0.45, 0.55], [0.4, 0.6], [0.55, 0.45]] };
    const one = selectEnsemble("classification", y, [sharp, soft], { maxMembers: 1 });
    expect(one.members).toEqual([{ id: 2, weight: 1 }]);
    expect(one.score).toBe(0.5);
    expect(one.loss).toBeCloseTo(predictionLoss("classification", soft.predictions, y), 12);
    // With NaN predictions a candidate ranks last instead of poisoning the choice.
    const broken = { id: 3, predictions: y.map(() => [NaN, NaN]) };
    expect(selectEnsemble("classification", y, [broken, soft], { maxMembers: 1 }).members).toEqual([{ id: 2, weight: 1 }]);
  });

  it("blends complementary candidates", () => {
    // a is wrong on row 3, b on row 0; their mean is right everywhere.
    const a = { id: 1, predictions: [[0.9, 0.1], [0.6, 0.4], [0.4, 0.6], [0.6, 0.4]] };
    const b = { id: 2, predictions: [[0.45, 0.55], [0.6, 0.4], [0.4, 0.6], [0.1, 0.9]] };
    const choice = selectEnsemble("classification", y, [a, b], { maxMembers: 5 });
    expect(choice.score).toBe(1);
    expect(choice.members.map((m) => m.id).sort()).toEqual([1, 2]);
    expect(choice.members.reduce((s, m) => s + m.weight, 0)).toBeCloseTo(1, 12);
    // One member: the lower log loss (b: 0.481 against a's 0.511), not the first.
    expect(selectEnsemble("classification", y, [a, b], { maxMembers: 1 }).members).toEqual([{ id: 2, weight: 1 }]);
    expect(blend([{ predictions: [[1, 0]], weight: 3 }, { predictions: [[0, 1]], weight: 1 }])).toEqual([[0.75, 0.25]]);
    expect(predictionLoss("regression", [[1], [3]], [2, 2])).toBe(1);
  });
});

describe("saveModel", () => {
  it("writes model.json + weights.bin that load back to the same predictions", async () => {
    const m = await trainMlp(tf, data, { ...DEFAULT_PARAMS, maxEpochs: 2, dropout: 0 }, { seed: 6 });
    const dir = mkdtempSync(join(tmpdir(), "tune-save-"));
    try {
      const path = await saveModel(tf, m, dir);
      const json = JSON.parse(readFileSync(path, "utf8")) as { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: [] }> };
      expect(json.weightsManifest[0].paths).toEqual(["weights.bin"]);
      const bin = readFileSync(join(dir, "weights.bin"));
      const loaded = await tf.loadLayersModel(
        tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }),
      );
      const again = predict(tf, { ...m, model: loaded }, data.xVal.slice(0, 5));
      const before = predict(tf, m, data.xVal.slice(0, 5));
      again.forEach((row, i) => row.forEach((v, k) => expect(v).toBeCloseTo(before[i][k], 5)));
      const pre = JSON.parse(readFileSync(join(dir, "preprocess.json"), "utf8")) as { task: string; preprocessor: { mean: number[] } };
      expect(pre.task).toBe("classification");
      expect(pre.preprocessor.mean).toHaveLength(30);
      loaded.dispose();
    } finally {
      m.model.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("report", () => {
  const trials = [
    { id: 0, state: "complete" as const, value: 0.9, params: { lr: 0.1, act: "relu" }, curve: [0.8, 0.9] },
    { id: 1, state: "complete" as const, value: 0.5, params: { lr: 0.001, act: "relu" }, curve: [0.5] },
    { id: 2, state: "pruned" as const, value: 0.85, params: { lr: 0.09, act: "tanh" }, curve: [0.85] },
    { id: 3, state: "failed" as const, params: { lr: 0.01, act: "tanh" }, curve: [] },
  ];
  it("ranks the parameter that moves the objective first", () => {
    const imp = parameterImportance(trials);
    expect(imp[0].name).toBe("lr");
    expect(imp.reduce((s, p) => s + p.importance, 0)).toBeCloseTo(1, 9);
  });
  it("renders a self-contained HTML page with the four charts", () => {
    const html = renderReport({ title: "t <x>", objective: "val_accuracy", trials, summary: [["a", "b"]] });
    expect(html).toContain("t &lt;x&gt;");
    expect(html.match(/<svg /g)?.length).toBe(4);
    expect(html).not.toMatch(/<script|src="http/);
  });
});
