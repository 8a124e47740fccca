/**
 * The built-in MLP trainable of `hpo tune`: one trial = preprocessing fitted
 * on the training split, an MLP trained epoch by epoch with the trial's
 * learning-rate schedule, early stopping on the validation split (restoring
 * the best weights), and the validation score reported after every epoch.
 */
import type { LayersModel, Tensor } from "@tensorflow/tfjs";

import { createScheduler, type LrScheduleInput } from "../../client/lr-schedule.js";
import { TrialPruned } from "../../client/trial-pruned.js";
import type { TrialParams } from "../../client/params.js";
import { addNoise, augmentImages, isImageAugment, mixup, type Augment } from "./augment.js";
import type { Tf } from "./backend.js";
import { seededRandom, type Task } from "./data.js";
import { fitPreprocessor, outputWidth, transform, type Preprocessor, type Selection } from "./preprocess.js";

export type Activation = "relu" | "tanh" | "elu" | "selu";
export type OptimizerName = "adam" | "sgd" | "rmsprop";

export interface MlpParams {
  layers: number;
  units: number;
  activation: Activation;
  optimizer: OptimizerName;
  lr: number;
  schedule?: LrScheduleInput;
  batchSize: number;
  maxEpochs: number;
  patience: number;
  l1: number;
  l2: number;
  dropout: number;
  standardize: boolean;
  selection: Selection;
  keepFraction: number;
  augment: Augment;
  augmentStrength: number;
}

export const DEFAULT_PARAMS: MlpParams = {
  layers: 2,
  units: 64,
  activation: "relu",
  optimizer: "adam",
  lr: 0.003,
  batchSize: 32,
  maxEpochs: 30,
  patience: 5,
  l1: 0,
  l2: 1e-5,
  dropout: 0.1,
  standardize: true,
  selection: "none",
  keepFraction: 1,
  augment: "none",
  augmentStrength: 0.1,
};

/** Train/validation data as rows. */
export interface TrainData {
  task: Task;
  /** Classes (0 for regression). */
  classes: number;
  xTrain: number[][];
  yTrain: number[];
  xVal: number[][];
  yVal: number[];
  imageShape?: [number, number];
}

export interface EpochInfo {
  epoch: number;
  score: number;
  loss: number;
  lr: number;
}

export interface TrainOptions {
  seed: number;
  /** Called after each epoch with the validation score; resolve true to prune (TrialPruned is then thrown). */
  onEpoch?: (info: EpochInfo) => Promise<boolean> | boolean;
  /** Stops training early (the best weights so far are kept). */
  signal?: AbortSignal;
  /**
   * Checked after every batch (e.g. the PRUNE answer of a heartbeat): when
   * true, the epoch is cut short and TrialPruned is thrown.
   */
  shouldPrune?: () => boolean;
}

/** A trained model with what it needs to predict. */
export interface TrainedModel {
  model: LayersModel;
  preprocessor: Preprocessor;
  task: Task;
  classes: number;
  /** Regression: the target's training mean and scale. */
  yMean: number;
  yScale: number;
  bestScore: number;
  bestEpoch: number;
  curve: EpochInfo[];
}

function readOptional<T>(p: TrialParams, name: string, read: () => T, fallback: T): T {
  return p.has(name) ? read() : fallback;
}

