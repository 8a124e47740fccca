/**
 * Tabular data for `hpo tune`: CSV loading, task detection, checks with clear
 * errors, and a seeded train/validation/test split (stratified for
 * classification). The test split is handed to nothing that tunes.
 *
 * Accepted layouts (comma- or whitespace-separated, optionally .gz):
 * - a header row of column names;
 * - the scikit-learn convention of the shared datasets: a first line
 *   `n_samples,n_features,...` (skipped), features named x0..x{n-1}, the
 *   last column named `target`;
 * - no header at all (every field numeric): the same names.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

export type Task = "classification" | "regression";

export class TuneDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TuneDataError";
  }
}

export interface Table {
  columns: string[];
  /** Raw fields, one array per row. */
  rows: string[][];
}

export interface Dataset {
  featureNames: string[];
  /** Row-major features. */
  x: number[][];
  /** Regression: the value; classification: the class index into `classes`. */
  y: number[];
  task: Task;
  /** Classification: the original label of each class index. */
  classes: string[];
  target: string;
  /** [h, w] when the features look like a small grey image (8x8 digits). */
  imageShape?: [number, number];
}

export interface Split {
  train: number[];
  validation: number[];
  test: number[];
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MISSING = /^(nan|na|null|\?)?$/i;

/** A plain decimal number (no hex, Infinity or spaces inside). */
export function isNumeric(s: string): boolean {
  return NUMBER.test(s.trim());
}

/** A feature's field as a number; throws TuneDataError naming the column and (1-based) row when it is missing, not numeric or not finite. */
export function featureValue(field: string, column: string, line: number): number {
  if (MISSING.test(field.trim())) throw new TuneDataError(`column "${column}" has a missing/NaN value at row ${line}; impute or drop such rows first`);
  if (!isNumeric(field)) {
    throw new TuneDataError(`feature column "${column}" is not numeric (value ${JSON.stringify(field)} at row ${line}); encode it as numbers (one-hot or ordinal) first`);
  }
  const v = Number(field);
  if (!Number.isFinite(v)) throw new TuneDataError(`column "${column}" has a non-finite value at row ${line}`);
  return v;
}

function splitLine(line: string): string[] {
  const t = line.trim();
  if (t.includes(",")) return t.split(",").map((f) => f.trim().replace(/^"(.*)"$/, "$1"));
  return t.split(/\s+/);
}

/** Parses CSV text in one of the accepted layouts. */
export function parseTable(text: string): Table {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) throw new TuneDataError("the data file is empty");
  const first = splitLine(lines[0]);
  const second = lines.length > 1 ? splitLine(lines[1]) : first;
  const width = second.length;
  const defaultNames = (n: number): string[] => [...Array.from({ length: n - 1 }, (_, i) => `x${i}`), "target"];
  // scikit-learn convention: "n_samples,n_features,class names..." with n_features + 1 == row width.
  if (
    first.length >= 2 &&
    /^\d+$/.test(first[0]) &&
    /^\d+$/.test(first[1]) &&
    Number(first[1]) + 1 === width &&
    Number(first[0]) === lines.length - 1 &&
    (first.length !== width || !first.every(isNumeric))
  ) {
    return { columns: defaultNames(width), rows: lines.slice(1).map(splitLine) };
  }
  if (first.every(isNumeric)) return { columns: defaultNames(first.length), rows: lines.map(splitLine) };
  return { columns: first, rows: lines.slice(1).map(splitLine) };
}

