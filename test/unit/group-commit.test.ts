/**
 * Group commit: batching of concurrent writes, ordering, barriers and
 * failures, against a fake write function whose batches resolve on command.
 */
import { describe, expect, it } from "vitest";

import { GroupCommitter, type BatchOp, type CommitStats, type WriteBatch } from "../../server/store/group-commit.js";

interface Call {
  ops: BatchOp[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

function fakeWriter(): { calls: Call[]; write: WriteBatch } {
  const calls: Call[] = [];
  const write: WriteBatch = (ops) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ ops: [...ops], resolve, reject });
    });
  return { calls, write };
}

const put = (key: string): BatchOp => ({ type: "put", key, value: `v-${key}` });
const keys = (c: Call | undefined): string[] => (c ? c.ops.map((o) => o.key) : []);
/** Lets every pending promise callback run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Records when each promise settles. */
function track(log: string[], name: string, p: Promise<void>): Promise<void> {
  return p.then(
    () => void log.push(`${name}:ok`),
    (e: unknown) => void log.push(`${name}:err:${(e as Error).message}`),
  );
}

describe("GroupCommitter", () => {
  it("the first submit is written at once; submits during the write share the next batch", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const log: string[] = [];
    const a = track(log, "a", gc.submit([put("a")]));
    expect(calls.map(keys)).toEqual([["a"]]);
    const b = track(log, "b", gc.submit([put("b1"), put("b2")]));
    const c = track(log, "c", gc.submit([put("c")]));
    await settle();
    expect(calls.length).toBe(1); // still only the first batch in flight
    expect(log).toEqual([]);

    calls[0]!.resolve();
    await settle();
    expect(log).toEqual(["a:ok"]);
    expect(calls.map(keys)).toEqual([["a"], ["b1", "b2", "c"]]);
    expect(calls[1]!.ops).toEqual([put("b1"), put("b2"), put("c")]);

    calls[1]!.resolve();
    await Promise.all([a, b, c]);
    expect(log).toEqual(["a:ok", "b:ok", "c:ok"]);
    await settle();
    expect(calls.length).toBe(2);
  });

  it("keeps batches strictly sequential and in submission order", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const log: string[] = [];
    const all: Promise<void>[] = [];
    all.push(track(log, "1", gc.submit([put("1")])));
    all.push(track(log, "2", gc.submit([put("2")])));
    calls[0]!.resolve();
    await settle();
    all.push(track(log, "3", gc.submit([put("3")])));
    all.push(track(log, "4", gc.submit([put("4")])));
    // batch [2] is in flight; 3 and 4 wait even though they arrived later
    expect(calls.map(keys)).toEqual([["1"], ["2"]]);
    calls[1]!.resolve();
    await settle();
    expect(calls.map(keys)).toEqual([["1"], ["2"], ["3", "4"]]);
    calls[2]!.resolve();
    await Promise.all(all);
    expect(log).toEqual(["1:ok", "2:ok", "3:ok", "4:ok"]);
  });

  it("after going idle, the next submit starts a new batch at once", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const p = gc.submit([put("a")]);
    calls[0]!.resolve();
    await p;
    await settle();
    const q = gc.submit([put("b")]);
    expect(calls.map(keys)).toEqual([["a"], ["b"]]);
    calls[1]!.resolve();
    await q;
  });

  it("barrier resolves at once when idle, without a write", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    let done = false;
    void gc.barrier().then(() => (done = true));
    await settle();
    expect(done).toBe(true);
    expect(calls).toEqual([]);
  });

  it("barrier resolves only after every earlier write", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const log: string[] = [];
    const a = track(log, "a", gc.submit([put("a")]));
    const b = track(log, "b", gc.submit([put("b")]));
    const bar = track(log, "barrier", gc.barrier());
    calls[0]!.resolve();
    await settle();
    expect(log).toEqual(["a:ok"]);
    // the barrier adds no op to the batch
    expect(calls.map(keys)).toEqual([["a"], ["b"]]);
    calls[1]!.resolve();
    await Promise.all([a, b, bar]);
    expect(log).toEqual(["a:ok", "b:ok", "barrier:ok"]);
  });

  it("barrier behind an in-flight write waits for it and writes nothing itself", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const log: string[] = [];
    const a = track(log, "a", gc.submit([put("a")]));
    const bar = track(log, "barrier", gc.barrier());
    await settle();
    expect(log).toEqual([]);
    calls[0]!.resolve();
    await Promise.all([a, bar]);
    expect(log).toEqual(["a:ok", "barrier:ok"]);
    await settle();
    expect(calls.length).toBe(1);
  });

  it("a failed write rejects exactly its batch's waiters; the next batch still runs", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const log: string[] = [];
    const a = track(log, "a", gc.submit([put("a")]));
    calls[0]!.resolve();
    await a;
    const b = track(log, "b", gc.submit([put("b")]));
    const c = track(log, "c", gc.submit([put("c")]));
    const d = track(log, "d", gc.submit([put("d")]));
    calls[1]!.reject(new Error("disk full"));
    await settle();
    expect(log).toEqual(["a:ok", "b:err:disk full"]);
    expect(calls.map(keys)).toEqual([["a"], ["b"], ["c", "d"]]);
    const e = track(log, "e", gc.submit([put("e")]));
    calls[2]!.reject(new Error("io"));
    await settle();
    expect(log).toEqual(["a:ok", "b:err:disk full", "c:err:io", "d:err:io"]);
    expect(calls.map(keys)).toEqual([["a"], ["b"], ["c", "d"], ["e"]]);
    calls[3]!.resolve();
    await Promise.all([b, c, d, e]);
    expect(log).toEqual(["a:ok", "b:err:disk full", "c:err:io", "d:err:io", "e:ok"]);
  });

  it("the rejection is the write's own error object", async () => {
    const { calls, write } = fakeWriter();
    const gc = new GroupCommitter(write);
    const p = gc.submit([put("a")]);
    const err = new Error("boom");
    calls[0]!.reject(err);
    await expect(p).rejects.toBe(err);
  });

  it("onCommit reports each successful batch's size and duration", async () => {
    const { calls, write } = fakeWriter();
    const stats: CommitStats[] = [];
    const gc = new GroupCommitter(write, (s) => stats.push(s));
    const a = gc.submit([put("a")]);
    const b = gc.submit([put("b1"), put("b2")]);
    const c = gc.submit([put("c")]);
    await new Promise((r) => setTimeout(r, 30));
    calls[0]!.resolve();
    await a;
    expect(stats.map((s) => s.batchSize)).toEqual([1]);
    expect(stats[0]!.durationMs).toBeGreaterThanOrEqual(20);
    await settle();
    calls[1]!.reject(new Error("x"));
    await Promise.allSettled([b, c]);
    expect(stats.map((s) => s.batchSize)).toEqual([1]); // a failed batch reports nothing
    const d = gc.submit([put("d1"), put("d2"), put("d3")]);
    await settle();
    calls[2]!.resolve();
    await d;
    expect(stats.map((s) => s.batchSize)).toEqual([1, 3]);
    expect(stats.every((s) => typeof s.durationMs === "number" && s.durationMs >= 0)).toBe(true);
  });

  it("many concurrent submits cost few writes", async () => {
    let writes = 0;
    const written: string[] = [];
    const gc = new GroupCommitter(async (ops) => {
      writes++;
      await new Promise((r) => setTimeout(r, 5));
      for (const o of ops) written.push(o.key);
    });
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => gc.submit([put(String(i))])));
    expect(written).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(writes).toBe(2);
  });
});
