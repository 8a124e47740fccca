/**
 * The study `hpo tune` creates: the MLP search space (names read by
 * trainable.ts paramsFromTrial), one maximised objective (validation
 * accuracy or R²), the algorithm, pruner and trial budget.
 */
import { IMAGE_AUGMENTS, TABULAR_AUGMENTS } from "./augment.js";
import type { Task } from "./data.js";

export interface SpaceOptions {
  name: string;
  task: Task;
  trials: number;
  maxEpochs: number;
  /** The data are small images (adds shift/rotate/flip augmentation). */
  image: boolean;
  features: number;
  /** Empty or "auto": the daemon's automatic choice. */
  algorithm: string;
  pruner: string;
  seed: number;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const strings = (values: readonly string[]): Json => ({ choices: values.map((v) => ({ stringValue: v })) });

/** The Study (proto3 JSON form) for parseStudySpec/studyFromJson. */
export function tuneStudyJson(o: SpaceOptions): { [key: string]: Json } {
  const epochs = o.maxEpochs;
  // units, activation and dropout exist only with hidden layers.
  const hidden: Json = { parent: "layers", values: [1, 2, 3].map((v) => ({ intValue: v })) };
  const parameters: Json[] = [
    { name: "layers", description: "hidden layers (0: a linear / logistic model)", intDomain: { low: 0, high: 3 } },
    { name: "units", description: "units per hidden layer", intDomain: { low: 16, high: 256, log: true }, condition: hidden },
    { name: "activation", categoricalDomain: strings(["relu", "tanh", "elu", "selu"]), condition: hidden },
    { name: "optimizer", categoricalDomain: strings(["adam", "rmsprop", "sgd"]) },
    { name: "lr", description: "the optimiser's (base) learning rate", floatDomain: { low: 1e-4, high: 0.3, log: true } },
    {
      name: "schedule",
      description: "one scheduler step per epoch",
      lrScheduleDomain: {
        totalSteps: epochs,
        options: [
          { kind: "LR_SCHEDULE_KIND_CONSTANT" },
          {
            kind: "LR_SCHEDULE_KIND_STEP",
            hyperparameters: [
              { name: "step_size", intDomain: { low: 2, high: Math.max(3, Math.floor(epochs / 2)) } },
              { name: "gamma", floatDomain: { low: 0.1, high: 0.9 } },
            ],
          },
          { kind: "LR_SCHEDULE_KIND_EXPONENTIAL", hyperparameters: [{ name: "gamma", floatDomain: { low: 0.8, high: 0.99 } }] },
          { kind: "LR_SCHEDULE_KIND_COSINE_ANNEALING" },
        ],
        warmupSteps: { low: 0, high: Math.min(3, Math.max(0, epochs - 1)) },
        warmupStartFactor: { low: 0.1, high: 0.5 },
      },
    },
    { name: "batch_size", categoricalDomain: { choices: [16, 32, 64, 128].map((v) => ({ intValue: v })) } },
    { name: "patience", description: "early-stopping patience in epochs", intDomain: { low: 3, high: 10 } },
    { name: "l1", floatDomain: { low: 1e-8, high: 1e-3, log: true } },
    { name: "l2", floatDomain: { low: 1e-8, high: 1e-2, log: true } },
    { name: "dropout", description: "after each hidden layer", floatDomain: { low: 0, high: 0.5 }, condition: hidden },
    { name: "standardize", categoricalDomain: { choices: [{ boolValue: true }, { boolValue: false }] } },
    { name: "feature_selection", categoricalDomain: strings(["none", "pca", "rfe"]) },
    {
      name: "keep_fraction",
      description: "features (rfe) or components (pca) kept, as a fraction of the features",
      floatDomain: { low: Math.min(0.9, Math.max(0.1, 1 / o.features)), high: 1 },
      condition: { parent: "feature_selection", values: [{ stringValue: "pca" }, { stringValue: "rfe" }] },
    },
    { name: "augment", categoricalDomain: strings(o.image ? IMAGE_AUGMENTS : TABULAR_AUGMENTS) },
    {
      name: "augment_strength",
      description: "noise std (standardised units), mixup alpha, or image shift/rotation scale",
      floatDomain: { low: 0.01, high: 0.5, log: true },
      condition: {
        parent: "augment",
        values: (o.image ? IMAGE_AUGMENTS : TABULAR_AUGMENTS).filter((a) => a !== "none").map((a) => ({ stringValue: a })),
      },
    },
  ];
  const algorithm = o.algorithm === "auto" ? "" : o.algorithm;
  const pruner: { [key: string]: Json } = { name: o.pruner };
  if (o.pruner === "median" || o.pruner === "percentile") {
    pruner.startupTrials = 3;
    pruner.warmupSteps = 3;
    if (o.pruner === "percentile") pruner.percentile = 25;
  }
  return {
    name: o.name,
    labels: { tool: "hpo-tune" },
    spec: {
      searchSpace: { parameters },
      objectives: [{ name: o.task === "classification" ? "val_accuracy" : "val_r2", direction: "DIRECTION_MAXIMIZE" }],
      algorithm: { name: algorithm, seed: String(o.seed) },
      pruner,
      maxTrials: o.trials,
      heartbeatTimeout: "300s",
    },
  };
}
