/**
 * Learning-curve extrapolation for the curve pruner.
 *
 * Every family is y(t) = c + a * g(t; theta): linear in (c, a) once the shape
 * theta is fixed, so each family is fitted EXACTLY on a grid of shapes: for
 * each theta, ordinary least squares gives (c, a), the residual sum of
 * squares RSS(theta) and the prediction at the horizon with its standard
 * error. Families (x = t + 1 where a power of time is taken):
 *
 *   exp      c + a exp(-t / tau)                       theta = tau
 *   pow      c + a (t + t0)^(-b)                       theta = (b, t0)
 *   logpow   c + a / (1 + (x / s)^d)                   theta = (s, d)   (MMF / log-power: sigmoid in log t)
 *   weibull  c + a exp(-(t / tau)^d)                   theta = (tau, d) (sigmoid in t for d > 1)
 *
 * Uncertainty, per family: the profile likelihood of the forecast v,
 *   RSS(v) = min over shapes theta of RSS(theta) + (v - yH(theta))^2 / L(theta)
 * (yH: the shape's forecast, L: its leverage at the horizon, 1/n + (gH -
 * gbar)^2 / Sgg, plus 1 for a new observation when `predictive`), gives the
 * one-sided bounds at level `conf`: the v where RSS(v) = RSSmin + s2 t^2,
 * s2 = max(RSSmin / (n - p), noise floor), t the Student quantile with
 * n - p degrees of freedom (p = 2 + shape parameters). Exact for the linear
 * coefficients, and it lets the shape move as far as the data allow.
 * Across families: a family is plausible unless its RSS exceeds the
 * smallest by more than `maxDelta` noise variances; the combined interval is
 * the union of the plausible families' (model disagreement widens it), the
 * point prediction
 * the weighted mean.
 */
import { fCdf, tQuantile } from "./stats.js";

export interface Shape {
  /** "tau=12.5", for reasons. */
  label(): string;
  /** The basis, in [0, 1]. */
  g(t: number): number;
  /** out[i] = g(ts[i]), faster (logarithms of the data computed once). */
  fill?(ts: readonly number[], out: Float64Array): void;
}

/** A one-parameter slice of a family's shapes: theta over a geometric grid, refined where it matters. */
export interface Line {
  /** Coarse grid of theta (ascending, positive). */
  thetas: number[];
  shape(theta: number): Shape;
}

export interface Family {
  name: string;
  /** Number of shape parameters (k). */
  k: number;
  /** Shape lines for data over [tFirst, tLast] forecast to `horizon`. */
  lines(tFirst: number, tLast: number, horizon: number): Line[];
}

export interface FamilyForecast {
  name: string;
  n: number;
  rss: number;
  aicc: number;
  /** AICc weight among the plausible families (0 for the others). */
  weight: number;
  plausible: boolean;
  /** Prediction at the horizon with the best shape. */
  prediction: number;
  lower: number;
  upper: number;
  /** Best shape and its linear coefficients. */
  shape: string;
  c: number;
  a: number;
  /** Fitted value at the last data point (best shape). */
  fittedLast: number;
  /** Fitted slope per step at the last data point (best shape). */
  slopeLast: number;
  /** With FitOptions.at: the probability (profile likelihood, Student t) that the value at the horizon is below `at`. */
  below?: number;
}

export interface CurveForecast {
  horizon: number;
  n: number;
  prediction: number;
  lower: number;
  upper: number;
  /** Family with the largest weight. */
  best: FamilyForecast;
  families: FamilyForecast[];
  /**
   * With FitOptions.at: the probability that the value at the horizon is
   * below `at`, averaged over the plausible families with weights by their
   * likelihood (RSS; equal prior weights, no penalty for shape parameters).
   */
  below?: number;
}

