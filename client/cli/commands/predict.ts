/**
 * `hpo predict`: applies a model saved by `hpo tune` (its `<out>/model`
 * directory) to the rows of a CSV file, and scores it when the file also has
 * the target column. Own flags, so the dispatcher hands it the raw argv, like
 * `hpo tune`.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { BACKEND_NAMES, loadTf, type BackendName } from "../../../gpu-runner/tfjs/backend.js";
import { featureValue, isNumeric, readTable, TuneDataError, type Table } from "../../../gpu-runner/tfjs/data.js";
import { loadSavedModel, predictSaved, type SavedModel } from "../../../gpu-runner/tfjs/load.js";
import { score } from "../../../gpu-runner/tfjs/trainable.js";
import type { CliIo } from "../context.js";
import { ownCommandArgv } from "../own-command.js";
import { csvCell } from "../csv.js";

export const PREDICT_USAGE = `Usage: hpo predict --model DIR --data FILE.csv [options]

Predicts with a model saved by hpo tune (one model or a weighted ensemble) on the rows of a
CSV file, which needs the model's feature columns (by name; other columns are ignored). When
the file also has the target column, prints the model's score on it (accuracy for
classification, R2 for regression).

Options:
  --model DIR          the model directory hpo tune wrote (<out>/model), or its model.json /
                       ensemble.json
  --data FILE          CSV (.csv or .csv.gz) in one of hpo tune's layouts: a header row, the
                       scikit-learn first-line convention (columns x0.. and target), or no header
  --out FILE           write the predictions CSV there (default: stdout, or into --json's output)
                       columns: prediction (the class label or the value) and, for classification,
                       p_<label> per class; one row per input row, in order
  --json               print a JSON summary (with the predictions unless --out)
  --backend B          tfjs-node-gpu|tfjs-node|wasm|cpu (default: the first that loads)
  -h, --help           show this help
`;

const FLAGS = {
  model: { type: "string" },
  data: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  backend: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * When argv is a predict command (`[--address A] [--json] predict ...`), its
 * arguments with a leading global --json kept; else undefined. --address is
 * dropped: predicting needs no daemon.
 */
export function predictArgv(argv: readonly string[]): string[] | undefined {
  const own = ownCommandArgv(argv, "predict");
  return own === undefined ? undefined : [...(own.json ? ["--json"] : []), ...own.args];
}

class PredictUsageError extends Error {}

/** The model's feature columns of `table`, by name, as numbers; throws TuneDataError naming the column and row. */
export function featureMatrix(table: Table, featureNames: readonly string[]): number[][] {
  const index = featureNames.map((name) => {
    const i = table.columns.indexOf(name);
    if (i < 0) throw new TuneDataError(`feature column "${name}" not found (the model reads ${featureNames.length} columns: ${featureNames.join(", ")}); the file's columns: ${table.columns.join(", ")}`);
    return i;
  });
  return table.rows.map((row, r) => {
    if (row.length !== table.columns.length) throw new TuneDataError(`row ${r + 1} has ${row.length} fields, expected ${table.columns.length}`);
    return index.map((c) => featureValue(row[c].trim(), table.columns[c], r + 1));
  });
}

/**
 * The target column as the model's y (class indices, or values); undefined
 * when the file has no such column. A label matches a class by its text, or
 * numerically ("1.0" is class "1").
 */
export function targetValues(table: Table, saved: Pick<SavedModel, "task" | "classes" | "target">): number[] | undefined {
  const c = table.columns.indexOf(saved.target);
  if (c < 0) return undefined;
  return table.rows.map((row, r) => {
    const field = (row[c] ?? "").trim();
    if (saved.task === "regression") {
      if (!isNumeric(field)) throw new TuneDataError(`target column "${saved.target}" is not numeric (value ${JSON.stringify(field)} at row ${r + 1})`);
      return Number(field);
    }
    let k = saved.classes.indexOf(field);
    if (k < 0 && isNumeric(field)) k = saved.classes.findIndex((label) => isNumeric(label) && Number(label) === Number(field));
    if (k < 0) throw new TuneDataError(`row ${r + 1}: label ${JSON.stringify(field)} of column "${saved.target}" is not a class of the model (${saved.classes.join(", ")})`);
    return k;
  });
}

