/**
 * load.ts: models saved as hpo tune saves them (one model, or an ensemble of
 * members) load back to the same predictions, and broken directories fail
 * with SavedModelError.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { loadTf, type Tf } from "../../gpu-runner/tfjs/backend.js";
import { loadDataset, seededRandom, splitDataset, take, type Dataset } from "../../gpu-runner/tfjs/data.js";
import { loadSavedModel, predictSaved, SavedModelError } from "../../gpu-runner/tfjs/load.js";
import { saveModel } from "../../gpu-runner/tfjs/save.js";
import { DEFAULT_PARAMS, trainMlp, type TrainData, type TrainedModel } from "../../gpu-runner/tfjs/trainable.js";
import { predictEnsemble } from "../../gpu-runner/tfjs/ensemble.js";
import { saveFinal } from "../../gpu-runner/tfjs/tune.js";

const DATA = join(import.meta.dirname, "..", "..", "examples", "tune", "data");

let tf: Tf;
let dataset: Dataset;
let data: TrainData;
const models: TrainedModel[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tune-load-"));
  dirs.push(dir);
  return dir;
}

function expectClose(a: number[][], b: number[][]): void {
  expect(a).toHaveLength(b.length);
  a.forEach((row, i) => row.forEach((v, k) => expect(v).toBeCloseTo(b[i][k], 5)));
}

/** What tune's saveFinal is given as `extra`. */
function extra(d: Dataset): Record<string, unknown> {
  return { featureNames: d.featureNames, classes: d.classes, target: d.target };
}

beforeAll(async () => {
  tf = (await loadTf()).tf;
  dataset = loadDataset(join(DATA, "breast_cancer.csv"), { target: "target" });
  const s = splitDataset(dataset, { seed: 0 });
  const tr = take(dataset, s.train);
  const va = take(dataset, s.validation);
  data = { task: "classification", classes: 2, xTrain: tr.x, yTrain: tr.y, xVal: va.x, yVal: va.y };
  const fast = { ...DEFAULT_PARAMS, maxEpochs: 2, dropout: 0 };
  models.push(await trainMlp(tf, data, fast, { seed: 1 }));
  // PCA and RFE members: the loaded preprocess.json must reproduce them too.
  models.push(await trainMlp(tf, data, { ...fast, layers: 1, selection: "pca", keepFraction: 0.5 }, { seed: 2 }));
  models.push(await trainMlp(tf, data, { ...fast, layers: 0, selection: "rfe", keepFraction: 0.3 }, { seed: 3 }));
});

