/**
 * The durable store: a LevelDB directory with a schema version, loaded whole
 * at start-up (the daemon serves from memory) and written through a group
 * committer with `sync: true`.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Level } from "level";
import { Code, HpodError } from "../core/errors.js";
import type { Measurement, Study, Trial } from "../core/model.js";
import {
  decodeMeasurement,
  decodeStudy,
  decodeTrial,
  encodeMeasurement,
  encodeStudy,
  encodeTrial,
  type StudyRecord,
} from "./codec.js";
import { GroupCommitter, type BatchOp, type CommitStats } from "./group-commit.js";
import { measurementKey, parseKey, PROBE_KEY, range, SCHEMA_VERSION_KEY, studyKey, trialKey } from "./keys.js";

/** Bumped whenever the key layout or a record changes incompatibly. */
export const SCHEMA_VERSION = 1;

export class StoreOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreOpenError";
  }
}

export interface LoadedStudy {
  study: Study;
  trials: Trial[];
}

export interface StoreOptions {
  /** After each synced batch: its size and how long the write + fsync took. */
  onCommit?: (s: CommitStats) => void;
  /** After each successful `commit`: seconds from submission to durable (queueing included). */
  onWrite?: (seconds: number) => void;
}

export interface BackupResult {
  destination: string;
  keys: number;
  bytes: number;
  durationMs: number;
}

/** A write made while a backup copies its snapshot, replayed onto the copy afterwards. */
type TailOp = BatchOp | { type: "clear"; gte: string; lt: string };

export class Store {
  /** Replaced by `reopen` after a failed write (see there). */
  private db: Level<string, string>;
  private readonly committer: GroupCommitter;
  private readonly onWrite: ((seconds: number) => void) | undefined;
  readonly dir: string;
  /** While a backup runs: every write since its snapshot, in order. */
  private tail: TailOp[] | undefined;
  /** While a backup finishes: batches wait for this before writing. */
  private gate: Promise<void> | undefined;
  /** The batch being written, if any. */
  private writing: Promise<void> | undefined;
  private backingUp = false;

  private constructor(dir: string, db: Level<string, string>, opts: StoreOptions) {
    this.dir = dir;
    this.db = db;
    this.onWrite = opts.onWrite;
    this.committer = new GroupCommitter((ops) => this.writeBatch(ops), opts.onCommit);
  }

