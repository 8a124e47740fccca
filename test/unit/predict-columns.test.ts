/** hpo predict reads the model's feature columns by name under the rules hpo tune's data loader applies. */
import { describe, expect, it } from "vitest";

import { featureMatrix } from "../../client/cli/commands/predict.js";

describe("hpo predict's feature columns", () => {
  const table = (rows: string[][]) => ({ columns: ["a", "b", "y"], rows });
  it("reads the model's columns by name, as numbers", () => {
    expect(featureMatrix(table([["1", " 2.5 ", "x"], ["-3", "4e1", "z"]]), ["b", "a"])).toEqual([
      [2.5, 1],
      [40, -3],
    ]);
  });

  it("names the column and row of a missing, non-numeric or non-finite value (the rules hpo tune applies)", () => {
    expect(() => featureMatrix(table([["1", "2", "x"], ["NaN", "2", "x"]]), ["a", "b"])).toThrow(/column "a" has a missing\/NaN value at row 2/);
    expect(() => featureMatrix(table([["1", "red", "x"]]), ["a", "b"])).toThrow(/feature column "b" is not numeric \(value "red" at row 1\)/);
    expect(() => featureMatrix(table([["1e999", "2", "x"]]), ["a", "b"])).toThrow(/column "a" has a non-finite value at row 1/);
  });
});
