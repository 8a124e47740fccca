/**
 * Deterministic generations for population-based samplers, derived from the
 * trial history alone, with a memo so that a suggestion does not replay the
 * whole history.
 *
 * The rule: trials are taken in id order (their position in
 * `SampleContext.trials`). Generation 0 is the block of positions
 * [0, size(S0)); after the state S_g of generation g, generation g + 1 is the
 * next block of size(S_g+1) positions. A block is CLOSED once all of its
 * positions exist and every one is finished (COMPLETE, PRUNED or FAILED);
 * closing folds the block into the next state. The replay walks closed blocks
 * in order and stops at the first open one, whose start is `openStart`: the
 * current state is the one after the last closed block. A new trial is always
 * proposed from that state, whatever its own position: while the open block
 * still has QUEUED or RUNNING members, further trials keep being drawn from
 * the current state and simply fill the following block(s) (never a "wait").
 * Membership is fixed by position, so a block's content never depends on the
 * order in which its trials finished, and every later replay reaches the same
 * states.
 *
 * Memo: per (space, seed, directions) the sampler keeps the closed blocks it
 * replayed: the views of their members (object references) and the states of
 * the last few generations. A call checks each remembered member against
 * `ctx.trials` by reference (a view object is replaced whenever its trial
 * changes, so an unchanged reference is an unchanged trial), falling back to a
 * content comparison when the reference differs, then replays only the blocks
 * closed since. A changed block (which the daemon never produces: finished
 * trials are immutable) drops the memo from that block on; the states are kept
 * only for the last `keep` generations, so resuming from an older block
 * replays from the start. The memo only caches what the replay computes: it
 * never changes a result.
 */
import type { TrialView } from "../sampler.js";
import { FINISHED } from "./fitness.js";

export interface Generations<S> {
  /** The state generation 0 is drawn from. */
  initial(): S;
  /** Number of positions of the block drawn from state `s`. */
  blockSize(s: S): number;
  /**
   * The state after the block drawn from `recent[0]` closed. `recent` holds
   * the states of this generation and up to `keep - 1` earlier ones, most
   * recent first.
   */
  close(recent: readonly S[], members: readonly TrialView[], start: number): S;
}

export interface Replayed<S> {
  /** State new trials are drawn from. */
  state: S;
  /** States of the current and up to `keep - 1` earlier generations, most recent first. */
  recent: readonly S[];
  /** Index of the current generation (number of closed blocks). */
  generation: number;
  /** First position of the open block. */
  openStart: number;
  /** First position of the last closed block (0 when none closed). */
  lastClosedStart: number;
}

interface Closed<S> {
  start: number;
  views: TrialView[];
  /** State after closing this block; dropped for old generations. */
  state: S | undefined;
}

const contentKeys = new WeakMap<TrialView, string>();

function contentKey(v: TrialView): string {
  let k = contentKeys.get(v);
  if (k === undefined) {
    const flat = Object.keys(v.flat)
      .sort()
      .map((name) => [name, v.flat[name]]);
    k = JSON.stringify([v.id, v.state, v.values ?? null, v.constraints ?? null, v.lastIntermediate ?? null, flat]);
    contentKeys.set(v, k);
  }
  return k;
}

const isFinished = (v: TrialView | undefined): v is TrialView => v !== undefined && FINISHED.has(v.state);

export class GenerationMemo<S> {
  private readonly chain: Closed<S>[] = [];
  private initialState: S | undefined;

  constructor(
    private readonly gens: Generations<S>,
    private readonly keep: number,
  ) {}

  replay(trials: readonly TrialView[]): Replayed<S> {
    const initial = (this.initialState ??= this.gens.initial());
    this.validate(trials);
    const states = (i: number): S | undefined => (i < 0 ? initial : this.chain[i]?.state);
    const tail = this.chain[this.chain.length - 1];
    let pos = tail ? tail.start + tail.views.length : 0;
    for (;;) {
      const last = this.chain.length - 1;
      const current = states(last) as S;
      const size = Math.max(1, this.gens.blockSize(current));
      if (pos + size > trials.length) break;
      const members = trials.slice(pos, pos + size);
      if (!members.every(isFinished)) break;
      const recent: S[] = [];
      for (let i = last; i >= -1 && recent.length < this.keep; i--) recent.push(states(i) as S);
      const next = this.gens.close(recent, members, pos);
      this.chain.push({ start: pos, views: members, state: next });
      // Keep keep + 1 states: resuming at the last block needs the keep before it.
      const old = this.chain[this.chain.length - 2 - this.keep];
      if (old) old.state = undefined;
      pos += size;
    }
    const last = this.chain.length - 1;
    const recent: S[] = [];
    for (let i = last; i >= -1 && recent.length < this.keep; i--) recent.push(states(i) as S);
    return {
      state: states(last) as S,
      recent,
      generation: this.chain.length,
      openStart: pos,
      lastClosedStart: last >= 0 ? (this.chain[last] as Closed<S>).start : 0,
    };
  }

  /** Drop remembered blocks whose members changed (and, if needed, all of them). */
  private validate(trials: readonly TrialView[]): void {
    let bad = -1;
    outer: for (let b = 0; b < this.chain.length; b++) {
      const block = this.chain[b] as Closed<S>;
      for (let i = 0; i < block.views.length; i++) {
        const now = trials[block.start + i];
        const then = block.views[i] as TrialView;
        if (now === then) continue;
        if (now === undefined || contentKey(now) !== contentKey(then)) {
          bad = b;
          break outer;
        }
        block.views[i] = now;
      }
    }
    if (bad < 0) return;
    // Resuming at block `bad` needs the states of the `keep` blocks before it.
    let resumable = true;
    for (let i = bad - 1; i >= Math.max(0, bad - this.keep); i--) if (this.chain[i]?.state === undefined) resumable = false;
    this.chain.length = resumable ? bad : 0;
  }
}

/**
 * One memo per (space, seed, directions, variant) for a sampler instance;
 * bounded: the least recently used key is dropped past `limit`.
 */
export class MemoTable<K extends object, S> {
  private readonly byObject = new WeakMap<K, Map<string, GenerationMemo<S>>>();
  private readonly keysOrder: { obj: WeakRef<K>; key: string }[] = [];

  constructor(private readonly limit = 16) {}

  get(obj: K, key: string, make: () => GenerationMemo<S>): GenerationMemo<S> {
    let inner = this.byObject.get(obj);
    if (!inner) {
      inner = new Map();
      this.byObject.set(obj, inner);
    }
    let memo = inner.get(key);
    if (!memo) {
      memo = make();
      inner.set(key, memo);
      this.keysOrder.push({ obj: new WeakRef(obj), key });
      while (this.keysOrder.length > this.limit) {
        const old = this.keysOrder.shift();
        const o = old?.obj.deref();
        if (o && old) this.byObject.get(o)?.delete(old.key);
      }
    }
    return memo;
  }
}
