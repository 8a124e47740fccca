/**
 * The durable store: a LevelDB directory with a schema version, loaded whole
 * at start-up (the daemon serves from memory) and written through a group
 * committer with `sync: true`.
 */
import { mkdirSync } from "node:fs";
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
  onCommit?: (s: CommitStats) => void;
}

export class Store {
  private readonly db: Level<string, string>;
  private readonly committer: GroupCommitter;
  readonly dir: string;

  private constructor(dir: string, db: Level<string, string>, opts: StoreOptions) {
    this.dir = dir;
    this.db = db;
    this.committer = new GroupCommitter((ops) => this.db.batch(toLevelOps(ops), { sync: true }), opts.onCommit);
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
    try {
      await this.committer.submit(ops);
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

  /** Marks the study deleted durably, then removes its keys. */
  async deleteStudy(study: StudyRecord): Promise<void> {
    await this.commit([putStudy({ ...study, deleting: true })]);
    await this.finishDelete(study.name);
  }

  private async finishDelete(name: string): Promise<void> {
    await this.db.clear(range("m", name));
    await this.db.clear(range("t", name));
    await this.commit([{ type: "del", key: studyKey(name) }]);
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
