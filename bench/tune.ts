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
 *     [--seeds 0,1,2] [--trials 40] [--epochs auto] [--folds auto] [--ensemble 5] [--portfolio-weight auto] [--refit-seeds auto] [--no-bag] [--no-refit]
 *     [--pruner median] [--out bench-tune-out]
 *
 * The table's "tuned" column is the final model's test score (refit on train
 * + validation, the top --ensemble trials averaged, as `hpo tune` does);
 * "best trial's model" is the best trial's own model (train split only), for
 * comparison; "sklearn best" is the better of the two baselines' means.
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
    epochs: { type: "string", default: "auto" },
    folds: { type: "string", default: "auto" },
    ensemble: { type: "string", default: "5" },
    "portfolio-weight": { type: "string", default: "auto" },
    "no-refit": { type: "boolean", default: false },
    "no-bag": { type: "boolean", default: false },
    "refit-seeds": { type: "string", default: "auto" },
    pruner: { type: "string", default: "median" },
    out: { type: "string", default: "bench-tune-out" },
  },
});

interface Row {
  dataset: string;
  seed: number;
  tuned: number;
  bestTrialModel: number;
  validation: number;
  members: Array<{ trial: number; weight: number; validationScore: number; epochs: number }>;
  portfolioWeight: number;
  /** The share of lowest mean out-of-bag loss (the rule may choose a larger one). */
  portfolioLowestLoss?: number;
  outOfBag?: number;
  folds: number;
  epochs: number;
  bestParams: Record<string, unknown>;
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
      ...(values.epochs !== "auto" ? { epochs: Number(values.epochs) } : {}),
      ...(values.folds !== "auto" ? { folds: Number(values.folds) } : {}),
      ensemble: Number(values.ensemble),
      portfolioWeight: values["portfolio-weight"] === "auto" ? "auto" : Number(values["portfolio-weight"]),
      refit: values["no-refit"] !== true,
      bag: values["no-bag"] !== true,
      ...(values["refit-seeds"] !== "auto" ? { refitSeeds: Number(values["refit-seeds"]) } : {}),
      algorithm: "auto",
      pruner: values.pruner,
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
    const row: Row = {
      dataset: name,
      seed,
      tuned: r.testScore,
      bestTrialModel: r.bestTrialModelTestScore,
      validation: r.validationScore,
      members: r.members,
      portfolioWeight: r.portfolio.weight,
      ...(r.portfolio.lowestLossWeight !== undefined ? { portfolioLowestLoss: r.portfolio.lowestLossWeight } : {}),
      ...(r.outOfBagScore !== undefined ? { outOfBag: r.outOfBagScore } : {}),
      folds: r.folds,
      epochs: r.epochs,
      bestParams: r.bestParams,
      baselines,
      trials: r.trials.length,
      seconds: r.wallSeconds,
    };
    rows.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const lines = [
  "| dataset | metric | tuned (test) | best trial's model (test) | sklearn best (test) | baselines (test) | tuned - sklearn best | seeds | trials | wall s |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];
for (const name of [...new Set(rows.map((r) => r.dataset))]) {
  const rs = rows.filter((r) => r.dataset === name);
  const models = Object.keys(rs[0].baselines);
  const base = models.map((m) => `${m} ${mean(rs.map((r) => r.baselines[m])).toFixed(4)}`).join(", ");
  const sklearnBest = Math.max(...models.map((m) => mean(rs.map((r) => r.baselines[m]))));
  const tuned = mean(rs.map((r) => r.tuned));
  const metric = name === "diabetes" ? "R²" : "accuracy";
  const diff = tuned - sklearnBest;
  lines.push(
    `| ${name} | ${metric} | ${tuned.toFixed(4)} | ${mean(rs.map((r) => r.bestTrialModel)).toFixed(4)} | ${sklearnBest.toFixed(4)} | ${base} | ${diff >= 0 ? "+" : ""}${diff.toFixed(4)} | ${rs.length} | ${mean(rs.map((r) => r.trials)).toFixed(0)} | ${rs.reduce((s, r) => s + r.seconds, 0).toFixed(0)} |`,
  );
}
const table = `${lines.join("\n")}\n`;
writeFileSync(join(values.out, "results.json"), `${JSON.stringify(rows, null, 1)}\n`);
writeFileSync(join(values.out, "results.md"), table);
process.stdout.write(table);
