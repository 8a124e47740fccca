/**
 * Loading what `hpo tune` saved (save.ts, tune.ts saveFinal): one model
 * (model.json + weights.bin + preprocess.json) or an ensemble (ensemble.json
 * and member-<i>/ with those three files), and predicting with it on raw rows.
 * Reads the files itself and hands tf an in-memory IOHandler, because tf.io's
 * file:// handler exists only in tfjs-node.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

import type { io, LayersModel } from "@tensorflow/tfjs";

import type { Tf } from "./backend.js";
import type { Task } from "./data.js";
import { predictEnsemble } from "./ensemble.js";
import { outputWidth, type Preprocessor } from "./preprocess.js";
import type { TrainedModel } from "./trainable.js";

/** A saved model that is missing, malformed or inconsistent. */
export class SavedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SavedModelError";
  }
}

export interface SavedPart {
  model: TrainedModel;
  weight: number;
}

export interface SavedModel {
  task: Task;
  /** The raw columns the model reads, in order. */
  featureNames: string[];
  /** Classification: the original label of each output (class index); regression: empty. */
  classes: string[];
  target: string;
  /** ensemble.json's or model.json's path. */
  path: string;
  parts: SavedPart[];
  /** Frees the parts' tf models. */
  dispose(): void;
}

type Json = Record<string, unknown>;

function readJson(path: string): Json {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new SavedModelError(`cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SavedModelError(`malformed JSON in ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new SavedModelError(`malformed ${path}: not a JSON object`);
  return value as Json;
}

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === "number");
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function readTask(v: unknown, path: string): Task {
  if (v !== "classification" && v !== "regression") throw new SavedModelError(`malformed ${path}: task must be classification or regression, got ${JSON.stringify(v)}`);
  return v;
}

function readPreprocessor(v: unknown, path: string): Preprocessor {
  const p = v as Partial<Preprocessor> | null;
  if (typeof p !== "object" || p === null || !isNumberArray(p.mean) || !isNumberArray(p.scale) || p.mean.length !== p.scale.length || p.mean.length === 0) {
    throw new SavedModelError(`malformed ${path}: preprocessor needs equally long mean and scale arrays`);
  }
  if (p.selection !== "none" && p.selection !== "pca" && p.selection !== "rfe") throw new SavedModelError(`malformed ${path}: unknown preprocessor.selection ${JSON.stringify(p.selection)}`);
  if (p.selection === "pca" && (!isNumberArray(p.pcaMean) || !Array.isArray(p.components) || !p.components.every(isNumberArray))) {
    throw new SavedModelError(`malformed ${path}: PCA preprocessor without pcaMean/components`);
  }
  if (p.selection === "rfe" && (!isNumberArray(p.kept) || p.kept.some((j) => !Number.isInteger(j) || j < 0 || j >= p.mean!.length))) {
    throw new SavedModelError(`malformed ${path}: RFE preprocessor without valid kept indices`);
  }
  return p as Preprocessor;
}

