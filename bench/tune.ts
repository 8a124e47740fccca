#!/usr/bin/env node
/**
 * Benchmark of `hpo tune`: on each dataset and split seed, the tuned MLP's
 * held-out test score (at most --trials trials, an embedded daemon per run)
 * next to scikit-learn's defaults on the same split (bench/sklearn_baseline.py
 * with Debian's /usr/bin/python3 and python3-sklearn): standardised
 * LogisticRegression and MLPClassifier, or Ridge and MLPRegressor for diabetes.
 * The baselines train on train + validation (all non-test rows).
 *
 *   npm run build && node dist/bench/tune.js [--datasets breast_cancer,wine,digits,diabetes]
 *     [--seeds 0,1,2] [--trials 40] [--epochs 30] [--out bench-tune-out]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

import { loadDataset, splitDataset } from "../gpu-runner/tfjs/data.js";
import { runTune } from "../gpu-runner/tfjs/tune.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const DATA = join(ROOT, "examples", "tune", "data");
const DATASETS: Record<string, { file: string; target: string }> = {
  breast_cancer: { file: "breast_cancer.csv", target: "target" },
  wine: { file: "wine_data.csv", target: "target" },
  digits: { file: "digits.csv.gz", target: "target" },
  diabetes: { file: "diabetes.csv", target: "progression" },
};

const { values } = parseArgs({
  options: {
    datasets: { type: "string", default: Object.keys(DATASETS).join(",") },
    seeds: { type: "string", default: "0,1,2" },
    trials: { type: "string", default: "40" },
    epochs: { type: "string", default: "30" },
    out: { type: "string", default: "bench-tune-out" },
  },
});

interface Row {
  dataset: string;
  seed: number;
  tuned: number;
  validation: number;
  baselines: Record<string, number>;
  trials: number;
  seconds: number;
}

const rows: Row[] = [];
const seeds = values.seeds.split(",").map(Number);
mkdirSync(values.out, { recursive: true });
for (const name of values.datasets.split(",")) {
  const spec = DATASETS[name];
  if (spec === undefined) throw new Error(`unknown dataset ${name}; known: ${Object.keys(DATASETS).join(", ")}`);
  const file = join(DATA, spec.file);
  const dataset = loadDataset(file, { target: spec.target });
  for (const seed of seeds) {
    const r = await runTune({
      data: file,
      target: spec.target,
      trials: Number(values.trials),
      epochs: Number(values.epochs),
      algorithm: "auto",
      pruner: "median",
      gpus: "none",
      out: join(values.out, `${name}-seed${seed}`),
      seed,
      write: () => undefined,
      isTty: false,
      log: (line) => process.stderr.write(`[${name} seed ${seed}] ${line}\n`),
    });
    const split = splitDataset(dataset, { seed });
    const baselines = JSON.parse(
      execFileSync("/usr/bin/python3", [join(ROOT, "bench", "sklearn_baseline.py")], {
        input: JSON.stringify({ task: dataset.task, x: dataset.x, y: dataset.y, train: [...split.train, ...split.validation], test: split.test, seed }),
        encoding: "utf8",
        maxBuffer: 64 << 20,
      }),
    ) as Record<string, number>;
    const row: Row = { dataset: name, seed, tuned: r.testScore, validation: r.validationScore, baselines, trials: r.trials.length, seconds: r.wallSeconds };
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const lines = ["| dataset | metric | tuned MLP (test) | " + "baselines (test) | seeds | trials | wall s |", "| --- | --- | --- | --- | --- | --- | --- |"];
for (const name of [...new Set(rows.map((r) => r.dataset))]) {
  const rs = rows.filter((r) => r.dataset === name);
  const models = Object.keys(rs[0].baselines);
  const base = models.map((m) => `${m} ${mean(rs.map((r) => r.baselines[m])).toFixed(4)}`).join(", ");
  const metric = name === "diabetes" ? "R²" : "accuracy";
  lines.push(`| ${name} | ${metric} | ${mean(rs.map((r) => r.tuned)).toFixed(4)} | ${base} | ${rs.length} | ${mean(rs.map((r) => r.trials)).toFixed(0)} | ${rs.reduce((s, r) => s + r.seconds, 0).toFixed(0)} |`);
}
const table = `${lines.join("\n")}\n`;
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(rows, null, 1)}\n`);
writeFileSync(join(values.out, "results.md"), table);
process.stdout.write(table);
