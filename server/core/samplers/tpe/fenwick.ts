/**
 * A Fenwick (binary indexed) tree over 0/1 membership of trial indices: how
 * many members lie at or before an index, and the k-th member, both in
 * O(log n). TPE's incremental history keeps one per (group, kind of trial
 * set) so the p-th observation of a group in trial order is found without
 * walking the history.
 */
export class Fenwick {
  private tree: Int32Array;
  private cap: number;
  private total = 0;

  /** A tree over indices [0, size) with members where has(i). O(size). */
  constructor(size: number, has: (i: number) => boolean) {
    this.cap = 1;
    while (this.cap < Math.max(1, size)) this.cap *= 2;
    this.tree = new Int32Array(this.cap + 1);
    this.build(size, has);
  }

  private build(size: number, has: (i: number) => boolean): void {
    const t = this.tree;
    t.fill(0);
    let total = 0;
    for (let i = 0; i < size; i++) {
      if (!has(i)) continue;
      t[i + 1] += 1;
      total++;
    }
    // Linear-time construction: push each node's sum to its parent.
    for (let j = 1; j <= this.cap; j++) {
      const parent = j + (j & -j);
      if (parent <= this.cap) t[parent] += t[j];
    }
    this.total = total;
  }

  /** Number of members. */
  get count(): number {
    return this.total;
  }

  /** Whether index i can be stored without growing. */
  fits(i: number): boolean {
    return i < this.cap;
  }

  /** Rebuilds for a larger index range (capacity doubles). */
  grow(size: number, has: (i: number) => boolean): void {
    while (this.cap < size) this.cap *= 2;
    this.tree = new Int32Array(this.cap + 1);
    this.build(size, has);
  }

  /** Adds delta (+1 or -1) at index i (i < capacity). */
  add(i: number, delta: number): void {
    const t = this.tree;
    for (let j = i + 1; j <= this.cap; j += j & -j) t[j] += delta;
    this.total += delta;
  }

  /** Members at indices <= i. */
  countUpTo(i: number): number {
    let s = 0;
    for (let j = Math.min(i + 1, this.cap); j > 0; j -= j & -j) s += this.tree[j];
    return s;
  }

  /** Index of the k-th member (0-based, k < count). */
  kth(k: number): number {
    let pos = 0;
    let rem = k + 1;
    for (let step = this.cap; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= this.cap && this.tree[next] < rem) {
        pos = next;
        rem -= this.tree[next];
      }
    }
    return pos;
  }
}
