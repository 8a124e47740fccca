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
import { solveElasticNet } from "./elastic-net.js";
import { addNoise, augmentImages, isImageAugment, mixup, type Augment } from "./augment.js";
import type { Tf } from "./backend.js";
import { seededRandom, shuffle, type Task } from "./data.js";
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
  /**
   * Refit mode: train exactly this many epochs on xTrain (the lr schedule as
   * in a trial), with no validation, early stopping or reports; xVal may be
   * empty.
   */
  fixedEpochs?: number;
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
  /** The validation loss (log loss, or MSE on the target's scale) at bestEpoch, the lowest of the run (early stopping watches it). */
  bestLoss: number;
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

/**
 * The network: `layers` hidden dense layers (0: a linear / multinomial
 * logistic model, the class of scikit-learn's LogisticRegression and Ridge)
 * and the output layer; L1/L2 on every kernel; weights drawn from `seed`.
 */
export function buildModel(tf: Tf, p: MlpParams, inputs: number, outputs: number, classification: boolean, seed = 0): LayersModel {
  const model = tf.sequential();
  const regularizer = p.l1 > 0 || p.l2 > 0 ? tf.regularizers.l1l2({ l1: p.l1, l2: p.l2 }) : undefined;
  const layers = Math.max(0, Math.round(p.layers));
  const init = (i: number) => tf.initializers.glorotUniform({ seed: (seed >>> 0) * 7 + i });
  for (let i = 0; i < layers; i++) {
    model.add(
      tf.layers.dense({
        units: Math.round(p.units),
        activation: p.activation,
        kernelRegularizer: regularizer,
        kernelInitializer: init(i),
        ...(i === 0 ? { inputShape: [inputs] } : {}),
      }),
    );
    if (p.dropout > 0) model.add(tf.layers.dropout({ rate: p.dropout, seed: (seed >>> 0) * 7 + i }));
  }
  model.add(
    tf.layers.dense({
      units: outputs,
      activation: classification ? "softmax" : "linear",
      kernelRegularizer: regularizer,
      kernelInitializer: init(layers),
      ...(layers === 0 ? { inputShape: [inputs] } : {}),
    }),
  );
  const optimizer = p.optimizer === "sgd" ? tf.train.sgd(p.lr) : p.optimizer === "rmsprop" ? tf.train.rmsprop(p.lr) : tf.train.adam(p.lr);
  model.compile({ optimizer, loss: classification ? "categoricalCrossentropy" : "meanSquaredError" });
  return model;
}

function setLearningRate(model: LayersModel, lr: number): void {
  const opt = model.optimizer as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
  if (typeof opt.setLearningRate === "function") opt.setLearningRate(lr);
  else opt.learningRate = lr;
}

/** The class a row of probabilities predicts: its first maximum. */
export function predictedClass(row: readonly number[]): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}

/** One row's term of the log loss: the log of its class probability, clipped at 1e-7 (the loss is minus their mean). */
export function logProbability(p: number): number {
  return Math.log(Math.max(1e-7, p));
}

/** R² from the residual and total sums of squares (0 for a constant target). */
export function rSquared(ssRes: number, ssTot: number): number {
  return ssTot > 0 ? 1 - ssRes / ssTot : 0;
}

/** Accuracy (classification) or R² (regression) of predictions. */
export function score(task: Task, predicted: number[][], y: number[]): number {
  if (task === "classification") {
    let hit = 0;
    predicted.forEach((row, i) => {
      if (predictedClass(row) === y[i]) hit++;
    });
    return hit / y.length;
  }
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  const ssTot = y.reduce((s, v) => s + (v - mean) ** 2, 0);
  const ssRes = y.reduce((s, v, i) => s + (v - predicted[i][0]) ** 2, 0);
  return rSquared(ssRes, ssTot);
}

