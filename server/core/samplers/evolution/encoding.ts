/**
 * The genome view of a search space shared by the evolutionary samplers
 * (CMA-ES, genetic, NSGA-II): every flat dimension is a gene that is either
 * fixed (one legal value), numeric (float or int, encoded on [0, 1], log
 * scaled for log domains) or categorical (handled by value).
 *
 * Numeric encoding is the inverse of `fromUnit` in domain-map.ts, so the two
 * agree exactly: a continuous float maps linearly (or log-linearly) onto
 * [0, 1]; a discrete numeric domain (int, stepped float) splits [0, 1] into one
 * cell per value (log ints: cells of equal log width, value v owning
 * [v - 0.5, v + 0.5]) and a value encodes to the centre of its cell.
 */
import type { CompiledSpace, Dim, FlatParams, FloatDomain, IntDomain, ScalarDomain, ScalarValue } from "../../space.js";
import { discreteSize, fromUnit } from "../domain-map.js";

export type NumericDomain = FloatDomain | IntDomain;

export interface FixedGene {
  kind: "fixed";
  dim: Dim;
  value: ScalarValue;
}
export interface NumericGene {
  kind: "numeric";
  dim: Dim;
  domain: NumericDomain;
  /** Int or stepped float: the coordinate is read by cells. */
  discrete: boolean;
  /** Index among the numeric genes (the coordinate in a continuous vector). */
  coord: number;
}
export interface CategoricalGene {
  kind: "categorical";
  dim: Dim;
  choices: readonly ScalarValue[];
  /** Index among the categorical genes. */
  slot: number;
}
export type Gene = FixedGene | NumericGene | CategoricalGene;

export interface Genome {
  space: CompiledSpace;
  /** One gene per flat dimension, in `space.dims` order (parents first). */
  genes: readonly Gene[];
  numeric: readonly NumericGene[];
  categorical: readonly CategoricalGene[];
  /** Genes that can vary (numeric + categorical). */
  variable: number;
}

const clamp01 = (u: number): number => (u < 0 ? 0 : u > 1 ? 1 : u);

/** The only value of a domain that holds one, else undefined. */
export function singleValue(d: ScalarDomain): ScalarValue | undefined {
  if (d.type === "categorical") return d.choices.length === 1 ? d.choices[0] : undefined;
  if (d.low === d.high) return d.low;
  return discreteSize(d) === 1 ? d.low : undefined;
}

const genomes = new WeakMap<CompiledSpace, Genome>();

/** The genome of a space (memoised per compiled space: spaces are immutable). */
export function genomeOf(space: CompiledSpace): Genome {
  const cached = genomes.get(space);
  if (cached) return cached;
  const genes: Gene[] = [];
  const numeric: NumericGene[] = [];
  const categorical: CategoricalGene[] = [];
  for (const dim of space.dims) {
    const d = dim.domain;
    const only = singleValue(d);
    if (only !== undefined) {
      genes.push({ kind: "fixed", dim, value: only });
    } else if (d.type === "categorical") {
      const g: CategoricalGene = { kind: "categorical", dim, choices: d.choices, slot: categorical.length };
      categorical.push(g);
      genes.push(g);
    } else {
      const discrete = d.type === "int" || d.step !== undefined;
      const g: NumericGene = { kind: "numeric", dim, domain: d, discrete, coord: numeric.length };
      numeric.push(g);
      genes.push(g);
    }
  }
  const genome: Genome = { space, genes, numeric, categorical, variable: numeric.length + categorical.length };
  genomes.set(space, genome);
  return genome;
}

/** Log-int cell bounds in log space: value v owns [ln(v - 0.5), ln(v + 0.5)]. */
function logIntRange(d: IntDomain): [number, number] {
  return [Math.log(d.low - 0.5), Math.log(d.high + 0.5)];
}

/** Encode a legal numeric value on [0, 1] (a discrete value goes to its cell centre). */
export function toUnit(v: number, d: NumericDomain): number {
  if (d.type === "int" && d.log) {
    const [a, b] = logIntRange(d);
    return clamp01((0.5 * (Math.log(v - 0.5) + Math.log(v + 0.5)) - a) / (b - a));
  }
  const n = discreteSize(d);
  if (n !== undefined) {
    const step = d.step ?? 1;
    const k = Math.min(n - 1, Math.max(0, Math.round((v - d.low) / step)));
    return (k + 0.5) / n;
  }
  if (d.high === d.low) return 0.5;
  if (d.log) return clamp01((Math.log(v) - Math.log(d.low)) / (Math.log(d.high) - Math.log(d.low)));
  return clamp01((v - d.low) / (d.high - d.low));
}

/** Decode a coordinate (clamped onto [0, 1]) to a legal value. */
export function fromUnitNumeric(u: number, d: NumericDomain): number {
  return fromUnit(clamp01(Number.isFinite(u) ? u : 0.5), d) as number;
}

/**
 * Width on [0, 1] of the cell holding coordinate u of a discrete domain (0 for
 * a continuous float).
 */
export function cellWidth(u: number, d: NumericDomain): number {
  if (d.type === "int" && d.log) {
    const [a, b] = logIntRange(d);
    const v = fromUnitNumeric(u, d);
    return (Math.log(v + 0.5) - Math.log(v - 0.5)) / (b - a);
  }
  const n = discreteSize(d);
  return n === undefined ? 0 : 1 / n;
}

/** Uniform random value of a gene's domain from u in [0, 1) (as the random sampler). */
export function randomValue(g: NumericGene | CategoricalGene, u: number): ScalarValue {
  return fromUnit(u, g.dim.domain);
}

/** Whether two flat points set the same dimensions to the same values. */
export function sameFlat(genome: Genome, a: FlatParams, b: FlatParams): boolean {
  for (const g of genome.genes) if (a[g.dim.name] !== b[g.dim.name]) return false;
  return true;
}

/** A canonical key of a flat point over the genome's dimensions (for de-duplication). */
export function flatKey(genome: Genome, flat: FlatParams): string {
  let s = "";
  for (const g of genome.genes) {
    const v = flat[g.dim.name];
    s += v === undefined ? "\u0000|" : typeof v === "string" ? `s${JSON.stringify(v)}|` : `${String(v)}|`;
  }
  return s;
}
