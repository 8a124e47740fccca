/**
 * The independent TPE's Parzen estimator against Optuna 3.1's (tpe-optuna-reference.json, written by
 * tpe_optuna_reference.py): same kernels, bandwidths, magic clip, prior and weights. Continuous densities agree up
 * to one constant per estimator (Optuna's truncated-normal log density leaves out log sigma; ours renormalises
 * the bandwidth-weighted mixture instead), which cancels out of the candidates' l(x) / g(x) order; stepped,
 * integer and categorical masses agree exactly.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_TPE_SETTINGS, ParzenEstimator, type CandidateCol } from "../../../server/core/samplers/tpe.js";
import { spaceModel, toUnit, unitCell, type ModelDim } from "../../../server/core/samplers/tpe/space-model.js";
import { compileSpace, type ParameterDef } from "../../../server/core/space.js";

interface Case {
  name: string;
  domain: ParameterDef["domain"];
  obs: number[];
  points: number[];
  logpdf: number[];
}

const here = dirname(fileURLToPath(import.meta.url));
const cases = (JSON.parse(readFileSync(join(here, "tpe-optuna-reference.json"), "utf8")) as { cases: Case[] }).cases;

function column(md: ModelDim, xs: readonly number[]): CandidateCol {
  if (md.kind === "categorical") return { kind: "categorical", index: Int32Array.from(xs) };
  if (md.halfStep > 0) return { kind: "discrete", lo: Float64Array.from(xs, (x) => unitCell(md, x)[0]), hi: Float64Array.from(xs, (x) => unitCell(md, x)[1]) };
  return { kind: "continuous", u: Float64Array.from(xs, (x) => toUnit(md, x)) };
}

describe("independent TPE's Parzen estimator vs Optuna 3.1", () => {
  const s = DEFAULT_TPE_SETTINGS;
  const params = { multivariate: false, priorWeight: s.priorWeight, considerMagicClip: s.considerMagicClip, considerEndpoints: s.considerEndpoints, weights: s.weights, bandwidthWeighted: true };

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const space = compileSpace({ parameters: [{ name: "x", domain: c.domain } as ParameterDef] });
    const md = spaceModel(space).independent.get(0)?.dims[0] as ModelDim;
    const obs = md.kind === "categorical" ? Float64Array.from(c.obs) : Float64Array.from(c.obs, (x) => toUnit(md, x));
    const est = new ParzenEstimator([md], { n: c.obs.length, cols: [obs] }, params);
    const mine = est.logPdf([column(md, c.points)], c.points.length);
    const diff = Array.from(mine, (m, i) => m - c.logpdf[i]);
    const continuous = md.kind === "numeric" && md.halfStep === 0;
    const offset = continuous ? diff.reduce((a, b) => a + b, 0) / diff.length : 0;
    for (const d of diff) expect(Math.abs(d - offset)).toBeLessThan(1e-6);
  });
});
