/**
 * Dominance with per-objective directions, feasibility and Pareto fronts.
 */
import { describe, expect, it } from "vitest";

import type { Direction } from "../../server/core/model.js";
import { dominates, isFeasible, paretoFront } from "../../server/core/pareto.js";

describe("dominates", () => {
  it("minimize: smaller is better", () => {
    expect(dominates([1], [2], ["minimize"])).toBe(true);
    expect(dominates([2], [1], ["minimize"])).toBe(false);
  });

  it("maximize: larger is better", () => {
    expect(dominates([2], [1], ["maximize"])).toBe(true);
    expect(dominates([1], [2], ["maximize"])).toBe(false);
  });

  it("mixed directions", () => {
    const dirs: Direction[] = ["minimize", "maximize"];
    expect(dominates([1, 0.9], [2, 0.8], dirs)).toBe(true);
    expect(dominates([1, 0.9], [1, 0.8], dirs)).toBe(true); // tie on one, better on the other
    expect(dominates([1, 0.8], [1, 0.9], dirs)).toBe(false);
    expect(dominates([0.5, 0.5], [1, 0.9], dirs)).toBe(false); // trade-off
    expect(dominates([1, 0.9], [0.5, 0.5], dirs)).toBe(false);
    expect(dominates([2, 0.9], [1, 0.9], dirs)).toBe(false);
  });

  it("equal vectors do not dominate each other", () => {
    expect(dominates([1, 2, 3], [1, 2, 3], ["minimize", "maximize", "minimize"])).toBe(false);
    expect(dominates([0], [-0], ["minimize"])).toBe(false);
  });

  it("three objectives: worse in any one forbids dominance", () => {
    const dirs: Direction[] = ["maximize", "maximize", "minimize"];
    expect(dominates([3, 3, 1], [2, 3, 1], dirs)).toBe(true);
    expect(dominates([3, 3, 2], [2, 3, 1], dirs)).toBe(false);
    expect(dominates([3, 3, 0], [3, 3, 1], dirs)).toBe(true);
  });

  it("only the objectives named by dirs count", () => {
    expect(dominates([1, 100], [2, 0], ["minimize"])).toBe(true);
  });
});

describe("isFeasible", () => {
  it("every constraint <= 0", () => {
    expect(isFeasible([])).toBe(true);
    expect(isFeasible([0, -1, -0])).toBe(true);
    expect(isFeasible([0, 1e-12])).toBe(false);
    expect(isFeasible([NaN])).toBe(false);
  });
});

describe("paretoFront", () => {
  const dirs: Direction[] = ["minimize", "maximize"];
  // name -> [loss (min), acc (max)]
  const pts: Array<[string, number, number]> = [
    ["A", 3, 0.70], // dominated by C
    ["B", 1, 0.50], // front (lowest loss)
    ["C", 2, 0.80], // front
    ["D", 2.5, 0.80], // dominated by C
    ["E", 4, 0.95], // front (highest acc)
    ["F", 1.5, 0.60], // front
    ["G", 2, 0.80], // equal to C: kept
    ["H", 1.5, 0.55], // dominated by F
    ["I", 5, 0.95], // dominated by E
  ];
  const values = (p: [string, number, number]): number[] => [p[1], p[2]];

  it("hand-computed front in input order", () => {
    expect(paretoFront(pts, values, dirs).map((p) => p[0])).toEqual(["B", "C", "E", "F", "G"]);
  });

  it("does not depend on the input order (as a set)", () => {
    const rev = [...pts].reverse();
    expect(paretoFront(rev, values, dirs).map((p) => p[0])).toEqual(["G", "F", "E", "C", "B"]);
    const shuffled = [pts[8]!, pts[0]!, pts[4]!, pts[2]!, pts[6]!, pts[1]!, pts[3]!, pts[7]!, pts[5]!];
    expect(paretoFront(shuffled, values, dirs).map((p) => p[0])).toEqual(["E", "C", "G", "B", "F"]);
  });

  it("a later point removes the earlier points it dominates", () => {
    const items = [
      [3, 3],
      [2, 4],
      [1, 1],
    ];
    expect(paretoFront(items, (x) => x, ["minimize", "minimize"])).toEqual([[1, 1]]);
  });

  it("single objective: all tied minima", () => {
    expect(paretoFront([[3], [1], [2], [1]], (x) => x, ["minimize"])).toEqual([[1], [1]]);
    expect(paretoFront([[3], [1], [2], [3]], (x) => x, ["maximize"])).toEqual([[3], [3]]);
  });

  it("empty input", () => {
    expect(paretoFront([], (x: number[]) => x, dirs)).toEqual([]);
  });

  it("matches a brute-force front on random points", () => {
    let s = 12345;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 20; round++) {
      const items = Array.from({ length: 40 }, () => [Math.floor(rnd() * 10), Math.floor(rnd() * 10), Math.floor(rnd() * 10)]);
      const d: Direction[] = ["minimize", "maximize", "minimize"];
      const brute = items.filter((a) => !items.some((b) => dominates(b, a, d)));
      expect(paretoFront(items, (x) => x, d)).toEqual(brute);
    }
  });
});