export interface FitOptions {
  /** One-sided level of the bounds, in (0, 1). */
  confidence: number;
  /** Interval of a new observation (true) or of the mean curve (false). */
  predictive: boolean;
  /** Families whose RSS exceeds the smallest by more than this many noise variances (or AICc by this much) are not plausible. */
  maxDelta: number;
  /** "rss" (default): likelihood ratio; "aicc": AICc difference. */
  plausibility?: "rss" | "aicc";
  families?: readonly Family[];
  /**
   * A floor on the noise variance of one point (e.g. pooled from other curves
   * of the study): few points can make a curve look smoother than it is.
   */
  noiseFloor?: number;
  /** Also give the probability that the value at the horizon is below this value (`below`). */
  at?: number;
}

const geomspace = (lo: number, hi: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => lo * Math.pow(hi / lo, n === 1 ? 0 : i / (n - 1)));

/** ln(t + offset) of the data points, computed once per data set and line. */
function logsOf(offset: number): (ts: readonly number[]) => Float64Array {
  let key: readonly number[] | undefined;
  let logs = new Float64Array(0);
  return (ts) => {
    if (key !== ts) {
      key = ts;
      logs = Float64Array.from(ts, (t) => Math.log(t + offset));
    }
    return logs;
  };
}

export const EXP: Family = {
  name: "exp",
  k: 1,
  lines: (_f, _l, h) => [
    {
      thetas: geomspace(h / 400, 20 * h, 40),
      shape: (tau) => {
        const r = 1 / tau;
        return {
          label: () => `tau=${round(tau)}`,
          g: (t) => Math.exp(-t * r),
          fill: (ts, out) => {
            for (let i = 0; i < ts.length; i++) out[i] = Math.exp(-(ts[i] as number) * r);
          },
        };
      },
    },
  ],
};

const POW_OFFSETS = [0, 0.5, 1, 2, 5];
export const POW: Family = {
  name: "pow",
  k: 2,
  // c + a (t + t0)^(-b): the offset t0 is the second shape parameter (0 only
  // when every step is positive).
  lines: (first) =>
    POW_OFFSETS.filter((t0) => first + t0 > 0).map((t0) => {
      const logs = logsOf(t0);
      return {
        thetas: geomspace(0.01, 4, 18),
        shape: (b: number) => ({
          label: () => `b=${round(b)},t0=${t0}`,
          g: (t: number) => Math.exp(-b * Math.log(t + t0)),
          fill: (ts: readonly number[], out: Float64Array) => {
            const l = logs(ts);
            for (let i = 0; i < l.length; i++) out[i] = Math.exp(-b * (l[i] as number));
          },
        }),
      };
    }),
};

const LOGPOW_D = [0.5, 0.75, 1, 1.5, 2, 3, 4, 6];
export const LOGPOW: Family = {
  name: "logpow",
  k: 2,
  // For d > 1 the shape is a sigmoid in log time with its bend at
  // x = s ((d-1)/(d+1))^(1/d); the bend must lie within the data: a drop
  // after the last report cannot be told from a plateau, so no family
  // predicts one. For d <= 1 the shape is convex and s may lie anywhere.
  lines: (first, last, h) => {
    const logs = logsOf(1);
    return LOGPOW_D.map((d) => ({
      thetas: geomspace(first + 1, d > 1 ? (last + 1) / Math.pow((d - 1) / (d + 1), 1 / d) : 10 * (h + 1), 10),
      shape: (s: number) => {
        const ls = Math.log(s);
        return {
          label: () => `s=${round(s)},d=${d}`,
          g: (t: number) => 1 / (1 + Math.exp(d * (Math.log(t + 1) - ls))),
          fill: (ts: readonly number[], out: Float64Array) => {
            const l = logs(ts);
            for (let i = 0; i < l.length; i++) out[i] = 1 / (1 + Math.exp(d * ((l[i] as number) - ls)));
          },
        };
      },
    }));
  },
};

