/**
 * `hpo predict` with the real CLI on what a real `hpo tune` saved: on the
 * tune's held-out test rows it reproduces result.json's testScore; plus the
 * exit statuses of a usage error and a missing feature column. Needs
 * `npm run build` (dist/).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { loadDataset, splitDataset, type Dataset } from "../../gpu-runner/tfjs/data.js";
import { hpoCli as hpo, removeDir, ROOT, tempDir } from "../helpers/daemon.js";

const DATA = join(ROOT, "examples", "tune", "data", "breast_cancer.csv");

/** A header CSV of `rows` of the dataset, the target column as its original labels; `drop` leaves a column out. */
function writeRows(file: string, d: Dataset, rows: readonly number[], drop?: string): void {
  const columns = [...d.featureNames, d.target];
  const keep = columns.map((c) => c !== drop);
  const lines = [columns, ...rows.map((i) => [...d.x[i].map(String), d.classes[d.y[i]]])].map((cells) => cells.filter((_, j) => keep[j]).join(","));
  writeFileSync(file, `${lines.join("\n")}\n`);
}

let out: string;
let testCsv: string;
let testRows: number[];
let dataset: Dataset;
let result: { testScore: number; modelPath: string; members: unknown[] };

beforeAll(async () => {
  out = tempDir("predict-e2e-");
  const r = await hpo(["tune", "--data", DATA, "--target", "target", "--trials", "3", "--epochs", "3", "--seed", "1", "--out", out, "--gpus", "none"]);
  expect(r.code, r.stderr).toBe(0);
  result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as typeof result;
  // The same load and split as tune's (seed 1): exactly its held-out test rows.
  dataset = loadDataset(DATA, { target: "target" });
  testRows = splitDataset(dataset, { seed: 1 }).test;
  testCsv = join(out, "test-rows.csv");
  writeRows(testCsv, dataset, testRows);
}, 300_000);

afterAll(() => removeDir(out));

describe("hpo predict", () => {
  it("reproduces the tune's held-out test score on its test rows (--json)", async () => {
    const r = await hpo(["predict", "--model", join(out, "model"), "--data", testCsv, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { task: string; rows: number; metric: string; score: number; members: number; predictions: Array<Record<string, unknown>> };
    expect(summary.task).toBe("classification");
    expect(summary.rows).toBe(testRows.length);
    expect(summary.metric).toBe("accuracy");
    expect(Math.abs(summary.score - result.testScore)).toBeLessThan(1e-9);
    expect(summary.predictions).toHaveLength(testRows.length);
    expect(Object.keys(summary.predictions[0])).toEqual(["prediction", "p_0", "p_1"]);
  });

  it("writes one CSV row per input row with --out and prints the score", async () => {
    const file = join(out, "predictions.csv");
    const r = await hpo(["predict", "--model", result.modelPath, "--data", testCsv, "--out", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`accuracy against column "target": ${result.testScore.toFixed(4).replace(".", "\\.")}`));
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines[0]).toBe("prediction,p_0,p_1");
    expect(lines).toHaveLength(testRows.length + 1);
    for (const line of lines.slice(1)) {
      const [label, p0, p1] = line.split(",");
      expect(["0", "1"]).toContain(label);
      expect(Number(p0) + Number(p1)).toBeCloseTo(1, 5);
      expect(label).toBe(Number(p1) > Number(p0) ? "1" : "0");
    }
  });

  it("exits 2 on a usage error, 1 naming a missing feature column", async () => {
    const usage = await hpo(["predict", "--data", testCsv]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--model is required/);
    expect(usage.stderr).toMatch(/Usage: hpo predict/);
    const noX3 = join(out, "no-x3.csv");
    writeRows(noX3, dataset, testRows, "x3");
    const missing = await hpo(["predict", "--model", join(out, "model"), "--data", noX3]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^hpo predict: feature column "x3" not found/m);
    expect(missing.stdout).toBe("");
  });
});
