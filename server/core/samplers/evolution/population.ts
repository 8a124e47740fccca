/**
 * The machinery shared by the genetic and NSGA-II samplers: a population
 * replayed from the trial history in fixed blocks (generations.ts), survivor
 * selection, parent selection and variation on the genome (encoding.ts).
 *
 * Per generation g (block g = positions [gP, (g+1)P), P the population size):
 * - block 0 is the initial population: each trial drawn uniformly at random
 *   (as the random sampler does, from its own stream);
 * - when block g closes, the parent pool becomes a selection of the previous
 *   pool plus block g (`survive`, elitist in both algorithms); FAILED trials
 *   rank worst and are left out of the pool altogether while at least two
 *   other candidates exist (so the pool can hold fewer than P), which steers
 *   every child away from where trials fail;
 * - every later trial is a child of two parents of the current pool chosen by
 *   tournament, built by crossover then mutation; while no pool exists yet or
 *   the pool holds nothing but failed trials, trials are drawn at random.
 *
 * Conditional parameters: genes are visited parents first and a gene is set
 * only when active under the child's values so far. An active gene that both
 * parents hold is crossed; one that only one parent holds (the parent whose
 * value of the controlling parameter the child took) is copied from it, so a
 * child inherits a whole active subtree from the parent that provides the
 * parent value; one that neither holds (a mutation switched a branch on) is
 * drawn at random. Mutation then acts gene by gene with probability 1/d (d
 * the number of non-fixed dimensions of the space). Every value comes from a
 * parent, from decoding [0, 1] or from the domain's choices, so children are
 * always legal.
 *
 * A child equal to a trial of the pool, the last closed block or any later
 * trial (RUNNING ones included) is redrawn from the same stream, up to 8 times.
 */
import type { Direction } from "../../model.js";
import { createRng, type Rng } from "../../rng.js";
import type { FlatParams, ScalarValue } from "../../space.js";
import type { SampleContext, SampleResult, TrialView } from "../sampler.js";
import { flatKey, fromUnitNumeric, genomeOf, randomValue, toUnit, type Genome, type NumericGene } from "./encoding.js";
import { fitnessOf, orderByFitness, rankFitness, type Fitness } from "./fitness.js";
import { GenerationMemo, MemoTable, type Generations } from "./generations.js";
import { gaussianMutation, polynomialMutation, sbx } from "./operators.js";

export interface Individual {
  /** Position in the trial list (the trial id in a dense history). */
  pos: number;
  view: TrialView;
  fit: Fitness;
  /** Front index (NSGA-II) or position in the pool's order (genetic). */
  rank: number;
  crowding: number;
}

export interface PopulationState {
  /** Parents, best first. */
  pool: readonly Individual[];
}

export interface EvolutionConfig {
  populationSize: number;
  survival: "elitist-generational" | "nsga2";
  /** Genetic: how many of the best of pool + block survive whatever their age. */
  elites: number;
  /** Tournament size; NSGA-II uses 2 on (rank, crowding). */
  tournament: number;
  crossoverProb: number;
  /** Per numeric gene, probability of SBX (else the gene is inherited). */
  sbxProb: number;
  etaCrossover: number;
  /** Where a numeric gene is not crossed by SBX: "first" parent's value, or "uniform" pick. */
  inherit: "first" | "uniform";
  mutation: { kind: "gaussian"; sd: number } | { kind: "polynomial"; eta: number };
  initStream: number;
  childStream: number;
}

const MAX_ATTEMPTS = 8;

export class PopulationEngine {
  private readonly memos = new MemoTable<object, PopulationState>();

  constructor(readonly config: EvolutionConfig) {}

  /** The replayed parent pool for a context (for inspection and tests). */
  pool(ctx: SampleContext): readonly Individual[] {
    return this.memo(ctx).replay(ctx.trials).state.pool;
  }