const WEIBULL_D = [0.5, 0.7, 1.5, 2, 3];
export const WEIBULL: Family = {
  name: "weibull",
  k: 2,
  // For d > 1 a sigmoid in time with its inflection at tau ((d-1)/d)^(1/d),
  // which must lie within the data (as for logpow).
  lines: (_f, last, h) => {
    const logs = logsOf(0);
    return WEIBULL_D.map((d) => {
      const hi = d > 1 ? Math.min(10 * h, last / Math.pow((d - 1) / d, 1 / d)) : 10 * h;
      return {
        thetas: geomspace(Math.min(h / 100, hi / 2), hi, 16),
        shape: (tau: number) => {
          const lt = Math.log(tau);
          return {
            label: () => `tau=${round(tau)},d=${d}`,
            g: (t: number) => (t > 0 ? Math.exp(-Math.exp(d * (Math.log(t) - lt))) : 1),
            fill: (ts: readonly number[], out: Float64Array) => {
              const l = logs(ts);
              for (let i = 0; i < l.length; i++) out[i] = (ts[i] as number) > 0 ? Math.exp(-Math.exp(d * ((l[i] as number) - lt))) : 1;
            },
          };
        },
      };
    });
  },
};

export const DEFAULT_FAMILIES: readonly Family[] = [EXP, POW, LOGPOW, WEIBULL];

function round(x: number): number {
  return Number(x.toPrecision(3));
}

interface ShapeFit {
  shape: Shape;
  rss: number;
  c: number;
  a: number;
  prediction: number;
  /** Leverage term of the horizon: 1/n + (gH - gbar)^2 / Sgg. */
  leverage: number;
  ok: boolean;
}

/** Points added inside each grid interval that touches a confidence region. */
const REFINE = 4;

/** Golden-section search of RSS over log theta between the neighbours of grid point `i`. */
function refineMinimum(
  line: Line,
  i: number,
  ts: readonly number[],
  ys: readonly number[],
  horizon: number,
  fits: ShapeFit[],
  buf: Float64Array,
): ShapeFit {
  let best = fits[i] as ShapeFit;
  const th = line.thetas;
  let a = Math.log(th[Math.max(0, i - 1)] as number);
  let b = Math.log(th[Math.min(th.length - 1, i + 1)] as number);
  if (!(b > a)) return best;
  const r = (Math.sqrt(5) - 1) / 2;
  const at = (x: number): ShapeFit => {
    const f = fitShape(line.shape(Math.exp(x)), ts, ys, horizon, buf);
    if (f.ok && f.rss < best.rss) best = f;
    return f;
  };
  let x1 = b - r * (b - a);
  let x2 = a + r * (b - a);
  let f1 = at(x1);
  let f2 = at(x2);
  for (let k = 0; k < 9; k++) {
    if ((f1.ok ? f1.rss : Infinity) <= (f2.ok ? f2.rss : Infinity)) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - r * (b - a);
      f1 = at(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + r * (b - a);
      f2 = at(x2);
    }
  }
  return best;
}

/** Exact least squares of y = c + a g over the points, and the forecast at `horizon`. */
export function fitShape(shape: Shape, ts: readonly number[], ys: readonly number[], horizon: number, buf?: Float64Array): ShapeFit {
  const n = ts.length;
  const gs = buf && buf.length >= n ? buf : new Float64Array(n);
  if (shape.fill) shape.fill(ts, gs);
  else for (let i = 0; i < n; i++) gs[i] = shape.g(ts[i] as number);
  let gbar = 0;
  let ybar = 0;
  for (let i = 0; i < n; i++) {
    gbar += gs[i] as number;
    ybar += ys[i] as number;
  }
  gbar /= n;
  ybar /= n;
  let sgg = 0;
  let sgy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dg = (gs[i] as number) - gbar;
    const dy = (ys[i] as number) - ybar;
    sgg += dg * dg;
    sgy += dg * dy;
    syy += dy * dy;
  }
  const gH = shape.g(horizon);
  const dH = gH - gbar;
  // Every family's g takes values in [0, 1]. A shape that is (numerically)
  // constant over the data says nothing about a; it is usable only if it
  // is also constant out to the horizon.
  if (!(sgg > 1e-20 * n)) {
    const ok = Math.abs(dH) <= 1e-9;
    return { shape, rss: syy, c: ybar, a: 0, prediction: ybar, leverage: 1 / n, ok };
  }
  const a = sgy / sgg;
  const c = ybar - a * gbar;
  const rss = Math.max(0, syy - a * sgy);
  return { shape, rss, c, a, prediction: ybar + a * dH, leverage: 1 / n + (dH * dH) / sgg, ok: Number.isFinite(a) };
}

