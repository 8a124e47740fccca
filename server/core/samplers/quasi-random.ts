/**
 * Quasi-random (low-discrepancy) sampling: covers the space more evenly than
 * independent draws for the same number of trials, which is what matters for
 * the small budgets of hyperparameter searches.
 *
 * Point index = trial id. Ids are dense, so parallel workers get distinct
 * consecutive points and a study is reproducible from its seed whatever the
 * concurrency. Dimension `dim.index` always uses coordinate `dim.index`;
 * inactive dimensions leave their coordinate unused rather than shifting the
 * others.
 */
import { invalid } from "../errors.js";
import type { AlgorithmSpec } from "../model.js";
import { mixKeys } from "../rng.js";
import type { FlatParams } from "../space.js";
import { fromUnit } from "./domain-map.js";
import { HaltonCoordinate, nthPrime } from "./halton.js";
import type { SampleContext, SampleResult, Sampler } from "./sampler.js";
import { fixedToUnit, owenScramble, SOBOL_MAX_DIMS, sobolInt } from "./sobol.js";
import { STREAM_SOBOL_SCRAMBLE } from "./streams.js";

export const QUASI_SEQUENCES = ["sobol", "halton"] as const;
export type QuasiSequence = (typeof QUASI_SEQUENCES)[number];

export interface QuasiRandomOptions {
  sequence: QuasiSequence;
  scrambled: boolean;
}

/** A per-seed coordinate generator: unit coordinate of (point index, dimension). */
type Coordinate = (index: number) => number;

export class QuasiRandomSampler implements Sampler {
  readonly name = "quasi_random";
  readonly options: QuasiRandomOptions;
  /** Coordinates built for `cachedSeed` (scramble tables are per seed and dimension). */
  private coords = new Map<number, Coordinate>();
  private cachedSeed: number | undefined;

  constructor(options: QuasiRandomOptions) {
    this.options = options;
  }

  sample(ctx: SampleContext): SampleResult {
    if (ctx.seed !== this.cachedSeed) {
      this.coords = new Map();
      this.cachedSeed = ctx.seed;
    }
    const index = Math.max(0, Math.floor(ctx.trialId));
    const flat: FlatParams = {};
    for (const dim of ctx.space.dims) {
      if (!ctx.space.isActive(dim, flat)) continue;
      flat[dim.name] = fromUnit(this.coordinate(dim.index, ctx.seed)(index), dim.domain);
    }
    return { kind: "params", flat };
  }

  private coordinate(dim: number, seed: number): Coordinate {
    let c = this.coords.get(dim);
    if (c === undefined) {
      c = this.buildCoordinate(dim, seed);
      this.coords.set(dim, c);
    }
    return c;
  }

  private buildCoordinate(dim: number, seed: number): Coordinate {
    const { sequence, scrambled } = this.options;
    if (sequence === "halton") return haltonCoordinate(nthPrime(dim), dim, seed, scrambled);
    if (dim < SOBOL_MAX_DIMS) return sobolCoordinate(dim, seed, scrambled);
    // Past the Sobol table: Halton in the odd prime bases (3, 5, 7, ...).
    // Base 2 is skipped because its radical inverse is Sobol dimension 0 and
    // the two coordinates would move in lockstep.
    return haltonCoordinate(nthPrime(dim - SOBOL_MAX_DIMS + 1), dim, seed, scrambled);
  }
}

function sobolCoordinate(dim: number, seed: number, scrambled: boolean): Coordinate {
  if (!scrambled) return (i) => fixedToUnit(sobolInt(i, dim));
  const key = mixKeys(seed, dim, STREAM_SOBOL_SCRAMBLE);
  return (i) => fixedToUnit(owenScramble(sobolInt(i, dim), key));
}

function haltonCoordinate(base: number, dim: number, seed: number, scrambled: boolean): Coordinate {
  const h = new HaltonCoordinate(base, scrambled ? [seed, dim] : undefined);
  return (i) => h.value(i);
}

/**
 * Options from the study spec, checked: sobol and scrambled by default (the
 * proto's defaults), an unknown sequence rejected at CreateStudy.
 */
export function quasiRandomOptions(spec: AlgorithmSpec["quasiRandom"], field: string): QuasiRandomOptions {
  // Widened to string: the value comes from the wire and may be anything.
  const sequence: string = spec?.sequence ?? "";
  const scrambled = spec?.scrambled ?? true;
  if (sequence === "" || sequence === "sobol") return { sequence: "sobol", scrambled };
  if (sequence === "halton") return { sequence: "halton", scrambled };
  throw invalid(`${field}.sequence`, `unknown sequence "${sequence}" (known: ${QUASI_SEQUENCES.join(", ")})`);
}
