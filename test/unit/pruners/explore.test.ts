import { it } from "vitest";
import { overfitting, plateauDrop, powerLaw, sigmoidAccuracy, simulate, type Generator } from "./sim.js";
const cases: Array<[string, Generator, "minimize" | "maximize", number, number]> = [
  ["plateauDrop", plateauDrop(30), "minimize", 0.01, 60],
  ["sigmoid", sigmoidAccuracy, "maximize", 0.01, 60],
  ["powerLaw", powerLaw, "minimize", 0.02, 60],
  ["overfitting", overfitting, "minimize", 0.01, 60],
];
it("explore", () => {
  for (const [name, gen, direction, noise, steps] of cases) {
    let saved = 0, full = 0, winnersPruned = 0; const lines: string[] = [];
    const seeds = Number(process.env.SEEDS ?? 6);
    for (let seed = 1; seed <= seeds; seed++) {
      const r = simulate(gen, { trials: 40, steps, noise, seed, direction, tuning: JSON.parse(process.env.TUNE ?? "{}") });
      saved += r.steps; full += r.full;
      if (r.winner.pruned) { winnersPruned++; lines.push(`  seed ${seed} winner ${r.winner.id} truth ${r.winner.truth.toFixed(3)} pruned@${r.winner.steps}: ${r.winner.reason}`); }
    }
    console.log(`${name}: steps ${(100*saved/full).toFixed(1)}% winners pruned ${winnersPruned}/${seeds}\n${lines.join("\n")}`);
  }
}, 900000);