/** Reads a .csv (or .csv.gz, .txt) file. */
export function readTable(file: string): Table {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (error) {
    throw new TuneDataError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = file.endsWith(".gz") ? gunzipSync(buf).toString("utf8") : buf.toString("utf8");
  return parseTable(text);
}

export interface DatasetOptions {
  target: string;
  task?: Task;
  /** Rows needed per split (and per class for classification); default 3 (train, validation, test). */
  folds?: number;
}

/** Integer-valued targets with at most this many distinct values are classes. */
const MAX_AUTO_CLASSES = 20;

/** Checks a table and turns it into numbers; throws TuneDataError with the reason. */
export function toDataset(table: Table, options: DatasetOptions): Dataset {
  const folds = options.folds ?? 3;
  const targetIndex = table.columns.indexOf(options.target);
  if (targetIndex < 0) {
    throw new TuneDataError(`target column "${options.target}" not found; columns: ${table.columns.join(", ")}`);
  }
  const featureNames = table.columns.filter((_, i) => i !== targetIndex);
  if (featureNames.length === 0) throw new TuneDataError("no feature columns besides the target");
  const x: number[][] = [];
  const rawY: string[] = [];
  table.rows.forEach((row, r) => {
    const line = r + 1;
    if (row.length !== table.columns.length) {
      throw new TuneDataError(`row ${line} has ${row.length} fields, expected ${table.columns.length}`);
    }
    const features: number[] = [];
    row.forEach((field, c) => {
      const name = table.columns[c];
      if (c !== targetIndex) {
        features.push(featureValue(field, name, line));
        return;
      }
      if (MISSING.test(field)) throw new TuneDataError(`column "${name}" has a missing/NaN value at row ${line}; impute or drop such rows first`);
      rawY.push(field);
    });
    x.push(features);
  });
  if (x.length < folds) throw new TuneDataError(`${x.length} rows, fewer than the ${folds} splits (train, validation, test)`);
  const numericTarget = rawY.every(isNumeric);
  let task = options.task;
  if (task === undefined) {
    const distinct = new Set(rawY);
    task = !numericTarget || (rawY.every((v) => Number.isInteger(Number(v))) && distinct.size <= MAX_AUTO_CLASSES) ? "classification" : "regression";
  }
  let y: number[];
  let classes: string[] = [];
  if (task === "regression") {
    if (!numericTarget) throw new TuneDataError(`target "${options.target}" is not numeric; use --task classification`);
    y = rawY.map(Number);
  } else {
    classes = [...new Set(rawY)].sort((a, b) => (numericTarget ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0));
    if (classes.length < 2) throw new TuneDataError(`target "${options.target}" has a single class (${classes[0]}); nothing to classify`);
    const index = new Map(classes.map((c, i) => [c, i]));
    y = rawY.map((v) => index.get(v) ?? -1);
    const counts = classes.map((_, k) => y.filter((v) => v === k).length);
    counts.forEach((n, k) => {
      if (n < folds) throw new TuneDataError(`class ${classes[k]} has ${n} rows, fewer than the ${folds} splits (train, validation, test)`);
    });
  }
  const dataset: Dataset = { featureNames, x, y, task, classes, target: options.target };
  const side = Math.round(Math.sqrt(featureNames.length));
  if (side * side === featureNames.length && side >= 4 && side <= 32 && x.every((row) => row.every((v) => v >= 0 && v <= 255))) {
    dataset.imageShape = [side, side];
  }
  return dataset;
}

/** readTable + toDataset. */
export function loadDataset(file: string, options: DatasetOptions): Dataset {
  return toDataset(readTable(file), options);
}

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface SplitOptions {
  seed: number;
  /** Fraction of rows held out for the final test; default 0.2. */
  testFraction?: number;
  /** Fraction of rows for validation (early stopping, the tuned score); default 0.2. */
  validationFraction?: number;
}

/**
 * Row indices of train/validation/test, fixed by `seed`. Classification
 * splits each class on its own (stratified), with at least one row of each
 * class in every split.
 */
export function splitDataset(dataset: Dataset, options: SplitOptions): Split {
  const testFraction = options.testFraction ?? 0.2;
  const validationFraction = options.validationFraction ?? 0.2;
  const random = seededRandom(options.seed);
  const groups = strata(dataset, dataset.y.map((_, i) => i));
  const split: Split = { train: [], validation: [], test: [] };
  for (const group of groups) {
    const rows = shuffle(group, random);
    const n = rows.length;
    const nTest = Math.min(n - 2, Math.max(1, Math.round(n * testFraction)));
    const nVal = Math.min(n - nTest - 1, Math.max(1, Math.round(n * validationFraction)));
    split.test.push(...rows.slice(0, nTest));
    split.validation.push(...rows.slice(nTest, nTest + nVal));
    split.train.push(...rows.slice(nTest + nVal));
  }
  split.train = shuffle(split.train, random);
  split.validation.sort((a, b) => a - b);
  split.test.sort((a, b) => a - b);
  return split;
}

/** The rows of `indices` (in their order) per class for classification, as one group for regression: what splits and folds stratify on. */
export function strata(dataset: Dataset, indices: readonly number[]): number[][] {
  return dataset.task === "classification" ? dataset.classes.map((_, c) => indices.filter((i) => dataset.y[i] === c)) : [[...indices]];
}

/**
 * `k` validation folds of `indices` (the non-test rows), fixed by `seed`:
 * classification deals each class's shuffled rows round-robin over the
 * folds (stratified), regression deals the shuffled rows. Every row is in
 * exactly one fold; the folds' sizes differ by at most one per class.
 */
export function kFolds(dataset: Dataset, indices: readonly number[], k: number, seed: number): number[][] {
  const random = seededRandom((seed ^ 0x5bd1e995) >>> 0);
  const folds: number[][] = Array.from({ length: k }, () => []);
  const groups = strata(dataset, indices);
  let next = 0;
  for (const group of groups) {
    for (const i of shuffle(group, random)) {
      folds[next].push(i);
      next = (next + 1) % k;
    }
  }
  return folds.map((f) => f.sort((a, b) => a - b));
}

/** The rows of `indices`. */
export function take(dataset: Dataset, indices: readonly number[]): { x: number[][]; y: number[] } {
  return { x: indices.map((i) => dataset.x[i]), y: indices.map((i) => dataset.y[i]) };
}
