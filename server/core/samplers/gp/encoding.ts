/**
 * The GP's view of a search space: one feature per flat dimension that can
 * vary, all in a unit box.
 *
 * - float / int: a unit coordinate, log-scaled for log domains. Stepped and
 *   integer domains are relaxed to [0, 1] with each value owning an equal cell
 *   (value k of n sits at (k + 0.5) / n; log ints use [low - 0.5, high + 0.5]
 *   in log space), exactly the cells of domain-map's fromUnit, so decoding a
 *   relaxed coordinate rounds it to the value whose cell holds it.
 * - categorical with 2+ choices: the choice index, compared by equality in the
 *   kernel (a Hamming factor with its own lengthscale).
 * - fixed dimensions (zero width, a single choice) get no feature: they carry
 *   no information and are emitted with their only value.
 *
 * Conditional spaces: a dimension that is inactive in a point is encoded at a
 * fixed default, 0.5 for numeric features and index -1 (a level of its own,
 * unequal to every choice) for categoricals. The parent's own feature already
 * tells the kernel the branches apart, so this only means points of one
 * branch are compared on the dimensions they share. Decoding walks the
 * dimensions parents first and emits only the active ones, so every decoded
 * point is legal.
 */
import type { CompiledSpace, Dim, FlatParams, FloatDomain, IntDomain, ScalarValue } from "../../space.js";
import { discreteSize, fromUnit } from "../domain-map.js";
import type { FeatureShape } from "./kernel.js";

export const INACTIVE_NUMERIC = 0.5;
export const INACTIVE_CATEGORICAL = -1;

type Coding =
  | { kind: "fixed"; dim: Dim; value: ScalarValue }
  | { kind: "num"; dim: Dim; domain: FloatDomain | IntDomain; feature: number; cells: number | undefined }
  | { kind: "cat"; dim: Dim; choices: readonly ScalarValue[]; feature: number };

export interface FeatureInfo {
  /** Index of the flat dimension in space.dims. */
  dim: number;
  categorical: boolean;
  /** Number of choices (categorical) or of values (stepped / int); undefined for a continuous float. */
  levels: number | undefined;
}

const clamp01 = (u: number): number => (u < 0 ? 0 : u > 1 ? 1 : u);

export class SpaceEncoding {
  readonly space: CompiledSpace;
  readonly shape: FeatureShape;
  readonly features: readonly FeatureInfo[];
  private readonly codings: readonly Coding[];

  constructor(space: CompiledSpace) {
    this.space = space;
    const codings: Coding[] = [];
    const features: FeatureInfo[] = [];
    for (const dim of space.dims) {
      const d = dim.domain;
      if (d.type === "categorical") {
        if (d.choices.length <= 1) codings.push({ kind: "fixed", dim, value: d.choices[0] });
        else {
          codings.push({ kind: "cat", dim, choices: d.choices, feature: features.length });
          features.push({ dim: dim.index, categorical: true, levels: d.choices.length });
        }
        continue;
      }
      const cells = discreteSize(d);
      if (d.low === d.high || cells === 1) {
        codings.push({ kind: "fixed", dim, value: d.low });
        continue;
      }
      // Log ints use fromUnit's log cells, not equal index cells.
      const equalCells = d.type === "int" && d.log ? undefined : cells;
      codings.push({ kind: "num", dim, domain: d, feature: features.length, cells: equalCells });
      features.push({ dim: dim.index, categorical: false, levels: cells });
    }
    this.codings = codings;
    this.features = features;
    const isCat = new Uint8Array(features.length);
    features.forEach((f, j) => (isCat[j] = f.categorical ? 1 : 0));
    this.shape = { dims: features.length, isCat };
  }

  get dims(): number {
    return this.shape.dims;
  }

  /** Features of a point given by its flat values (missing = inactive). */
  encode(flat: FlatParams, out: Float64Array = new Float64Array(this.dims)): Float64Array {
    for (const c of this.codings) {
      if (c.kind === "fixed") continue;
      const v = flat[c.dim.name];
      if (c.kind === "cat") {
        const idx = v === undefined ? -1 : c.choices.indexOf(v);
        out[c.feature] = idx < 0 ? INACTIVE_CATEGORICAL : idx;
        continue;
      }
      out[c.feature] = typeof v === "number" && Number.isFinite(v) ? encodeNumber(v, c.domain, c.cells) : INACTIVE_NUMERIC;
    }
    return out;
  }

  /**
   * The legal point nearest to features `u`: numeric coordinates rounded onto
   * their domain, categorical indices rounded and clamped, only active
   * dimensions set.
   */
  decode(u: ArrayLike<number>): FlatParams {
    const flat: FlatParams = {};
    for (const c of this.codings) {
      if (!this.space.isActive(c.dim, flat)) continue;
      if (c.kind === "fixed") flat[c.dim.name] = c.value;
      else if (c.kind === "cat") {
        const raw = u[c.feature];
        const idx = Number.isFinite(raw) ? Math.min(c.choices.length - 1, Math.max(0, Math.round(raw))) : 0;
        flat[c.dim.name] = c.choices[idx];
      } else {
        const raw = u[c.feature];
        flat[c.dim.name] = fromUnit(Number.isFinite(raw) ? clamp01(raw) : INACTIVE_NUMERIC, c.domain);
      }
    }
    return flat;
  }

  /** Decode then encode: the features of the legal point `u` stands for. */
  canonical(u: ArrayLike<number>): { flat: FlatParams; x: Float64Array } {
    const flat = this.decode(u);
    return { flat, x: this.encode(flat) };
  }

  /** 1 for each feature whose dimension is set (active) in `flat`. */
  activeFeatures(flat: FlatParams): Uint8Array {
    const out = new Uint8Array(this.dims);
    for (const c of this.codings) if (c.kind !== "fixed" && flat[c.dim.name] !== undefined) out[c.feature] = 1;
    return out;
  }
}

function encodeNumber(v: number, d: FloatDomain | IntDomain, cells: number | undefined): number {
  if (cells !== undefined) {
    const step = d.type === "int" ? d.step : (d.step ?? 1);
    const k = Math.min(cells - 1, Math.max(0, Math.round((v - d.low) / step)));
    return (k + 0.5) / cells;
  }
  if (d.type === "int") {
    // Log int: the cells of fromUnit, [low - 0.5, high + 0.5] in log space.
    const a = Math.log(d.low - 0.5);
    const b = Math.log(d.high + 0.5);
    return clamp01((Math.log(Math.max(v, d.low - 0.5)) - a) / (b - a));
  }
  if (d.log) return clamp01((Math.log(Math.max(v, d.low)) - Math.log(d.low)) / (Math.log(d.high) - Math.log(d.low)));
  return clamp01((v - d.low) / (d.high - d.low));
}
