/**
 * Group commit: every write waits for an fsync'ed LevelDB batch, but writes
 * that arrive while a batch is being synced share the next batch, so many
 * concurrent acknowledgements cost one sync. Batches are written strictly in
 * order, so a durable write implies every earlier write is durable too.
 */
export interface BatchOp {
  type: "put" | "del";
  key: string;
  value?: string;
}

export type WriteBatch = (ops: BatchOp[]) => Promise<void>;

export interface CommitStats {
  batchSize: number;
  durationMs: number;
}

interface Pending {
  ops: BatchOp[];
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

export class GroupCommitter {
  private pending: Pending | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly write: WriteBatch;
  private readonly onCommit: ((s: CommitStats) => void) | undefined;

  constructor(write: WriteBatch, onCommit?: (s: CommitStats) => void) {
    this.write = write;
    this.onCommit = onCommit;
  }

  /** Resolves once `ops` (and everything submitted before) is durable. */
  submit(ops: BatchOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.pending) this.pending = { ops: [], waiters: [] };
      for (const op of ops) this.pending.ops.push(op);
      this.pending.waiters.push({ resolve, reject });
      if (!this.inFlight) this.flushLoop();
    });
  }

  /** Resolves once everything submitted so far is durable. */
  barrier(): Promise<void> {
    if (!this.pending && !this.inFlight) return Promise.resolve();
    return this.submit([]);
  }

  private flushLoop(): void {
    const batch = this.pending;
    if (!batch) {
      this.inFlight = undefined;
      return;
    }
    this.pending = undefined;
    const started = performance.now();
    const run = batch.ops.length > 0 ? this.write(batch.ops) : Promise.resolve();
    this.inFlight = run.then(
      () => {
        if (batch.ops.length > 0) this.onCommit?.({ batchSize: batch.ops.length, durationMs: performance.now() - started });
        for (const w of batch.waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch.waiters) w.reject(err);
      },
    ).finally(() => this.flushLoop());
  }
}