/** model.json's weight files, concatenated in manifest order (the order tf expects the specs in). */
async function loadLayers(tf: Tf, path: string): Promise<LayersModel> {
  const json = readJson(path);
  const manifest = json.weightsManifest;
  if (json.modelTopology === undefined || !Array.isArray(manifest)) throw new SavedModelError(`malformed ${path}: needs modelTopology and weightsManifest`);
  const specs: unknown[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest as Array<{ paths?: unknown; weights?: unknown }>) {
    if (!isStringArray(group.paths) || !Array.isArray(group.weights)) throw new SavedModelError(`malformed ${path}: a weightsManifest entry needs paths and weights`);
    specs.push(...(group.weights as unknown[]));
    for (const file of group.paths) {
      const full = join(dirname(path), file);
      try {
        buffers.push(readFileSync(full));
      } catch (error) {
        throw new SavedModelError(`cannot read ${full}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  const bin = Buffer.concat(buffers);
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs: specs as io.WeightsManifestEntry[],
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    );
  } catch (error) {
    throw new SavedModelError(`cannot load ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

interface Labels {
  featureNames?: string[];
  classes?: string[];
  target?: string;
}

/**
 * `classes` is the label list when tune wrote the file (its `extra` overrides
 * saveModel's class count) and the count when saveModel was called bare.
 */
function labelsOf(json: Json): Labels & { classCount?: number } {
  return {
    ...(isStringArray(json.featureNames) ? { featureNames: json.featureNames } : {}),
    ...(isStringArray(json.classes) ? { classes: json.classes, classCount: json.classes.length } : {}),
    ...(typeof json.classes === "number" ? { classCount: json.classes } : {}),
    ...(typeof json.target === "string" ? { target: json.target } : {}),
  };
}

function dimension(shape: unknown, path: string): number {
  const d = Array.isArray(shape) ? (shape as unknown[])[1] : undefined;
  if (typeof d !== "number") throw new SavedModelError(`${path}: the model is not a [rows, n] -> [rows, k] network`);
  return d;
}

/** One member: model.json with its preprocess.json; checks that the three agree. */
async function loadPart(tf: Tf, modelPath: string, preprocessPath: string): Promise<{ trained: TrainedModel; labels: Labels }> {
  const pre = readJson(preprocessPath);
  const task = readTask(pre.task, preprocessPath);
  const preprocessor = readPreprocessor(pre.preprocessor, preprocessPath);
  const labels = labelsOf(pre);
  const yMean = typeof pre.yMean === "number" ? pre.yMean : 0;
  const yScale = typeof pre.yScale === "number" ? pre.yScale : 1;
  if (labels.featureNames !== undefined && labels.featureNames.length !== preprocessor.mean.length) {
    throw new SavedModelError(`${preprocessPath}: feature count mismatch: ${labels.featureNames.length} featureNames but the preprocessor takes ${preprocessor.mean.length} features`);
  }
  const model = await loadLayers(tf, modelPath);
  try {
    const inputs = dimension(model.inputs[0]?.shape, modelPath);
    const outputs = dimension(model.outputs[0]?.shape, modelPath);
    if (inputs !== outputWidth(preprocessor)) {
      throw new SavedModelError(`${modelPath}: feature count mismatch: the network takes ${inputs} inputs, ${preprocessPath} produces ${outputWidth(preprocessor)}`);
    }
    const classes = task === "classification" ? (labels.classCount ?? outputs) : 0;
    if (task === "classification" ? outputs !== classes || classes < 2 : outputs !== 1) {
      throw new SavedModelError(`${modelPath}: ${outputs} outputs, expected ${task === "classification" ? `${classes} classes` : "1 (regression)"}`);
    }
    const trained: TrainedModel = { model, preprocessor, task, classes, yMean, yScale, bestScore: NaN, bestLoss: NaN, bestEpoch: -1, curve: [] };
    return { trained, labels };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** ensemble.json when `path` is (or is a directory holding) one, else model.json. */
function locate(path: string): { kind: "ensemble" | "single"; file: string } {
  const full = resolve(path);
  if (!existsSync(full)) throw new SavedModelError(`${path} does not exist`);
  if (statSync(full).isDirectory()) {
    if (existsSync(join(full, "ensemble.json"))) return { kind: "ensemble", file: join(full, "ensemble.json") };
    if (existsSync(join(full, "model.json"))) return { kind: "single", file: join(full, "model.json") };
    const hint = existsSync(join(full, "model")) ? `; did you mean ${join(path, "model")}?` : " (the model/ directory hpo tune writes)";
    throw new SavedModelError(`${path} holds neither ensemble.json nor model.json${hint}`);
  }
  return { kind: basename(full) === "ensemble.json" ? "ensemble" : "single", file: full };
}

function merge(task: Task, top: Labels, parts: Array<{ labels: Labels; trained: TrainedModel }>, path: string): Pick<SavedModel, "task" | "featureNames" | "classes" | "target"> {
  const width = parts[0].trained.preprocessor.mean.length;
  const featureNames = top.featureNames ?? parts.find((p) => p.labels.featureNames !== undefined)?.labels.featureNames ?? Array.from({ length: width }, (_, i) => `x${i}`);
  const count = parts[0].trained.classes;
  const classes = task === "classification" ? (top.classes ?? parts.find((p) => p.labels.classes !== undefined)?.labels.classes ?? Array.from({ length: count }, (_, k) => String(k))) : [];
  for (const p of parts) {
    if (p.trained.task !== task) throw new SavedModelError(`${path}: members disagree on the task`);
    if (p.trained.preprocessor.mean.length !== featureNames.length) {
      throw new SavedModelError(`${path}: feature count mismatch: ${featureNames.length} featureNames but a member takes ${p.trained.preprocessor.mean.length} features`);
    }
    if (p.trained.classes !== (task === "classification" ? classes.length : 0)) throw new SavedModelError(`${path}: a member has ${p.trained.classes} classes, the model lists ${classes.length}`);
  }
  return { task, featureNames, classes, target: top.target ?? parts.find((p) => p.labels.target !== undefined)?.labels.target ?? "target" };
}

function finish(meta: Pick<SavedModel, "task" | "featureNames" | "classes" | "target">, path: string, loaded: Array<{ trained: TrainedModel; weight: number }>): SavedModel {
  const parts = loaded.map((p) => ({ model: p.trained, weight: p.weight }));
  return { ...meta, path, parts, dispose: () => parts.forEach((p) => p.model.model.dispose()) };
}

/**
 * Loads a saved model from its directory (tune's `<out>/model`) or the path
 * of its model.json / ensemble.json. Missing featureNames / classes / target
 * (a bare saveModel) default to the names data.ts gives headerless files:
 * x0.., class indices, "target". Throws SavedModelError.
 */
export async function loadSavedModel(tf: Tf, path: string): Promise<SavedModel> {
  const { kind, file } = locate(path);
  const loaded: Array<{ trained: TrainedModel; labels: Labels; weight: number }> = [];
  try {
    if (kind === "single") {
      loaded.push({ ...(await loadPart(tf, file, join(dirname(file), "preprocess.json"))), weight: 1 });
      return finish(merge(loaded[0].trained.task, {}, loaded, file), file, loaded);
    }
    const json = readJson(file);
    const members = json.members;
    if (!Array.isArray(members) || members.length === 0) throw new SavedModelError(`malformed ${file}: members must be a non-empty array`);
    for (const [i, m] of (members as Array<Record<string, unknown> | null>).entries()) {
      if (typeof m !== "object" || m === null || typeof m.model !== "string" || typeof m.preprocess !== "string" || typeof m.weight !== "number" || !(m.weight >= 0)) {
        throw new SavedModelError(`malformed ${file}: member ${i} needs model, preprocess and a weight >= 0`);
      }
      loaded.push({ ...(await loadPart(tf, join(dirname(file), m.model), join(dirname(file), m.preprocess))), weight: m.weight });
    }
    if (!(loaded.reduce((s, p) => s + p.weight, 0) > 0)) throw new SavedModelError(`malformed ${file}: the member weights sum to 0`);
    const task = json.task === undefined ? loaded[0].trained.task : readTask(json.task, file);
    return finish(merge(task, labelsOf(json), loaded, file), file, loaded);
  } catch (error) {
    loaded.forEach((p) => p.trained.model.dispose());
    throw error;
  }
}

/** The weighted mean of the parts' outputs on raw rows (predictEnsemble, with the row width checked). */
export function predictSaved(tf: Tf, saved: SavedModel, x: number[][]): number[][] {
  const bad = x.findIndex((row) => row.length !== saved.featureNames.length);
  if (bad >= 0) throw new SavedModelError(`feature count mismatch: row ${bad + 1} has ${x[bad].length} features, the model takes ${saved.featureNames.length}`);
  if (x.length === 0) return [];
  return predictEnsemble(tf, saved.parts, x);
}
