#!/usr/bin/env node
/**
 * What hpo tune's final-ensemble choice costs as the validation set grows:
 * selectEnsemble once, and choosePriorWeight (the portfolio's share: 100
 * bootstrap resamples of the whole selection), on synthetic validation
 * predictions of 40 trials (each right with a random margin on every row),
 * for validation sets of `--rows` rows and `--classes` classes.
 *
 *   npm run build && node dist/bench/final-ensemble-speed.js [--rows 359,4000] [--classes 2,10]
 */
import { parseArgs } from "node:util";

import { seededRandom } from "../gpu-runner/tfjs/data.js";
import { selectEnsemble } from "../gpu-runner/tfjs/ensemble.js";
import { choosePriorWeight } from "../gpu-runner/tfjs/prior-blend.js";

const { values } = parseArgs({ options: { rows: { type: "string", default: "359,4000" }, classes: { type: "string", default: "2,10" } } });

console.log("| validation rows | classes | selectEnsemble s | choosePriorWeight s | share chosen |");
console.log("| --- | --- | --- | --- | --- |");
for (const rows of values.rows.split(",").map(Number)) {
  for (const classes of values.classes.split(",").map(Number)) {
    const r = seededRandom(1);
    const y = Array.from({ length: rows }, () => Math.floor(r() * classes));
    const candidates = Array.from({ length: 40 }, (_, id) => ({
      id,
      predictions: y.map((c) => {
        const p = Array.from({ length: classes }, () => r());
        p[c] += 1 + r();
        const s = p.reduce((a, b) => a + b, 0);
        return p.map((v) => v / s);
      }),
    }));
    let t = process.hrtime.bigint();
    selectEnsemble("classification", y, candidates.slice(0, 20), { maxMembers: 5 });
    const select = Number(process.hrtime.bigint() - t) / 1e9;
    t = process.hrtime.bigint();
    const choice = choosePriorWeight("classification", y, candidates, [0, 1, 2], { maxMembers: 5, pool: 20, seed: 0 });
    const prior = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`| ${rows} | ${classes} | ${select.toFixed(3)} | ${prior.toFixed(2)} | ${choice.weight} |`);
  }
}
