/**
 * Saving a trained model as TensorFlow.js files: model.json + weights.bin
 * (the layout tf.loadLayersModel("file://.../model.json") reads), plus
 * preprocess.json. tf.io's file:// handler exists only in tfjs-node, so this
 * writes the artifacts with a custom IOHandler that works on every backend.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { io } from "@tensorflow/tfjs";

import type { Tf } from "./backend.js";
import type { TrainedModel } from "./trainable.js";

function weightBytes(data: ArrayBuffer | ArrayBuffer[] | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  const parts = Array.isArray(data) ? data : [data];
  return Buffer.concat(parts.map((b) => Buffer.from(b)));
}

/** Writes model.json, weights.bin and preprocess.json into `dir`; returns the model.json path. */
export async function saveModel(tf: Tf, trained: TrainedModel, dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const handler = tf.io.withSaveHandler(async (artifacts: io.ModelArtifacts): Promise<io.SaveResult> => {
    const weights = weightBytes(artifacts.weightData);
    const modelJson = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format ?? "layers-model",
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
    };
    writeFileSync(join(dir, "model.json"), JSON.stringify(modelJson));
    writeFileSync(join(dir, "weights.bin"), weights);
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: weights.length } };
  });
  await trained.model.save(handler);
  writeFileSync(
    join(dir, "preprocess.json"),
    `${JSON.stringify({ task: trained.task, classes: trained.classes, yMean: trained.yMean, yScale: trained.yScale, preprocessor: trained.preprocessor, ...extra }, null, 1)}\n`,
  );
  return join(dir, "model.json");
}