/** MlpParams of a trial; missing parameters (a --spec without them) keep DEFAULT_PARAMS. */
export function paramsFromTrial(p: TrialParams, maxEpochs: number): MlpParams {
  const d = DEFAULT_PARAMS;
  const str = <T extends string>(name: string, fallback: T): T => readOptional(p, name, () => p.getString(name) as T, fallback);
  const num = (name: string, fallback: number): number => readOptional(p, name, () => p.getFloat(name), fallback);
  const standardize = readOptional(p, "standardize", () => {
    const v = p.get("standardize");
    return v === true || v === "true";
  }, d.standardize);
  const params: MlpParams = {
    layers: num("layers", d.layers),
    units: num("units", d.units),
    activation: str("activation", d.activation),
    optimizer: str("optimizer", d.optimizer),
    lr: num("lr", d.lr),
    batchSize: num("batch_size", d.batchSize),
    maxEpochs,
    patience: num("patience", d.patience),
    l1: num("l1", d.l1),
    l2: num("l2", d.l2),
    dropout: num("dropout", d.dropout),
    standardize,
    selection: str("feature_selection", d.selection),
    keepFraction: num("keep_fraction", d.keepFraction),
    augment: str("augment", d.augment),
    augmentStrength: num("augment_strength", d.augmentStrength),
  };
  if (p.has("schedule")) params.schedule = p.getSchedule("schedule");
  return params;
}

function oneHot(y: number[], classes: number): number[][] {
  return y.map((v) => Array.from({ length: classes }, (_, k) => (k === v ? 1 : 0)));
}

export function buildModel(tf: Tf, p: MlpParams, inputs: number, outputs: number, classification: boolean): LayersModel {
  const model = tf.sequential();
  const regularizer = p.l1 > 0 || p.l2 > 0 ? tf.regularizers.l1l2({ l1: p.l1, l2: p.l2 }) : undefined;
  for (let i = 0; i < p.layers; i++) {
    model.add(
      tf.layers.dense({
        units: p.units,
        activation: p.activation,
        kernelRegularizer: regularizer,
        ...(i === 0 ? { inputShape: [inputs] } : {}),
      }),
    );
    if (p.dropout > 0) model.add(tf.layers.dropout({ rate: p.dropout }));
  }
  model.add(tf.layers.dense({ units: outputs, activation: classification ? "softmax" : "linear", kernelRegularizer: regularizer, ...(p.layers === 0 ? { inputShape: [inputs] } : {}) }));
  const optimizer = p.optimizer === "sgd" ? tf.train.sgd(p.lr) : p.optimizer === "rmsprop" ? tf.train.rmsprop(p.lr) : tf.train.adam(p.lr);
  model.compile({ optimizer, loss: classification ? "categoricalCrossentropy" : "meanSquaredError" });
  return model;
}

function setLearningRate(model: LayersModel, lr: number): void {
  const opt = model.optimizer as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
  if (typeof opt.setLearningRate === "function") opt.setLearningRate(lr);
  else opt.learningRate = lr;
}

/** Accuracy (classification) or R² (regression) of predictions. */
export function score(task: Task, predicted: number[][], y: number[]): number {
  if (task === "classification") {
    let hit = 0;
    predicted.forEach((row, i) => {
      let best = 0;
      for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
      if (best === y[i]) hit++;
    });
    return hit / y.length;
  }
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  const ssTot = y.reduce((s, v) => s + (v - mean) ** 2, 0);
  const ssRes = y.reduce((s, v, i) => s + (v - predicted[i][0]) ** 2, 0);
  return ssTot > 0 ? 1 - ssRes / ssTot : 0;
}

/** Predictions on raw rows (probabilities, or values on the target's scale). */
export function predict(tf: Tf, m: TrainedModel, x: number[][]): number[][] {
  const rows = transform(m.preprocessor, x);
  return tf.tidy(() => {
    const out = m.model.predict(tf.tensor2d(rows, [rows.length, outputWidth(m.preprocessor)])) as Tensor;
    const values = out.arraySync() as number[][];
    return m.task === "regression" ? values.map((r) => [r[0] * m.yScale + m.yMean]) : values;
  });
}