/** Mean log loss (classification; probabilities clipped at 1e-7) or mean squared error (regression). */
export function predictionLoss(task: Task, predicted: number[][], y: number[]): number {
  if (y.length === 0) return NaN;
  if (task === "classification") return -predicted.reduce((s, row, i) => s + logProbability(row[y[i]] ?? 0), 0) / y.length;
  return predicted.reduce((s, row, i) => s + (row[0] - y[i]) ** 2, 0) / y.length;
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

/** One fold's model in training: its preprocessing, inputs and targets. */
interface FoldState {
  data: TrainData;
  trained: TrainedModel;
  baseX: number[][];
  baseT: number[][];
  width: number;
  outputs: number;
  random: () => number;
  bestWeights?: Tensor[];
}

function startFold(tf: Tf, data: TrainData, p: MlpParams, seed: number): FoldState {
  const classification = data.task === "classification";
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
  const baseX = transform(preprocessor, data.xTrain);
  const baseT = classification ? oneHot(data.yTrain, data.classes) : data.yTrain.map((v) => [(v - yMean) / yScale]);
  const outputs = classification ? data.classes : 1;
  const model = buildModel(tf, p, width, outputs, classification, seed);
  const trained: TrainedModel = { model, preprocessor, task: data.task, classes: data.classes, yMean, yScale, bestScore: -Infinity, bestLoss: Infinity, bestEpoch: -1, curve: [] };
  return { data, trained, baseX, baseT, width, outputs, random: seededRandom(seed) };
}

/**
 * The model's Dropout layers, as the one field this module sets on them
 * (`seed`, read by Dropout.call on every training batch).
 */
function dropoutLayers(model: LayersModel): Array<{ seed?: number }> {
  return model.layers.filter((l) => l.getClassName() === "Dropout").map((l) => l as unknown as { seed?: number });
}

/** One epoch of one fold (augmentation redrawn); resolves to the epoch's training loss. */
async function fitEpoch(tf: Tf, f: FoldState, p: MlpParams, options: TrainOptions): Promise<number> {
  const { model } = f.trained;
  let x = f.baseX;
  let t = f.baseT;
  if (p.augment !== "none" && p.augmentStrength > 0) {
    if (isImageAugment(p.augment) && f.data.imageShape !== undefined) {
      x = transform(f.trained.preprocessor, augmentImages(f.data.xTrain, f.data.imageShape, p.augment, p.augmentStrength, f.random));
    } else if (p.augment === "noise") {
      x = addNoise(f.baseX, p.augmentStrength, f.random);
    } else if (p.augment === "mixup") {
      ({ x, targets: t } = mixup(f.baseX, f.baseT, Math.max(0.05, p.augmentStrength), f.random));
    }
  }
  // Batches are drawn in an order from the fold's seeded generator: fit's
  // own shuffle uses Math.random, which made a trial irreproducible.
  const order = shuffle(
    x.map((_, i) => i),
    f.random,
  );
  const xs = tf.tensor2d(
    order.map((i) => x[i]),
    [x.length, f.width],
  );
  const ts = tf.tensor2d(
    order.map((i) => t[i]),
    [t.length, f.outputs],
  );
  const dropouts = dropoutLayers(model);
  try {
    const history = await model.fit(xs, ts, {
      epochs: 1,
      batchSize: Math.round(p.batchSize),
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchBegin: () => {
          // A Dropout layer with a fixed seed draws the same mask for every
          // batch; a fresh seed per batch from the fold's generator keeps
          // masks independent and the run reproducible.
          for (const d of dropouts) d.seed = Math.floor(f.random() * 2 ** 31);
        },
        onBatchEnd: () => {
          if (options.shouldPrune?.() === true || options.signal?.aborted === true) model.stopTraining = true;
        },
      },
    });
    const l = history.history.loss?.[0];
    return typeof l === "number" ? l : NaN;
  } finally {
    xs.dispose();
    ts.dispose();
  }
}

/** What trainFolds returns: one model per fold (best weights restored) and the pooled validation record. */
export interface FoldsResult {
  models: TrainedModel[];
  /** The pooled validation score (accuracy or R² over every fold's validation rows) at the best epoch (the lowest validation loss). */
  bestScore: number;
  bestLoss: number;
  bestEpoch: number;
  curve: EpochInfo[];
  /** Each fold's validation predictions at the best epoch, folds concatenated (out-of-fold predictions). */
  validationPredictions: number[][];
}

/**
 * Trains one model per fold in lockstep, one epoch at a time with one lr
 * schedule: the per-epoch score is the pooled validation score of all folds
 * (k-fold cross-validation; one fold is a plain train/validation split);
 * early stopping watches it, and every fold gets the weights of the best
 * epoch back. With options.fixedEpochs (a refit) there is no validation.
 * Throws TrialPruned when onEpoch or shouldPrune asks to prune.
 */