afterAll(() => {
  models.forEach((m) => m.model.dispose());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe("loadSavedModel", () => {
  it("loads one model saved like saveFinal does, from its directory or model.json", async () => {
    const dir = tempDir();
    const path = await saveFinal(tf, [{ trial: 4, weight: 1, model: models[0], scalar: { layers: 2 } }], dir, extra(dataset));
    expect(path).toBe(join(dir, "model.json"));
    for (const where of [dir, path]) {
      const saved = await loadSavedModel(tf, where);
      try {
        expect(saved.task).toBe("classification");
        expect(saved.featureNames).toEqual(dataset.featureNames);
        expect(saved.classes).toEqual(["0", "1"]);
        expect(saved.target).toBe("target");
        expect(saved.parts).toHaveLength(1);
        expect(saved.parts[0].model.classes).toBe(2);
        expectClose(predictSaved(tf, saved, data.xVal), predictEnsemble(tf, [{ model: models[0], weight: 1 }], data.xVal));
      } finally {
        saved.dispose();
      }
    }
  });

  it("loads an ensemble (ensemble.json + member-<i>/) to the in-memory weighted mean", async () => {
    const dir = tempDir();
    const parts = [
      { trial: 1, weight: 0.5, model: models[0], scalar: {} },
      { trial: 2, weight: 0.3, model: models[1], scalar: {} },
      { trial: 3, weight: 0.2, model: models[2], scalar: {} },
    ];
    const path = await saveFinal(tf, parts, dir, extra(dataset));
    expect(path).toBe(join(dir, "ensemble.json"));
    const saved = await loadSavedModel(tf, dir);
    try {
      expect(saved.path).toBe(path);
      expect(saved.parts.map((p) => p.weight)).toEqual([0.5, 0.3, 0.2]);
      expect(saved.featureNames).toHaveLength(30);
      expect(saved.classes).toEqual(["0", "1"]);
      expectClose(predictSaved(tf, saved, data.xVal), predictEnsemble(tf, parts, data.xVal));
    } finally {
      saved.dispose();
    }
  });

  it("a bare saveModel (class count, no names) gets x0.., class indices and target", async () => {
    const dir = tempDir();
    await saveModel(tf, models[0], dir);
    const saved = await loadSavedModel(tf, join(dir, "model.json"));
    try {
      expect(saved.featureNames).toEqual(Array.from({ length: 30 }, (_, i) => `x${i}`));
      expect(saved.classes).toEqual(["0", "1"]);
      expect(saved.target).toBe("target");
      expectClose(predictSaved(tf, saved, data.xVal.slice(0, 10)), predictEnsemble(tf, [{ model: models[0], weight: 1 }], data.xVal.slice(0, 10)));
    } finally {
      saved.dispose();
    }
  });

  it("regression: values come back on the target's scale", async () => {
    const rnd = seededRandom(5);
    const x = Array.from({ length: 80 }, () => [rnd(), rnd(), rnd()]);
    const y = x.map((r) => 100 + 30 * r[0] - 20 * r[2]);
    const reg = await trainMlp(tf, { task: "regression", classes: 0, xTrain: x.slice(0, 60), yTrain: y.slice(0, 60), xVal: x.slice(60), yVal: y.slice(60) }, { ...DEFAULT_PARAMS, maxEpochs: 2, dropout: 0 }, { seed: 1 });
    models.push(reg);
    const dir = tempDir();
    await saveFinal(tf, [{ trial: 0, weight: 1, model: reg, scalar: {} }], dir, { featureNames: ["a", "b", "c"], classes: [], target: "y" });
    const saved = await loadSavedModel(tf, dir);
    try {
      expect(saved.task).toBe("regression");
      expect(saved.classes).toEqual([]);
      expect(saved.target).toBe("y");
      expectClose(predictSaved(tf, saved, x.slice(60)), predictEnsemble(tf, [{ model: reg, weight: 1 }], x.slice(60)));
    } finally {
      saved.dispose();
    }
  });

  describe("errors", () => {
    async function failure(path: string): Promise<SavedModelError> {
      const error = await loadSavedModel(tf, path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SavedModelError);
      return error as SavedModelError;
    }

    it("a missing directory or an empty one", async () => {
      expect((await failure(join(tmpdir(), "no-such-model-dir-xyz"))).message).toMatch(/no-such-model-dir-xyz does not exist/);
      expect((await failure(tempDir())).message).toMatch(/holds neither ensemble\.json nor model\.json/);
    });

    it("a missing member file or weights.bin", async () => {
      const dir = tempDir();
      await saveFinal(tf, [{ trial: 1, weight: 0.5, model: models[0], scalar: {} }, { trial: 2, weight: 0.5, model: models[1], scalar: {} }], dir, extra(dataset));
      unlinkSync(join(dir, "member-1", "preprocess.json"));
      expect((await failure(dir)).message).toMatch(/cannot read .*member-1[/\\]preprocess\.json/);
      const one = tempDir();
      await saveModel(tf, models[0], one, extra(dataset));
      unlinkSync(join(one, "weights.bin"));
      expect((await failure(one)).message).toMatch(/cannot read .*weights\.bin/);
    });

    it("malformed JSON", async () => {
      const dir = tempDir();
      await saveModel(tf, models[0], dir, extra(dataset));
      writeFileSync(join(dir, "preprocess.json"), "{ not json");
      expect((await failure(dir)).message).toMatch(/malformed JSON in .*preprocess\.json/);
      writeFileSync(join(dir, "preprocess.json"), JSON.stringify({ task: "classification", classes: 2, preprocessor: {} }));
      expect((await failure(dir)).message).toMatch(/preprocessor needs equally long mean and scale/);
      const ens = tempDir();
      writeFileSync(join(ens, "ensemble.json"), JSON.stringify({ task: "classification", members: [] }));
      expect((await failure(ens)).message).toMatch(/members must be a non-empty array/);
    });

    it("a feature count mismatch, in the files or in the rows predicted", async () => {
      const dir = tempDir();
      await saveModel(tf, models[0], dir, extra(dataset));
      const pre = JSON.parse(readFileSync(join(dir, "preprocess.json"), "utf8")) as { featureNames: string[] };
      writeFileSync(join(dir, "preprocess.json"), JSON.stringify({ ...pre, featureNames: pre.featureNames.slice(1) }));
      expect((await failure(dir)).message).toMatch(/feature count mismatch: 29 featureNames but the preprocessor takes 30 features/);

      const ok = tempDir();
      await saveModel(tf, models[0], ok, extra(dataset));
      const saved = await loadSavedModel(tf, ok);
      try {
        expect(() => predictSaved(tf, saved, [data.xVal[0].slice(1)])).toThrow(/feature count mismatch: row 1 has 29 features, the model takes 30/);
      } finally {
        saved.dispose();
      }
    });
  });
});