  sample(ctx: SampleContext): SampleResult {
    const genome = genomeOf(ctx.space);
    const replayed = this.memo(ctx).replay(ctx.trials);
    const pool = replayed.state.pool;
    const seen = new Set<string>();
    for (const ind of pool) seen.add(flatKey(genome, ind.view.flat));
    for (let p = replayed.lastClosedStart; p < ctx.trials.length; p++) {
      const v = ctx.trials[p];
      if (v) seen.add(flatKey(genome, v.flat));
    }
    const breed = pool.some((ind) => ind.fit.cls < 3);
    const rng = createRng(ctx.seed, ctx.trialId, breed ? this.config.childStream : this.config.initStream);
    let flat: FlatParams = {};
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      flat = breed ? this.child(genome, pool, rng) : randomPoint(genome, rng);
      if (!seen.has(flatKey(genome, flat))) break;
    }
    return { kind: "params", flat };
  }

  private memo(ctx: SampleContext): GenerationMemo<PopulationState> {
    const key = `${ctx.seed}|${ctx.directions.join(",")}`;
    return this.memos.get(ctx.space, key, () => new GenerationMemo(this.generations(ctx.directions), 1));
  }

  private generations(dirs: readonly Direction[]): Generations<PopulationState> {
    return {
      initial: () => ({ pool: [] }),
      blockSize: () => this.config.populationSize,
      close: (recent, members, start) => {
        const prev = (recent[0] as PopulationState).pool;
        const block: Individual[] = members.map((view, i) => ({ pos: start + i, view, fit: fitnessOf(view, dirs), rank: 0, crowding: 0 }));
        return { pool: this.survive(prev, block, dirs.length) };
      },
    };
  }

  private survive(prev: readonly Individual[], block: readonly Individual[], objectives: number): Individual[] {
    let all = [...prev, ...block];
    // Failed trials carry no values: they never become parents while two
    // others exist (the pool may then hold fewer than P).
    const alive = all.filter((i) => i.fit.cls < 3);
    if (alive.length >= 2) all = alive;
    const fits = all.map((i) => i.fit);
    const size = this.config.populationSize;
    if (this.config.survival === "nsga2") {
      // (P + P) elitism: the best P of parents and children by (front, crowding).
      const r = rankFitness(fits);
      return r.order.slice(0, size).map((i) => ({ ...(all[i] as Individual), rank: r.rank[i] as number, crowding: r.crowding[i] as number }));
    }
    // Generational replacement with elitism: the `elites` best of parents and
    // children survive, the rest of the pool is the best of the children.
    const order = orderByFitness(fits, objectives);
    const chosen: number[] = order.slice(0, Math.min(this.config.elites, size));
    const taken = new Set(chosen);
    for (const i of order) {
      if (chosen.length >= size) break;
      if (!taken.has(i) && i >= prev.length) {
        chosen.push(i);
        taken.add(i);
      }
    }
    // Fewer children than places (a tiny block): fill with the best parents.
    for (const i of order) {
      if (chosen.length >= size) break;
      if (!taken.has(i)) {
        chosen.push(i);
        taken.add(i);
      }
    }
    const rankOf = new Map(order.map((i, k) => [i, k]));
    chosen.sort((a, b) => (rankOf.get(a) as number) - (rankOf.get(b) as number));
    return chosen.map((i, k) => ({ ...(all[i] as Individual), rank: k, crowding: 0 }));
  }

  private select(pool: readonly Individual[], rng: Rng): Individual {
    let best = pool[rng.int(pool.length)] as Individual;
    for (let k = 1; k < this.config.tournament; k++) {
      const other = pool[rng.int(pool.length)] as Individual;
      if (other.rank < best.rank || (other.rank === best.rank && other.crowding > best.crowding)) best = other;
    }
    return best;
  }

  private child(genome: Genome, pool: readonly Individual[], rng: Rng): FlatParams {
    const cfg = this.config;
    const a = this.select(pool, rng).view.flat;
    const b = this.select(pool, rng).view.flat;
    const cross = rng.next() < cfg.crossoverProb;
    const pm = genome.variable > 0 ? 1 / genome.variable : 0;
    const flat: FlatParams = {};
    for (const g of genome.genes) {
      if (!genome.space.isActive(g.dim, flat)) continue;
      if (g.kind === "fixed") {
        flat[g.dim.name] = g.value;
        continue;
      }
      const va = a[g.dim.name];
      const vb = b[g.dim.name];
      let v: ScalarValue;
      if (va !== undefined && vb !== undefined) {
        if (!cross) v = va;
        else if (g.kind === "numeric" && rng.next() < cfg.sbxProb) {
          v = fromUnitNumeric(sbx(toUnit(va as number, g.domain), toUnit(vb as number, g.domain), cfg.etaCrossover, rng), g.domain);
        } else if (g.kind === "numeric" && cfg.inherit === "first") v = va;
        else v = rng.next() < 0.5 ? va : vb;
      } else if (va !== undefined) v = va;
      else if (vb !== undefined) v = vb;
      else v = randomValue(g, rng.next());
      if (rng.next() < pm) v = g.kind === "numeric" ? this.mutateNumeric(g, v as number, rng) : resetChoice(g.choices, v, rng);
      flat[g.dim.name] = v;
    }
    return flat;
  }

  private mutateNumeric(g: NumericGene, v: number, rng: Rng): number {
    const u = toUnit(v, g.domain);
    const m = this.config.mutation;
    const w = m.kind === "gaussian" ? gaussianMutation(u, m.sd, rng) : polynomialMutation(u, m.eta, rng);
    return fromUnitNumeric(w, g.domain);
  }
}

/** Random reset to another choice. */
function resetChoice(choices: readonly ScalarValue[], v: ScalarValue, rng: Rng): ScalarValue {
  const cur = choices.indexOf(v);
  if (choices.length < 2) return v;
  let k = rng.int(choices.length - 1);
  if (cur >= 0 && k >= cur) k++;
  return choices[Math.min(k, choices.length - 1)] as ScalarValue;
}

/** A uniformly random legal point (one draw per gene, active or not, as the random sampler). */
export function randomPoint(genome: Genome, rng: Rng): FlatParams {
  const flat: FlatParams = {};
  for (const g of genome.genes) {
    const u = rng.next();
    if (!genome.space.isActive(g.dim, flat)) continue;
    flat[g.dim.name] = g.kind === "fixed" ? g.value : randomValue(g, u);
  }
  return flat;
}

/** Check a population-size option. */
export function checkPopulationSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError(`population size must be an integer >= 2 (got ${n})`);
  return n;
}
