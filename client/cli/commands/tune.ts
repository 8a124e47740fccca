/**
 * `hpo tune`: tunes the built-in TensorFlow.js MLP on a CSV file, end to end
 * (see docs/TUNE.md). It has its own flags, so the dispatcher hands it the
 * raw argv, like `hpo runner`.
 */
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

import { TuneDataError } from "../../../gpu-runner/tfjs/data.js";
import { runTune, TuneError } from "../../../gpu-runner/tfjs/tune.js";
import { BACKEND_NAMES, type BackendName } from "../../../gpu-runner/tfjs/backend.js";
import { HpodClientError } from "../../errors.js";
import { ProtoJsonError } from "../../proto-json.js";
import type { CliIo } from "../context.js";
import { ownCommandArgv } from "../own-command.js";

export const TUNE_USAGE = `Usage: hpo tune --data FILE.csv --target COLUMN [options]

Tunes a TensorFlow.js MLP or linear model (depth 0-3, width, activation, optimiser, lr and
lr schedule, batch size, early-stopping patience, L1/L2, dropout, standardisation, PCA/RFE
feature selection, augmentation) with k-fold cross-validation (small data) or a
train/validation split, picks a weighted ensemble of the best trials on their validation
predictions, refits it on all non-test rows, and reports that model's score on a held-out
test split never seen while tuning.

Options:
  --data FILE          CSV (.csv or .csv.gz): a header row, or the scikit-learn first-line
                       convention (columns x0.. and target), or no header
  --target COLUMN      the column to predict
  --task T             classification|regression (default: detected from the target)
  --trials N           trials to run (default 20)
  --epochs N|auto      most epochs per trial (default auto: about 500 batches of 32 rows,
                       30-100 epochs; early stopping ends sooner)
  --folds K|auto       k-fold cross-validation on the non-test rows; 1: one train/validation
                       split (default auto: 5 up to 300 non-test rows, 3 up to 1000, else 1, at
                       most the rarest class's rows); a K the rows or a class cannot fill: exit 1
  --ensemble K         at most K trials in the final weighted ensemble, chosen greedily on the
                       validation predictions (default 5; 1: the best trial only)
  --portfolio-weight W|auto
                       the default portfolio's share of the final model (its trials averaged,
                       the rest from the selection); default auto: 0, .25, .5, .75 or 1 by the
                       bootstrap out-of-bag loss of the whole selection, the largest share within
                       one standard deviation of the lowest; 0: selection only
  --refit-seeds N|auto refits per chosen trial, with different initial weights, averaged
                       (default auto: 3 with k folds, 1 with one validation split)
  --no-bag             leave the chosen trials' own (fold) models out of the final model
                       (refits only)
  --no-refit           the chosen trials' own models only (trained without their validation
                       rows), no refit on all non-test rows
  --algorithm NAME     the study's sampler (default auto)
  --pruner NAME        median|percentile|asha|hyperband|patience|curve|none (default median)
  --gpus LIST          auto|none|0,1,... : slots as hpo runner plans them (default auto)
  --slots N            CPU slots (default 1), or at most N GPU slots
  --address HOST:PORT  use this daemon instead of starting an embedded one
  --data-dir DIR       the embedded daemon's store (default a temporary directory)
  --spec FILE          the study (YAML/JSON) instead of the built-in search space
  --study NAME         the study name (default tune-<file>-<time>)
  --out DIR            where the model and report go (default hpo-tune-out)
  --seed S             split, sampler and training seed (default 0)
  --backend B          tfjs-node-gpu|tfjs-node|wasm|cpu (default: the first that loads)
  -h, --help           show this help
`;

