/**
 * hpo tune's data layer: CSV layouts, task detection, the errors (missing
 * target, non-numeric features, NaNs, a single class, fewer rows than the
 * splits) and the seeded, stratified train/validation/test split.
 */
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { kFolds, loadDataset, parseTable, splitDataset, toDataset, TuneDataError, type Dataset } from "../../gpu-runner/tfjs/data.js";

const DATA = join(import.meta.dirname, "..", "..", "examples", "tune", "data");

function dataset(text: string, target = "y", task?: "classification" | "regression"): Dataset {
  return toDataset(parseTable(text), { target, ...(task !== undefined ? { task } : {}) });
}

function rows(n: number, label: (i: number) => string): string {
  return ["a,b,y", ...Array.from({ length: n }, (_, i) => `${i},${i % 3},${label(i)}`)].join("\n");
}

describe("parseTable", () => {
  it("reads a header row", () => {
    const t = parseTable("a,b,y\n1,2,0\n3,4,1\n");
    expect(t.columns).toEqual(["a", "b", "y"]);
    expect(t.rows).toEqual([["1", "2", "0"], ["3", "4", "1"]]);
  });

  it("skips the scikit-learn first line and names columns x0.. and target", () => {
    const t = parseTable("2,2,no,yes\n1,2,0\n3,4,1\n");
    expect(t.columns).toEqual(["x0", "x1", "target"]);
    expect(t.rows).toHaveLength(2);
  });

  it("reads headerless, whitespace-separated numbers", () => {
    const t = parseTable("1 2 0\n3 4 1\n");
    expect(t.columns).toEqual(["x0", "x1", "target"]);
    expect(t.rows[1]).toEqual(["3", "4", "1"]);
  });
});

describe("the shipped datasets", () => {
  it("breast cancer: 569 x 30, two classes", () => {
    const d = loadDataset(join(DATA, "breast_cancer.csv"), { target: "target" });
    expect([d.x.length, d.featureNames.length, d.task, d.classes]).toEqual([569, 30, "classification", ["0", "1"]]);
    expect(d.imageShape).toBeUndefined();
  });

  it("digits (.gz, no header): 1797 x 64, ten classes, 8x8 images", () => {
    const d = loadDataset(join(DATA, "digits.csv.gz"), { target: "target" });
    expect([d.x.length, d.featureNames.length, d.classes.length]).toEqual([1797, 64, 10]);
    expect(d.imageShape).toEqual([8, 8]);
  });

  it("diabetes: regression detected from a many-valued target", () => {
    const d = loadDataset(join(DATA, "diabetes.csv"), { target: "progression" });
    expect([d.x.length, d.featureNames.length, d.task]).toEqual([442, 10, "regression"]);
  });

  it("wine: three classes", () => {
    expect(loadDataset(join(DATA, "wine_data.csv"), { target: "target" }).classes).toEqual(["0", "1", "2"]);
  });
});

describe("errors", () => {
  const err = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(TuneDataError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };

  it("missing target column names the columns", () => {
    expect(err(() => dataset(rows(9, (i) => String(i % 2)), "label"))).toBe('target column "label" not found; columns: a, b, y');
  });

  it("non-numeric feature without encoding", () => {
    expect(err(() => dataset("a,b,y\n1,red,0\n2,blue,1\n3,red,0\n4,red,1\n5,red,0\n6,red,1\n"))).toMatch(/feature column "b" is not numeric \(value "red" at row 1\); encode it/);
  });

  it("NaN and empty values", () => {
    expect(err(() => dataset("a,b,y\n1,NaN,0\n2,3,1\n"))).toMatch(/column "b" has a missing\/NaN value at row 1/);
    expect(err(() => dataset("a,b,y\n1,2,0\n2,,1\n"))).toMatch(/column "b" has a missing\/NaN value at row 2/);
  });

  it("a single class", () => {
    expect(err(() => dataset(rows(9, () => "1"), "y", "classification"))).toMatch(/single class \(1\)/);
  });

  it("fewer rows than the splits, overall and per class", () => {
    expect(err(() => dataset("a,y\n1,0.5\n2,1.5\n", "y", "regression"))).toMatch(/2 rows, fewer than the 3 splits/);
    expect(err(() => dataset(rows(9, (i) => (i < 2 ? "1" : "0"))))).toMatch(/class 1 has 2 rows, fewer than the 3 splits/);
  });

  it("a text target for regression", () => {
    expect(err(() => dataset(rows(9, (i) => (i % 2 === 0 ? "cat" : "dog")), "y", "regression"))).toMatch(/not numeric; use --task classification/);
  });

  it("text labels are fine for classification", () => {
    const d = dataset(rows(12, (i) => (i % 2 === 0 ? "cat" : "dog")));
    expect(d.classes).toEqual(["cat", "dog"]);
  });
});

describe("splitDataset", () => {
  const d = loadDataset(join(DATA, "breast_cancer.csv"), { target: "target" });

  it("partitions every row once, deterministically per seed", () => {
    const s = splitDataset(d, { seed: 7 });
    const all = [...s.train, ...s.validation, ...s.test].sort((a, b) => a - b);
    expect(all).toEqual(d.x.map((_, i) => i));
    expect(splitDataset(d, { seed: 7 })).toEqual(s);
    expect(splitDataset(d, { seed: 8 }).test).not.toEqual(s.test);
    expect(s.test.length).toBeGreaterThan(100);
    expect(s.validation.length).toBeGreaterThan(100);
  });

  it("is stratified: class shares of each split are close to the whole", () => {
    const s = splitDataset(d, { seed: 1 });
    const share = (idx: number[]): number => idx.filter((i) => d.y[i] === 1).length / idx.length;
    const whole = share(d.x.map((_, i) => i));
    for (const part of [s.train, s.validation, s.test]) expect(Math.abs(share(part) - whole)).toBeLessThan(0.02);
  });

  it("keeps at least one row of each class in each split", () => {
    const small = dataset(rows(9, (i) => String(i % 3)));
    const s = splitDataset(small, { seed: 3 });
    for (const part of [s.train, s.validation, s.test]) expect(new Set(part.map((i) => small.y[i])).size).toBe(3);
  });
});

describe("kFolds", () => {
  const d = loadDataset(join(DATA, "breast_cancer.csv"), { target: "target" });
  const s = splitDataset(d, { seed: 2 });
  const nonTest = [...s.train, ...s.validation];

  it("partitions the non-test rows into k stratified folds, deterministically per seed", () => {
    const folds = kFolds(d, nonTest, 5, 2);
    expect(folds).toHaveLength(5);
    expect(folds.flat().sort((a, b) => a - b)).toEqual([...nonTest].sort((a, b) => a - b));
    expect(kFolds(d, nonTest, 5, 2)).toEqual(folds);
    const sizes = folds.map((f) => f.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(2);
    const share = (idx: number[]): number => idx.filter((i) => d.y[i] === 1).length / idx.length;
    const whole = share(nonTest);
    for (const f of folds) expect(Math.abs(share(f) - whole)).toBeLessThan(0.02);
    const test = new Set(s.test);
    expect(folds.flat().some((i) => test.has(i))).toBe(false);
  });
});