/** Output rows keyed by column: prediction (+ p_<label> per class). */
function predictionRows(saved: SavedModel, predicted: number[][]): Array<Record<string, string | number>> {
  return predicted.map((row) => {
    if (saved.task === "regression") return { prediction: row[0] };
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    return Object.fromEntries([["prediction", saved.classes[best]], ...saved.classes.map((label, k) => [`p_${label}`, row[k]])]) as Record<string, string | number>;
  });
}

function toCsv(saved: SavedModel, rows: ReadonlyArray<Record<string, string | number>>): string {
  const columns = ["prediction", ...(saved.task === "classification" ? saved.classes.map((label) => `p_${label}`) : [])];
  return [columns, ...rows.map((r) => columns.map((c) => String(r[c])))].map((cells) => `${cells.map(csvCell).join(",")}\n`).join("");
}

interface PredictOptions {
  model: string;
  data: string;
  out?: string;
  json: boolean;
  backend?: BackendName;
}

async function runPredict(o: PredictOptions, io: CliIo): Promise<void> {
  const table = readTable(o.data);
  const { tf, backend } = await loadTf({ ...(o.backend !== undefined ? { prefer: o.backend } : {}), log: (line) => io.stderr.write(`hpo predict: ${line}\n`) });
  const saved = await loadSavedModel(tf, o.model);
  try {
    const x = featureMatrix(table, saved.featureNames);
    const y = targetValues(table, saved);
    const predicted = predictSaved(tf, saved, x);
    const rows = predictionRows(saved, predicted);
    const metric = saved.task === "classification" ? "accuracy" : "r2";
    const value = y !== undefined && y.length > 0 ? score(saved.task, predicted, y) : undefined;
    if (o.out !== undefined) {
      try {
        writeFileSync(o.out, toCsv(saved, rows));
      } catch (error) {
        throw new TuneDataError(`cannot write ${o.out}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (o.json) {
      const summary = {
        model: saved.path,
        members: saved.parts.length,
        backend,
        task: saved.task,
        rows: rows.length,
        target: saved.target,
        ...(value !== undefined ? { metric, score: value } : {}),
        ...(o.out !== undefined ? { out: o.out } : { predictions: rows }),
      };
      io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    if (o.out === undefined) io.stdout.write(toCsv(saved, rows));
    // The CSV may own stdout: the summary then goes to stderr.
    const text = o.out === undefined ? io.stderr : io.stdout;
    text.write(
      `predicted ${rows.length} rows with ${saved.path} (${saved.parts.length === 1 ? "one model" : `${saved.parts.length} members`}, backend ${backend})${o.out !== undefined ? ` into ${o.out}` : ""}\n` +
        (value !== undefined ? `${saved.task === "classification" ? "accuracy" : "R2"} against column "${saved.target}": ${value.toFixed(4)}\n` : ""),
    );
  } finally {
    saved.dispose();
  }
}

/** Runs `hpo predict`; resolves to the exit status (0 ok, 1 data or model error, 2 usage). */
export async function predictMain(argv: readonly string[], io: CliIo): Promise<number> {
  let options: PredictOptions;
  try {
    const { values } = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: false, strict: true });
    if (values.help === true) {
      io.stdout.write(PREDICT_USAGE);
      return 0;
    }
    if (values.model === undefined) throw new PredictUsageError("--model is required");
    if (values.data === undefined) throw new PredictUsageError("--data is required");
    const backend = values.backend;
    if (backend !== undefined && !BACKEND_NAMES.some((b) => b === backend)) throw new PredictUsageError(`--backend must be one of ${BACKEND_NAMES.join(", ")}`);
    options = {
      model: values.model,
      data: values.data,
      json: values.json === true,
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(backend !== undefined ? { backend: backend as BackendName } : {}),
    };
  } catch (error) {
    io.stderr.write(`hpo predict: ${error instanceof Error ? error.message : String(error)}\n\n${PREDICT_USAGE}`);
    return 2;
  }
  try {
    await runPredict(options, io);
    return 0;
  } catch (error) {
    // TuneDataError / SavedModelError carry the whole story; anything else is unexpected but still one line.
    io.stderr.write(`hpo predict: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