  private async writeBatch(ops: BatchOp[]): Promise<void> {
    while (this.gate) await this.gate;
    const done = (async () => {
      await this.db.batch(toLevelOps(ops), { sync: true });
      this.tail?.push(...ops);
    })();
    this.writing = done.catch(() => undefined);
    await done;
  }

  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new StoreOpenError(`cannot create data directory ${dir}: ${(e as Error).message}`);
    }
    const db = new Level<string, string>(dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === "LEVEL_LOCKED") {
        throw new StoreOpenError(`data directory ${dir} is locked by another process (another hpod is running on it)`);
      }
      throw new StoreOpenError(`cannot open data directory ${dir}: ${cause?.message ?? (e as Error).message}`);
    }
    const version = await db.get(SCHEMA_VERSION_KEY);
    if (version === undefined) {
      const anyKey = await db.keys({ limit: 1 }).all();
      if (anyKey.length > 0) {
        await db.close();
        throw new StoreOpenError(`data directory ${dir} holds a LevelDB database that is not an hpod store (no schema version)`);
      }
      await db.put(SCHEMA_VERSION_KEY, String(SCHEMA_VERSION), { sync: true });
    } else if (Number(version) !== SCHEMA_VERSION) {
      await db.close();
      throw new StoreOpenError(
        `data directory ${dir} was written with store schema version ${version}; this hpod reads version ${SCHEMA_VERSION}` +
          (Number(version) > SCHEMA_VERSION ? " (upgrade hpod)" : ""),
      );
    }
    return new Store(dir, db, opts);
  }

  /** Everything in the store; finishes interrupted deletions first. */
  async loadAll(): Promise<LoadedStudy[]> {
    const studies = new Map<string, LoadedStudy>();
    const deleting: string[] = [];
    for await (const [key, value] of this.db.iterator(range("s"))) {
      const rec = decodeStudy(value);
      if (rec.deleting) {
        deleting.push(rec.name);
        continue;
      }
      const { deleting: _d, ...study } = rec;
      studies.set(rec.name, { study: { ...study, nextTrialId: 0 }, trials: [] });
      void key;
    }
    for (const name of deleting) await this.finishDelete(name);
    for await (const [key, value] of this.db.iterator(range("t"))) {
      const { study } = parseKey(key);
      const loaded = studies.get(study);
      if (!loaded) continue;
      const t = decodeTrial(value);
      loaded.trials[t.id] = { ...t, intermediate: [] };
    }
    for await (const [key, value] of this.db.iterator(range("m"))) {
      const { study, id } = parseKey(key);
      const trial = id === undefined ? undefined : studies.get(study)?.trials[id];
      if (trial) trial.intermediate.push(decodeMeasurement(value));
    }
    for (const loaded of studies.values()) {
      loaded.study.nextTrialId = loaded.trials.length;
    }
    return [...studies.values()];
  }

  /** Durably apply `ops`; rejects with UNAVAILABLE when the disk refuses. */
  async commit(ops: BatchOp[]): Promise<void> {
    const started = this.onWrite ? performance.now() : 0;
    try {
      await this.committer.submit(ops);
      this.onWrite?.((performance.now() - started) / 1000);
    } catch (e) {
      throw new HpodError(Code.UNAVAILABLE, `store write failed: ${(e as Error).message}`);
    }
  }

  /** Resolves when every write submitted so far is durable. */
  async barrier(): Promise<void> {
    try {
      await this.committer.barrier();
    } catch (e) {
      throw new HpodError(Code.UNAVAILABLE, `store write failed: ${(e as Error).message}`);
    }
  }

  /** A synced write that proves the disk accepts writes again. */
  async probe(): Promise<void> {
    await this.db.put(PROBE_KEY, String(Date.now()), { sync: true });
  }

  /**
   * Closes and reopens the database. A write that failed half-way (disk full)
   * can leave a torn record in LevelDB's write-ahead log, and on the next
   * open LevelDB drops everything appended after it: writes acknowledged
   * after the failure would be lost. Reopening recovers the log up to the tear
   * and starts a fresh one, so later writes land after no tear.
   */
  async reopen(): Promise<void> {
    await this.db.close();
    const db = new Level<string, string>(this.dir, { keyEncoding: "utf8", valueEncoding: "utf8" });
    await db.open();
    this.db = db;
  }

  /** Marks the study deleted durably, then removes its keys. */
  async deleteStudy(study: StudyRecord): Promise<void> {
    await this.commit([putStudy({ ...study, deleting: true })]);
    await this.finishDelete(study.name);
  }

  private async finishDelete(name: string): Promise<void> {
    for (const prefix of ["m", "t"] as const) {
      const r = range(prefix, name);
      await this.db.clear(r);
      this.tail?.push({ type: "clear", gte: r.gte, lt: r.lt });
    }
    await this.commit([{ type: "del", key: studyKey(name) }]);
  }

  /**
   * Online backup: copies a LevelDB snapshot (an iterator reads one) to a new
   * store at `destination` while writes go on, replays onto the copy the
   * writes made since the snapshot, and - holding new batches back for that
   * last step only - returns when the copy holds every write acknowledged so
   * far. The caller must call `release` once it has answered, so that no
   * write is acknowledged before the backup's own answer is on its way.
   * The copy is written to a temporary sibling directory and renamed into
   * place, so a failed or interrupted backup never leaves a plausible copy.
   */
  async backup(destination: string): Promise<{ result: BackupResult; release: () => void }> {
    if (this.backingUp) throw new HpodError(Code.FAILED_PRECONDITION, "a backup is already running");
    if (existsSync(destination)) throw new HpodError(Code.ALREADY_EXISTS, `backup destination ${destination} already exists`, "destination");
    if (!existsSync(dirname(destination))) {
      throw new HpodError(Code.FAILED_PRECONDITION, `the parent directory of ${destination} does not exist`, "destination");
    }
    this.backingUp = true;
    const started = performance.now();
    const temp = join(dirname(destination), `.${basename(destination)}.partial-${process.pid}-${Date.now()}`);
    let copy: Level<string, string> | undefined;
    let openGate: (() => void) | undefined;
    try {
      copy = new Level<string, string>(temp, { keyEncoding: "utf8", valueEncoding: "utf8" });
      await copy.open();
      // Recording starts before the snapshot, so the tail holds every write
      // the snapshot may lack (replaying one it has is harmless: same order).
      this.tail = [];
      let keys = 0;
      let bytes = 0;
      let chunk: Array<{ type: "put"; key: string; value: string }> = [];
      for await (const [key, value] of this.db.iterator()) {
        chunk.push({ type: "put", key, value });
        keys++;
        bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
        if (chunk.length >= 1000) {
          await copy.batch(chunk);
          chunk = [];
        }
      }
      if (chunk.length > 0) await copy.batch(chunk);
      // Catch up without stopping writes, then hold new batches for the last bit.
      await this.replayTail(copy);
      this.gate = new Promise<void>((resolve) => (openGate = resolve));
      await this.writing;
      await this.replayTail(copy);
      this.tail = undefined;
      await copy.put(PROBE_KEY, String(Date.now()), { sync: true });
      await copy.close();
      renameSync(temp, destination);
      const result = { destination, keys, bytes, durationMs: performance.now() - started };
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.gate = undefined;
        this.backingUp = false;
        openGate?.();
      };
      return { result, release };
    } catch (e) {
      this.tail = undefined;
      this.gate = undefined;
      this.backingUp = false;
      openGate?.();
      await copy?.close().catch(() => undefined);
      rmSync(temp, { recursive: true, force: true });
      if (e instanceof HpodError) throw e;
      throw new HpodError(Code.FAILED_PRECONDITION, `backup to ${destination} failed: ${(e as Error).message}`, "destination");
    }
  }

  private async replayTail(copy: Level<string, string>): Promise<void> {
    while (this.tail && this.tail.length > 0) {
      const ops = this.tail.splice(0, this.tail.length);
      let batch: BatchOp[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length > 0) await copy.batch(toLevelOps(batch));
        batch = [];
      };
      for (const op of ops) {
        if (op.type === "clear") {
          await flush();
          await copy.clear({ gte: op.gte, lt: op.lt });
        } else {
          batch.push(op);
        }
      }
      await flush();
    }
  }

  async close(): Promise<void> {
    await this.committer.barrier().catch(() => undefined);
    await this.db.close();
  }
}

export const putStudy = (s: StudyRecord): BatchOp => ({ type: "put", key: studyKey(s.name), value: encodeStudy(s) });
export const putTrial = (t: Trial): BatchOp => ({ type: "put", key: trialKey(t.study, t.id), value: encodeTrial(t) });
export const putMeasurement = (study: string, id: number, m: Measurement): BatchOp => ({
  type: "put",
  key: measurementKey(study, id, m.step ?? 0),
  value: encodeMeasurement(m),
});

function toLevelOps(ops: BatchOp[]): Array<{ type: "put"; key: string; value: string } | { type: "del"; key: string }> {
  return ops.map((op) => (op.type === "put" ? { type: "put", key: op.key, value: op.value ?? "" } : { type: "del", key: op.key }));
}
