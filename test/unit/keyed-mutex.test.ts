/**
 * Per-key serialisation of async tasks.
 */
import { describe, expect, it } from "vitest";

import { KeyedMutex } from "../../server/keyed-mutex.js";

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("KeyedMutex", () => {
  it("runs tasks of one key one at a time, in arrival order", async () => {
    const mu = new KeyedMutex();
    const log: string[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const ps = gates.map((g, i) =>
      mu.run("k", async () => {
        log.push(`start ${i}`);
        await g.promise;
        log.push(`end ${i}`);
        return i;
      }),
    );
    await settle();
    expect(log).toEqual(["start 0"]);
    gates[2]!.resolve(); // a later task's gate opening early changes nothing
    await settle();
    expect(log).toEqual(["start 0"]);
    gates[0]!.resolve();
    await settle();
    expect(log).toEqual(["start 0", "end 0", "start 1"]);
    gates[1]!.resolve();
    expect(await Promise.all(ps)).toEqual([0, 1, 2]);
    expect(log).toEqual(["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]);
  });

  it("never overlaps tasks of the same key (random delays)", async () => {
    const mu = new KeyedMutex();
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        mu.run("same", async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, (i * 7) % 5));
          order.push(i);
          active--;
        }),
      ),
    );
    expect(maxActive).toBe(1);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("tasks of different keys overlap", async () => {
    const mu = new KeyedMutex();
    const gate = deferred();
    const log: string[] = [];
    const a = mu.run("a", async () => {
      log.push("a start");
      await gate.promise;
      log.push("a end");
    });
    const b = mu.run("b", async () => {
      log.push("b start");
      log.push("b end");
      return "b";
    });
    expect(await b).toBe("b");
    expect(log).toEqual(["a start", "b start", "b end"]);
    gate.resolve();
    await a;
    expect(log).toEqual(["a start", "b start", "b end", "a end"]);
  });

  it("a rejected task does not block the next one, and keeps its error", async () => {
    const mu = new KeyedMutex();
    const err = new Error("task failed");
    const p1 = mu.run("k", async () => {
      await settle();
      throw err;
    });
    const p2 = mu.run("k", () => {
      throw new Error("sync throw");
    });
    const p3 = mu.run("k", () => 3);
    await expect(p1).rejects.toBe(err);
    await expect(p2).rejects.toThrow("sync throw");
    await expect(p3).resolves.toBe(3);
  });

  it("returns values of sync and async tasks", async () => {
    const mu = new KeyedMutex();
    await expect(mu.run("k", () => 42)).resolves.toBe(42);
    await expect(mu.run("k", async () => ({ ok: true }))).resolves.toEqual({ ok: true });
    await expect(mu.run("other", () => undefined)).resolves.toBeUndefined();
  });

  it("does not run a task synchronously, even when the key is free", async () => {
    const mu = new KeyedMutex();
    let ran = false;
    const p = mu.run("k", () => {
      ran = true;
    });
    expect(ran).toBe(false);
    await p;
    expect(ran).toBe(true);
  });

  it("forgets idle keys", async () => {
    const mu = new KeyedMutex();
    await Promise.all([mu.run("a", () => 1), mu.run("b", () => 2), mu.run("a", () => 3)]);
    await settle();
    expect((mu as unknown as { tails: Map<string, unknown> }).tails.size).toBe(0);
  });
});