const FLAGS = {
  data: { type: "string" },
  target: { type: "string" },
  task: { type: "string" },
  trials: { type: "string" },
  epochs: { type: "string" },
  ensemble: { type: "string" },
  folds: { type: "string" },
  "no-refit": { type: "boolean" },
  "no-bag": { type: "boolean" },
  "refit-seeds": { type: "string" },
  "portfolio-weight": { type: "string" },
  algorithm: { type: "string" },
  pruner: { type: "string" },
  gpus: { type: "string" },
  slots: { type: "string" },
  address: { type: "string" },
  "data-dir": { type: "string" },
  spec: { type: "string" },
  study: { type: "string" },
  out: { type: "string" },
  seed: { type: "string" },
  backend: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** When argv is a tune command (`[--address A] [--json] tune ...`), the argv without `tune`; else undefined. */
export function tuneArgv(argv: readonly string[]): string[] | undefined {
  const own = ownCommandArgv(argv, "tune");
  return own === undefined ? undefined : [...own.globals, ...own.args];
}

class TuneUsageError extends Error {}

function intFlag(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new TuneUsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** --portfolio-weight: "auto" or a number in [0, 1]. */
function portfolioWeightFlag(value: string | undefined): number | "auto" {
  if (value === undefined || value === "auto") return "auto";
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new TuneUsageError(`--portfolio-weight must be auto or a number in [0, 1], got ${JSON.stringify(value)}`);
  return n;
}

/** Runs `hpo tune`; resolves to the exit status (0 ok, 1 failure, 2 usage). */
export async function tuneMain(argv: readonly string[], io: CliIo, signal: AbortSignal): Promise<number> {
  let options: Parameters<typeof runTune>[0];
  let json = false;
  try {
    const { values } = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: false, strict: true });
    if (values.help === true) {
      io.stdout.write(TUNE_USAGE);
      return 0;
    }
    json = values.json === true;
    if (values.data === undefined) throw new TuneUsageError("--data is required");
    if (values.target === undefined) throw new TuneUsageError("--target is required");
    if (values.task !== undefined && values.task !== "classification" && values.task !== "regression") {
      throw new TuneUsageError(`--task must be classification or regression, got ${JSON.stringify(values.task)}`);
    }
    const backend = values.backend;
    if (backend !== undefined && !BACKEND_NAMES.some((b) => b === backend)) throw new TuneUsageError(`--backend must be one of ${BACKEND_NAMES.join(", ")}`);
    const envAddress = io.env.HPOD_ADDRESS !== undefined && io.env.HPOD_ADDRESS !== "" ? io.env.HPOD_ADDRESS : undefined;
    const address = values.address ?? envAddress;
    options = {
      data: values.data,
      target: values.target,
      trials: intFlag("trials", values.trials, 20, 1),
      ...(values.epochs !== undefined && values.epochs !== "auto" ? { epochs: intFlag("epochs", values.epochs, 30, 1) } : {}),
      ...(values.folds !== undefined && values.folds !== "auto" ? { folds: intFlag("folds", values.folds, 1, 1) } : {}),
      ensemble: intFlag("ensemble", values.ensemble, 5, 1),
      portfolioWeight: portfolioWeightFlag(values["portfolio-weight"]),
      refit: values["no-refit"] !== true,
      bag: values["no-bag"] !== true,
      ...(values["refit-seeds"] !== undefined && values["refit-seeds"] !== "auto" ? { refitSeeds: intFlag("refit-seeds", values["refit-seeds"], 3, 1) } : {}),
      algorithm: values.algorithm ?? "auto",
      pruner: values.pruner ?? "median",
      gpus: values.gpus ?? "auto",
      out: values.out ?? "hpo-tune-out",
      seed: intFlag("seed", values.seed, 0, 0),
      // --json keeps stdout for the result: progress goes to stderr.
      write: (text) => (json ? io.stderr : io.stdout).write(text),
      isTty: io.stdout.isTTY === true && !json,
      log: (line) => io.stderr.write(`hpo tune: ${line}\n`),
      signal,
      ...(values.task !== undefined ? { task: values.task as "classification" | "regression" } : {}),
      ...(values.slots !== undefined ? { slots: intFlag("slots", values.slots, 1, 1) } : {}),
      ...(address !== undefined ? { address } : {}),
      ...(values["data-dir"] !== undefined ? { dataDir: values["data-dir"] } : {}),
      ...(values.spec !== undefined ? { spec: values.spec } : {}),
      ...(values.study !== undefined ? { studyName: values.study } : {}),
      ...(backend !== undefined ? { backend: backend as BackendName } : {}),
    };
  } catch (error) {
    io.stderr.write(`hpo tune: ${error instanceof Error ? error.message : String(error)}\n\n${TUNE_USAGE}`);
    return 2;
  }
  try {
    const r = await runTune(options);
    const metric = r.task === "classification" ? "accuracy" : "R2";
    if (json) {
      const { trials, ...rest } = r;
      io.stdout.write(`${JSON.stringify({ ...rest, trialCount: trials.length }, null, 2)}\n`);
    } else {
      const params = Object.entries(r.bestParams).map(([k, v]) => `  ${k} = ${String(v)}`).join("\n");
      io.stdout.write(
        `\nbest trial ${r.bestTrial} of study ${r.study} (backend ${r.backend})\n${params}\n` +
          `${r.folds > 1 ? `${r.folds}-fold cross-` : ""}validation ${metric} (best trial): ${r.validationScore.toFixed(4)}\n` +
          `final model: ${r.refit ? `refit on the ${r.finalTrainRows} non-test rows (${r.refitSeeds} seed(s) each${r.members.some((m) => m.refits < r.refitSeeds) ? ", one for an exactly solved linear trial" : ""})${r.bag ? ` + the trials' own ${r.folds > 1 ? "fold models" : "models"}` : ""}` : "the trial models"}, ${r.members.length === 1 ? "the best trial" : `weighted mean of trials ${r.members.map((m) => `${m.trial} (${m.weight.toFixed(2)})`).join(", ")}`}\n` +
          (r.portfolio.trials.length > 0
            ? `portfolio share: ${r.portfolio.weight} (trials ${r.portfolio.trials.join(", ")})${r.portfolio.lowestLossWeight !== undefined ? `; lowest bootstrap out-of-bag loss at ${r.portfolio.lowestLossWeight}, the largest share within one standard deviation of it taken` : ""}\n`
            : "") +
          (r.outOfBagScore !== undefined ? `bootstrap out-of-bag ${metric} (less optimistic than the validation score it was chosen on): ${r.outOfBagScore.toFixed(4)}\n` : "") +
          `held-out test ${metric}: ${r.testScore.toFixed(4)}\n` +
          `model: ${r.modelPath}\nreport: ${r.reportPath}\n` +
          `plots: ${r.pngs.length > 0 ? `${r.pngs.length} PNG + SVG` : "SVG only (no rsvg-convert for PNG)"} in ${join(dirname(r.reportPath), "plots")}\nwall time: ${r.wallSeconds.toFixed(1)} s\n`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof TuneDataError || error instanceof TuneError || error instanceof ProtoJsonError) {
      io.stderr.write(`hpo tune: ${error.message}\n`);
      return 1;
    }
    if (error instanceof HpodClientError) {
      io.stderr.write(`hpo tune: ${error.codeName}: ${error.details}\n`);
      return 1;
    }
    io.stderr.write(`hpo tune: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