/** Trains one MLP; throws TrialPruned when onEpoch asks to prune. */
export async function trainMlp(tf: Tf, data: TrainData, p: MlpParams, options: TrainOptions): Promise<TrainedModel> {
  const classification = data.task === "classification";
  const random = seededRandom(options.seed);
  const preprocessor = fitPreprocessor(data.xTrain, data.yTrain, {
    standardize: p.standardize,
    selection: p.selection,
    keepFraction: p.keepFraction,
    classes: classification ? data.classes : 0,
  });
  const width = outputWidth(preprocessor);
  const yMean = classification ? 0 : data.yTrain.reduce((s, v) => s + v, 0) / data.yTrain.length;
  const yStd = classification ? 1 : Math.sqrt(data.yTrain.reduce((s, v) => s + (v - yMean) ** 2, 0) / data.yTrain.length);
  const yScale = yStd > 1e-12 ? yStd : 1;
  const targetsOf = (y: number[]): number[][] => (classification ? oneHot(y, data.classes) : y.map((v) => [(v - yMean) / yScale]));
  const baseX = transform(preprocessor, data.xTrain);
  const baseT = targetsOf(data.yTrain);
  const outputs = classification ? data.classes : 1;
  const model = buildModel(tf, p, width, outputs, classification);
  const trained: TrainedModel = { model, preprocessor, task: data.task, classes: data.classes, yMean, yScale, bestScore: -Infinity, bestEpoch: -1, curve: [] };
  const scheduler = p.schedule !== undefined ? createScheduler(p.schedule, p.lr) : undefined;
  let bestWeights: Tensor[] | undefined;
  let sinceBest = 0;
  try {
    for (let epoch = 0; epoch < p.maxEpochs; epoch++) {
      if (options.signal?.aborted === true) break;
      const lr = scheduler !== undefined ? scheduler.lr : p.lr;
      setLearningRate(model, lr);
      let x = baseX;
      let t = baseT;
      if (p.augment !== "none" && p.augmentStrength > 0) {
        if (isImageAugment(p.augment) && data.imageShape !== undefined) {
          x = transform(preprocessor, augmentImages(data.xTrain, data.imageShape, p.augment, p.augmentStrength, random));
        } else if (p.augment === "noise") {
          x = addNoise(baseX, p.augmentStrength, random);
        } else if (p.augment === "mixup") {
          ({ x, targets: t } = mixup(baseX, baseT, Math.max(0.05, p.augmentStrength), random));
        }
      }
      const xs = tf.tensor2d(x, [x.length, width]);
      const ts = tf.tensor2d(t, [t.length, outputs]);
      let loss = NaN;
      try {
        const history = await model.fit(xs, ts, {
          epochs: 1,
          batchSize: Math.round(p.batchSize),
          shuffle: true,
          verbose: 0,
          callbacks: {
            onBatchEnd: () => {
              if (options.shouldPrune?.() === true || options.signal?.aborted === true) model.stopTraining = true;
            },
          },
        });
        const l = history.history.loss?.[0];
        loss = typeof l === "number" ? l : NaN;
      } finally {
        xs.dispose();
        ts.dispose();
      }
      if (options.shouldPrune?.() === true) throw new TrialPruned(`pruned during epoch ${epoch}`);
      const value = score(data.task, predict(tf, trained, data.xVal), data.yVal);
      if (!Number.isFinite(value) || !Number.isFinite(loss)) {
        // Diverged: keep the best epoch when there is one, else fail the trial.
        if (trained.bestEpoch >= 0) break;
        throw new Error(`training diverged at epoch ${epoch} (non-finite ${Number.isFinite(loss) ? "validation score" : "loss"})`);
      }
      const safe = value;
      const info: EpochInfo = { epoch, score: safe, loss, lr };
      trained.curve.push(info);
      if (safe > trained.bestScore) {
        trained.bestScore = safe;
        trained.bestEpoch = epoch;
        bestWeights?.forEach((w) => w.dispose());
        bestWeights = model.getWeights().map((w) => w.clone());
        sinceBest = 0;
      } else {
        sinceBest++;
      }
      scheduler?.step(safe);
      if (options.onEpoch !== undefined && (await options.onEpoch(info))) throw new TrialPruned(`pruned after epoch ${epoch}`);
      if (sinceBest >= p.patience) break;
    }
    if (bestWeights !== undefined) model.setWeights(bestWeights);
    return trained;
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    bestWeights?.forEach((w) => w.dispose());
  }
}
