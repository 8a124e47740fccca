/**
 * Maximising the acquisition over the encoded space:
 *
 * 1. Screening: `candidates` points, three quarters from a scrambled Sobol
 *    sequence over the unit box (keyed per trial) and one quarter Gaussian
 *    perturbations of the best observed points (scales 0.01 to 0.2, a
 *    categorical re-drawn with probability 0.2), each snapped to a legal
 *    point (SpaceEncoding.canonical) before it is scored, so every score is
 *    the score of a suggestion that could be made.
 * 2. Local refinement from the best `localStarts` distinct candidates:
 *    box-constrained L-BFGS on the active numeric features (integer and
 *    stepped ones relaxed to the continuum), then a sweep over the choices of
 *    each active categorical (all of them up to 16, else 16 drawn), then
 *    L-BFGS again if a choice changed; the result is snapped and re-scored.
 *
 * Returns every scored legal point, best first, without duplicates, so the
 * caller can skip points that already exist as trials.
 */
import { mixKeys, type Rng } from "../../rng.js";
import { CompiledSpace, type FlatParams } from "../../space.js";
import { fixedToUnit, owenScramble, SOBOL_MAX_DIMS, sobolInt } from "../sobol.js";
import { acquisitionValue, acquisitionValueAndGradient, type Acquisition } from "./acquisition.js";
import type { SpaceEncoding } from "./encoding.js";
import { minimizeLbfgs } from "./lbfgs.js";

export interface AcquisitionOptimizerOptions {
  /** Points screened. Default 2048. */
  candidates: number;
  /** Best screened points refined locally. Default 10. */
  localStarts: number;
  /** L-BFGS iterations per refinement pass. Default 25. */
  localIterations: number;
}

export const DEFAULT_ACQ_OPTIMIZER: AcquisitionOptimizerOptions = { candidates: 2048, localStarts: 10, localIterations: 25 };

export interface ScoredPoint {
  flat: FlatParams;
  x: Float64Array;
  value: number;
  key: string;
}

const MAX_CATEGORY_SWEEP = 16;
const NEAR_SCALES = [0.01, 0.05, 0.2];

/** Reflect into [0, 1]. */
function reflect01(u: number): number {
  let v = u;
  for (let i = 0; i < 4 && (v < 0 || v > 1); i++) v = v < 0 ? -v : 2 - v;
  return Math.min(1, Math.max(0, v));
}

export function optimizeAcquisition(
  enc: SpaceEncoding,
  acq: Acquisition,
  rng: Rng,
  sobolSeed: number,
  anchors: readonly Float64Array[],
  options: AcquisitionOptimizerOptions = DEFAULT_ACQ_OPTIMIZER,
): ScoredPoint[] {
  const d = enc.dims;
  const seen = new Map<string, ScoredPoint>();
  const score = (raw: ArrayLike<number>): ScoredPoint => {
    const { flat, x } = enc.canonical(raw);
    const key = CompiledSpace.key(flat);
    const known = seen.get(key);
    if (known) return known;
    const v = acquisitionValue(acq, x);
    const sp: ScoredPoint = { flat, x, value: Number.isNaN(v) ? -Infinity : v, key };
    seen.set(key, sp);
    return sp;
  };

  // 1. Screening.
  const total = Math.max(1, options.candidates);
  const nNear = anchors.length > 0 ? Math.floor(total / 4) : 0;
  const nSobol = total - nNear;
  const scrambles = Array.from({ length: d }, (_, j) => mixKeys(sobolSeed, j));
  const raw = new Float64Array(d);
  for (let i = 0; i < nSobol; i++) {
    for (let j = 0; j < d; j++) {
      const u = j < SOBOL_MAX_DIMS ? fixedToUnit(owenScramble(sobolInt(i, j), scrambles[j])) : rng.next();
      const f = enc.features[j];
      raw[j] = f.categorical ? Math.min((f.levels ?? 1) - 1, Math.floor(u * (f.levels ?? 1))) : u;
    }
    score(raw);
  }
  for (let i = 0; i < nNear; i++) {
    const anchor = anchors[i % anchors.length];
    const scale = NEAR_SCALES[i % NEAR_SCALES.length];
    for (let j = 0; j < d; j++) {
      const f = enc.features[j];
      if (f.categorical) {
        const levels = f.levels ?? 1;
        const redraw = anchor[j] < 0 || rng.next() < 0.2;
        raw[j] = redraw ? rng.int(levels) : anchor[j];
      } else raw[j] = reflect01(anchor[j] + scale * rng.normal());
    }
    score(raw);
  }

  // 2. Local refinement.
  const starts = [...seen.values()].sort(byValue).slice(0, Math.max(0, options.localStarts));
  const grad = new Float64Array(d);
  const gm = new Float64Array(d);
  const gv = new Float64Array(d);

  const refineNumeric = (start: ScoredPoint): ScoredPoint => {
    const active = enc.activeFeatures(start.flat);
    const free: number[] = [];
    for (let j = 0; j < d; j++) if (active[j] === 1 && !enc.features[j].categorical) free.push(j);
    if (free.length === 0 || options.localIterations <= 0) return start;
    const point = start.x.slice();
    const objective = (v: Float64Array, g: Float64Array): number => {
      for (let k = 0; k < free.length; k++) point[free[k]] = v[k];
      const val = acquisitionValueAndGradient(acq, point, grad, gm, gv);
      for (let k = 0; k < free.length; k++) g[k] = -grad[free[k]];
      return Number.isFinite(val) ? -val : NaN;
    };
    const x0 = Float64Array.from(free, (j) => start.x[j]);
    const res = minimizeLbfgs(objective, x0, {
      lower: new Float64Array(free.length),
      upper: new Float64Array(free.length).fill(1),
      maxIterations: options.localIterations,
      gradientTolerance: 1e-7,
      valueTolerance: 1e-9,
    });
    for (let k = 0; k < free.length; k++) point[free[k]] = res.x[k];
    const out = score(point);
    return out.value > start.value ? out : start;
  };

  const sweepCategories = (start: ScoredPoint): ScoredPoint => {
    let best = start;
    for (let j = 0; j < d; j++) {
      const f = enc.features[j];
      if (!f.categorical || best.x[j] < 0) continue;
      const levels = f.levels ?? 1;
      const choices =
        levels <= MAX_CATEGORY_SWEEP ? Array.from({ length: levels }, (_, c) => c) : Array.from({ length: MAX_CATEGORY_SWEEP }, () => rng.int(levels));
      const base = best.x.slice();
      for (const c of choices) {
        if (c === base[j]) continue;
        base[j] = c;
        const sp = score(base);
        if (sp.value > best.value) best = sp;
      }
    }
    return best;
  };

  for (const start of starts) {
    let p = refineNumeric(start);
    const q = sweepCategories(p);
    if (q !== p) p = refineNumeric(q);
  }

  return [...seen.values()].sort(byValue);
}

function byValue(a: ScoredPoint, b: ScoredPoint): number {
  if (b.value !== a.value) return b.value - a.value;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