/** Fits every family to (ts, ys) and forecasts the value at `horizon`; undefined with too few points. */
export function forecast(ts: readonly number[], ys: readonly number[], horizon: number, o: FitOptions): CurveForecast | undefined {
  const n = ts.length;
  if (n < 4) return undefined;
  const first = ts[0] as number;
  const last = ts[n - 1] as number;
  let lo = Infinity;
  let hi = -Infinity;
  for (const y of ys) {
    lo = Math.min(lo, y);
    hi = Math.max(hi, y);
  }
  // Exactly parametric data would give RSS 0 and log(0); floor it far below any real noise.
  const rssFloor = n * Math.pow(1e-9 * (hi - lo + Math.abs(hi) + 1e-12), 2);
  const out: FamilyForecast[] = [];
  const buf = new Float64Array(n);
  for (const fam of o.families ?? DEFAULT_FAMILIES) {
    const p = fam.k + 2;
    const dof = n - p;
    if (dof < 2) continue;
    const lines = fam.lines(first, last, horizon);
    const coarse = lines.map((line) => line.thetas.map((th) => fitShape(line.shape(th), ts, ys, horizon, buf)));
    // Each line's best grid point refined by a golden-section search in log
    // theta between its grid neighbours (shape parameters trade off, so the
    // best grid point of one line is no guide to another's minimum).
    const lineBest = coarse.map((fits) => {
      let bi = -1;
      fits.forEach((f, i) => {
        if (f.ok && (bi < 0 || f.rss < (fits[bi] as ShapeFit).rss)) bi = i;
      });
      return bi;
    });
    const order = lineBest
      .map((bi, li) => ({ li, bi, rss: bi < 0 ? Infinity : (coarse[li]?.[bi] as ShapeFit).rss }))
      .filter((x) => x.bi >= 0)
      .sort((a, b) => a.rss - b.rss);
    if (order.length === 0) continue;
    let best = coarse[order[0]?.li as number]?.[order[0]?.bi as number] as ShapeFit;
    let bestLine = order[0]?.li as number;
    let bestIdx = order[0]?.bi as number;
    for (const { li, bi } of order) {
      const r = refineMinimum(lines[li] as Line, bi, ts, ys, horizon, coarse[li] as ShapeFit[], buf);
      if (r.rss < best.rss) [best, bestLine, bestIdx] = [r, li, bi];
    }
    const rssMin = Math.max(best.rss, rssFloor);
    const s2 = Math.max(rssMin / dof, o.noiseFloor ?? 0);
    const tq = tQuantile(o.confidence, dof);
    // Profile likelihood of the forecast v: min over shapes of
    // RSS(theta) + (v - forecast(theta))^2 / leverage(theta); the bound is
    // where it reaches RSSmin + s2 t^2.
    const limit = rssMin + s2 * tq * tq + rssFloor;
    let lower = Infinity;
    let upper = -Infinity;
    const at = o.at;
    // Profile RSS at v = at: min over the shapes seen of RSS + (at - forecast)^2 / leverage.
    let rssAt = Infinity;
    const take = (f: ShapeFit): void => {
      if (at !== undefined && f.ok) rssAt = Math.min(rssAt, f.rss + ((at - f.prediction) * (at - f.prediction)) / (f.leverage + (o.predictive ? 1 : 0)));
      if (!f.ok || f.rss > limit) return;
      const slack = Math.sqrt((limit - f.rss) * (f.leverage + (o.predictive ? 1 : 0)));
      lower = Math.min(lower, f.prediction - slack);
      upper = Math.max(upper, f.prediction + slack);
    };
    take(best);
    lines.forEach((line, li) => {
      const fits = coarse[li] as ShapeFit[];
      fits.forEach(take);
      // Confidence regions are often narrower than the grid: fill in every
      // grid interval that touches the region, or holds the minimum.
      for (let i = 0; i + 1 < fits.length; i++) {
        const a = fits[i] as ShapeFit;
        const b = fits[i + 1] as ShapeFit;
        const touches = (a.ok && a.rss <= limit) || (b.ok && b.rss <= limit) || (li === bestLine && (i === bestIdx || i + 1 === bestIdx));
        if (!touches) continue;
        const lo = line.thetas[i] as number;
        const hi = line.thetas[i + 1] as number;
        for (let j = 1; j <= REFINE; j++) take(fitShape(line.shape(lo * Math.pow(hi / lo, j / (REFINE + 1))), ts, ys, horizon, buf));
      }
    });
    if (!(lower <= upper)) continue;
    let below: number | undefined;
    if (at !== undefined) {
      const t2 = Math.max(0, rssAt - rssMin) / s2;
      const tail = (1 - fCdf(t2, 1, dof)) / 2;
      below = at < best.prediction ? tail : 1 - tail;
    }
    const aicc = n * Math.log(rssMin / n) + 2 * p + (n - p - 1 > 0 ? (2 * p * (p + 1)) / (n - p - 1) : Infinity);
    best = best as ShapeFit;
    const gl = best.shape.g(last);
    const eps = Math.max(1e-6, 1e-4 * Math.abs(last));
    out.push({
      name: fam.name,
      n,
      rss: best.rss,
      aicc,
      weight: 0,
      plausible: false,
      prediction: best.prediction,
      lower,
      upper,
      shape: best.shape.label(),
      c: best.c,
      a: best.a,
      fittedLast: best.c + best.a * gl,
      slopeLast: (best.a * (best.shape.g(last + eps) - best.shape.g(last - eps))) / (2 * eps),
      ...(below !== undefined ? { below } : {}),
    });
  }
  if (out.length === 0) return undefined;
  const minAicc = Math.min(...out.map((f) => f.aicc));
  // Plausible: not rejected by the data, i.e. its residual sum of squares
  // exceeds the smallest one by at most maxDelta noise variances (a
  // likelihood-ratio test that does not penalise parameters: a flexible
  // family that fits as well stays in and widens the interval). AICc only
  // weighs the point prediction.
  const minRss = Math.min(...out.map((f) => f.rss));
  const s2 = Math.max(minRss / Math.max(1, n - 4), o.noiseFloor ?? 0, rssFloor / n);
  let wsum = 0;
  for (const f of out) {
    f.plausible = o.plausibility === "aicc" ? f.aicc - minAicc <= o.maxDelta : (f.rss - minRss) / s2 <= o.maxDelta;
    if (f.plausible) {
      f.weight = Math.exp(-(f.aicc - minAicc) / 2);
      wsum += f.weight;
    }
  }
  let prediction = 0;
  let lower = Infinity;
  let upper = -Infinity;
  let best = out[0] as FamilyForecast;
  let below = 0;
  let lsum = 0;
  for (const f of out) {
    if (!f.plausible) continue;
    f.weight /= wsum;
    prediction += f.weight * f.prediction;
    lower = Math.min(lower, f.lower);
    upper = Math.max(upper, f.upper);
    if (f.weight > best.weight) best = f;
    const l = Math.exp(-(f.rss - minRss) / (2 * s2));
    below += l * (f.below ?? 0);
    lsum += l;
  }
  const res: CurveForecast = { horizon, n, prediction, lower, upper, best, families: out };
  if (o.at !== undefined && lsum > 0) res.below = below / lsum;
  return res;
}
