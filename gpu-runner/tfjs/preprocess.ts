/**
 * Preprocessing fitted on the training split only: standardisation, then
 * feature selection (PCA to k components, or a recursive-feature-elimination
 * style selection ranking features by ridge-regression weights).
 */
import { EigenvalueDecomposition, inverse, Matrix } from "ml-matrix";

export type Selection = "none" | "pca" | "rfe";

export interface PreprocessOptions {
  standardize: boolean;
  selection: Selection;
  /** Features (or components) kept: round(keepFraction * features), at least 1. */
  keepFraction: number;
  /** Classes for classification (one-hot targets for RFE); 0 for regression. */
  classes: number;
}

/** A fitted preprocessor; plain data, saved as preprocess.json with the model. */
export interface Preprocessor {
  mean: number[];
  scale: number[];
  selection: Selection;
  /** rfe: the kept feature indices. */
  kept?: number[];
  /** pca: the centre (after scaling) and the components (k rows of d). */
  pcaMean?: number[];
  components?: number[][];
}

function columnStats(x: number[][]): { mean: number[]; std: number[] } {
  const d = x[0].length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const row of x) for (let j = 0; j < d; j++) mean[j] += row[j] / x.length;
  for (const row of x) for (let j = 0; j < d; j++) std[j] += (row[j] - mean[j]) ** 2 / x.length;
  return { mean, std: std.map((v) => Math.sqrt(v)) };
}

function scaleRows(x: number[][], mean: number[], scale: number[]): number[][] {
  return x.map((row) => row.map((v, j) => (v - mean[j]) / scale[j]));
}

/** Ridge weights' magnitude per feature (summed over outputs). */
function ridgeImportance(x: number[][], targets: number[][], lambda = 1): number[] {
  const X = new Matrix(x);
  const Y = new Matrix(targets);
  const xtx = X.transpose().mmul(X);
  for (let j = 0; j < xtx.rows; j++) xtx.set(j, j, xtx.get(j, j) + lambda);
  const w = inverse(xtx).mmul(X.transpose()).mmul(Y);
  const out: number[] = [];
  for (let j = 0; j < w.rows; j++) {
    let s = 0;
    for (let k = 0; k < w.columns; k++) s += Math.abs(w.get(j, k));
    out.push(s);
  }
  return out;
}

export function keepCount(features: number, keepFraction: number): number {
  return Math.max(1, Math.min(features, Math.round(features * keepFraction)));
}

export function fitPreprocessor(x: number[][], y: number[], o: PreprocessOptions): Preprocessor {
  const d = x[0].length;
  const { mean, std } = columnStats(x);
  // Selection needs comparable scales, so it always works on standardised data;
  // without `standardize` the network still sees the raw scale of kept features.
  const scale = std.map((s) => (s > 1e-12 ? s : 1));
  const standardized = scaleRows(x, mean, scale);
  const p: Preprocessor = o.standardize
    ? { mean, scale, selection: o.selection }
    : { mean: new Array<number>(d).fill(0), scale: new Array<number>(d).fill(1), selection: o.selection };
  const k = keepCount(d, o.keepFraction);
  if (o.selection === "pca") {
    const base = o.standardize ? standardized : x;
    const c = columnStats(base).mean;
    const centered = new Matrix(base.map((row) => row.map((v, j) => v - c[j])));
    const cov = centered.transpose().mmul(centered).div(Math.max(1, base.length - 1));
    const eig = new EigenvalueDecomposition(cov, { assumeSymmetric: true });
    const values = eig.realEigenvalues;
    const vectors = eig.eigenvectorMatrix;
    const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, k);
    p.pcaMean = c;
    p.components = order.map(([, i]) => vectors.getColumn(i));
  } else if (o.selection === "rfe") {
    const targets = o.classes > 0 ? y.map((v) => Array.from({ length: o.classes }, (_, c) => (c === v ? 1 : 0))) : (() => {
      const m = y.reduce((s, v) => s + v, 0) / y.length;
      return y.map((v) => [v - m]);
    })();
    let kept = Array.from({ length: d }, (_, j) => j);
    while (kept.length > k) {
      const importance = ridgeImportance(standardized.map((row) => kept.map((j) => row[j])), targets);
      const drop = Math.max(1, Math.min(kept.length - k, Math.ceil(kept.length * 0.2)));
      const order = importance.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
      const dropped = new Set(order.slice(0, drop).map(([, i]) => kept[i]));
      kept = kept.filter((j) => !dropped.has(j));
    }
    p.kept = kept;
  }
  return p;
}

/** Applies a fitted preprocessor to rows. */
export function transform(p: Preprocessor, x: number[][]): number[][] {
  const scaled = scaleRows(x, p.mean, p.scale);
  if (p.selection === "pca" && p.components !== undefined && p.pcaMean !== undefined) {
    const c = p.pcaMean;
    const comps = p.components;
    return scaled.map((row) => comps.map((w) => row.reduce((s, v, j) => s + (v - c[j]) * w[j], 0)));
  }
  if (p.selection === "rfe" && p.kept !== undefined) {
    const kept = p.kept;
    return scaled.map((row) => kept.map((j) => row[j]));
  }
  return scaled;
}

export function outputWidth(p: Preprocessor): number {
  if (p.selection === "pca" && p.components !== undefined) return p.components.length;
  if (p.selection === "rfe" && p.kept !== undefined) return p.kept.length;
  return p.mean.length;
}