export async function trainFolds(tf: Tf, folds: readonly TrainData[], p: MlpParams, options: TrainOptions): Promise<FoldsResult> {
  if (folds.length === 0) throw new Error("trainFolds: no fold");
  const task = folds[0].task;
  const states = folds.map((d, i) => startFold(tf, d, p, (options.seed + 7919 * i) >>> 0));
  const yVal = folds.flatMap((d) => d.yVal);
  const result: FoldsResult = { models: states.map((f) => f.trained), bestScore: -Infinity, bestLoss: Infinity, bestEpoch: -1, curve: [], validationPredictions: [] };
  const refit = options.fixedEpochs !== undefined;
  const epochs = refit ? Math.max(1, Math.round(options.fixedEpochs ?? 1)) : p.maxEpochs;
  if (solvedExactly(task, p)) return solveFolds(tf, states, p, yVal, refit, options, result);
  const scheduler = p.schedule !== undefined ? createScheduler(p.schedule, p.lr) : undefined;
  let sinceBest = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (options.signal?.aborted === true) break;
      const lr = scheduler !== undefined ? scheduler.lr : p.lr;
      let lossSum = 0;
      for (const f of states) {
        setLearningRate(f.trained.model, lr);
        lossSum += await fitEpoch(tf, f, p, options);
        if (options.shouldPrune?.() === true) throw new TrialPruned(`pruned during epoch ${epoch}`);
      }
      const loss = lossSum / states.length;
      if (refit) {
        if (!Number.isFinite(loss)) throw new Error(`refit diverged at epoch ${epoch} (non-finite loss)`);
        result.curve.push({ epoch, score: NaN, loss, lr });
        result.bestEpoch = epoch;
        scheduler?.step(-loss); // reduce-on-plateau specs watch a maximised score; the training loss stands in
        continue;
      }
      const predictions = states.map((f) => predict(tf, f.trained, f.data.xVal));
      const pooled = predictions.flat();
      const value = score(task, pooled, yVal);
      const valLoss = predictionLoss(task, pooled, yVal);
      if (!Number.isFinite(value) || !Number.isFinite(loss)) {
        // Diverged: keep the best epoch when there is one, else fail the trial.
        if (result.bestEpoch >= 0) break;
        throw new Error(`training diverged at epoch ${epoch} (non-finite ${Number.isFinite(loss) ? "validation score" : "loss"})`);
      }
      const info: EpochInfo = { epoch, score: value, loss, lr };
      result.curve.push(info);
      // Early stopping watches the validation loss (log loss, or squared
      // error): accuracy on a few dozen rows moves in coarse, noisy steps and
      // peaks by chance early, which would also make the refit's epoch count
      // (best epoch + 1) a matter of chance. The trial's score is the score at
      // that epoch, i.e. of the weights restored.
      if (valLoss < result.bestLoss) {
        result.bestScore = value;
        result.bestLoss = valLoss;
        result.bestEpoch = epoch;
        result.validationPredictions = pooled;
        for (const f of states) {
          f.bestWeights?.forEach((w) => w.dispose());
          f.bestWeights = f.trained.model.getWeights().map((w) => w.clone());
        }
        sinceBest = 0;
      } else {
        sinceBest++;
      }
      scheduler?.step(value);
      if (options.onEpoch !== undefined && (await options.onEpoch(info))) throw new TrialPruned(`pruned after epoch ${epoch}`);
      if (sinceBest >= p.patience) break;
    }
    for (const f of states) {
      if (f.bestWeights !== undefined) f.trained.model.setWeights(f.bestWeights);
      Object.assign(f.trained, { bestScore: result.bestScore, bestLoss: result.bestLoss, bestEpoch: result.bestEpoch, curve: result.curve });
    }
    return result;
  } catch (error) {
    states.forEach((f) => f.trained.model.dispose());
    throw error;
  } finally {
    states.forEach((f) => f.bestWeights?.forEach((w) => w.dispose()));
  }
}

/**
 * A linear regression trial (0 hidden layers, squared error, no
 * augmentation) has a convex objective with a known optimum: it is solved
 * exactly (elastic-net.ts) instead of trained by gradient steps, which on
 * collinear features stop short of it. Optimiser, lr, schedule, batch size and
 * patience do not apply to it.
 */
export function solvedExactly(task: Task, p: MlpParams): boolean {
  return task === "regression" && Math.round(p.layers) === 0 && (p.augment === "none" || !(p.augmentStrength > 0));
}

/** trainFolds for solvedExactly trials: each fold's optimum, one "epoch" (one report), no early stopping. */
async function solveFolds(tf: Tf, states: FoldState[], p: MlpParams, yVal: number[], refit: boolean, options: TrainOptions, result: FoldsResult): Promise<FoldsResult> {
  try {
    let lossSum = 0;
    for (const f of states) {
      const t = f.baseT.map((row) => row[0]);
      const s = solveElasticNet(f.baseX, t, { l1: p.l1, l2: p.l2 });
      tf.tidy(() => f.trained.model.layers[0].setWeights([tf.tensor2d(s.weights, [s.weights.length, 1]), tf.tensor1d([s.bias])]));
      lossSum += s.objective;
    }
    const loss = lossSum / states.length;
    result.bestEpoch = 0;
    if (refit) {
      result.curve.push({ epoch: 0, score: NaN, loss, lr: 0 });
      return result;
    }
    const pooled = states.flatMap((f) => predict(tf, f.trained, f.data.xVal));
    const info: EpochInfo = { epoch: 0, score: score("regression", pooled, yVal), loss, lr: 0 };
    result.curve.push(info);
    result.bestScore = info.score;
    result.bestLoss = predictionLoss("regression", pooled, yVal);
    result.validationPredictions = pooled;
    for (const f of states) Object.assign(f.trained, { bestScore: result.bestScore, bestLoss: result.bestLoss, bestEpoch: 0, curve: result.curve });
    if (options.onEpoch !== undefined && (await options.onEpoch(info))) throw new TrialPruned("pruned after epoch 0");
    return result;
  } catch (error) {
    states.forEach((f) => f.trained.model.dispose());
    throw error;
  }
}

/** Trains one MLP on one train/validation split (trainFolds with one fold); throws TrialPruned when onEpoch asks to prune. */
export async function trainMlp(tf: Tf, data: TrainData, p: MlpParams, options: TrainOptions): Promise<TrainedModel> {
  const r = await trainFolds(tf, [data], p, options);
  return r.models[0];
}
