/**
 * Resource faults on the data directory, with real mounts (root only; skipped with the reason otherwise):
 * - a read-only data directory: start-up refuses with a clear message;
 * - a full filesystem while the daemon runs: writes are refused with UNAVAILABLE, nothing acknowledged is lost,
 *   and once space is freed the daemon's probe notices, it reloads and accepts writes again.
 * A data directory locked by another daemon is covered by startup.test.ts.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { connectStress, grpcCode, listAllTrials } from "../../bench/stress/client.js";
import { startStressDaemon, type StressDaemon } from "../../bench/stress/daemon.js";
import { removeDir, tempDir } from "../helpers/daemon.js";
import { report, study } from "../helpers/specs.js";

const mounts: string[] = [];
const dirs: string[] = [];

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: "pipe" });
}

/** A tmpfs of `size` at a new directory, or the reason it cannot be mounted. */
function tmpfs(size: string): { dir: string } | { skip: string } {
  const dir = tempDir("hpod-fault-");
  dirs.push(dir);
  try {
    sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  } catch (e) {
    return { skip: `mount -t tmpfs not permitted here: ${(e as Error).message.split("\n")[0]}` };
  }
  mounts.push(dir);
  return { dir };
}

afterAll(() => {
  for (const m of mounts.reverse()) {
    try {
      sh("umount", ["-l", m]);
    } catch {
      /* already gone */
    }
  }
  dirs.forEach(removeDir);
});

const canMount = ((): string | undefined => {
  if (process.getuid?.() !== 0) return "not root: cannot mount a tmpfs";
  const t = tmpfs("1m");
  return "skip" in t ? t.skip : undefined;
})();

describe.skipIf(canMount !== undefined)(`resource faults${canMount ? ` (skipped: ${canMount})` : ""}`, () => {
  it("refuses to start on a read-only data directory, with a clear message", async () => {
    const t = tmpfs("4m");
    if ("skip" in t) return;
    // An existing store (made by a daemon, then stopped) on a filesystem remounted read-only.
    const dataDir = `${t.dir}/data`;
    const d = await startStressDaemon({ dataDir });
    const c = connectStress(d.address);
    await c.createStudy({ study: study("ro"), loadIfExists: false });
    c.close();
    expect(await d.stop()).toBe(0);
    sh("mount", ["-o", "remount,ro", t.dir]);
    const err = await startStressDaemon({ dataDir, timeoutMs: 20_000 }).then(
      async (up) => {
        await up.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err, "the daemon started on a read-only data directory").toBeInstanceOf(Error);
    const msg = err!.message;
    console.log(`read-only start-up refusal:\n${msg.split("\n").slice(0, 6).join("\n")}`);
    expect(msg).toMatch(/exited \(\d+\)/);
    expect(msg).not.toMatch(/exited \(0\)/);
    // Clear: names the directory or the cause.
    expect(msg).toMatch(/read-only|EROFS|Read-only|permission|data.dir|data directory/i);
    // A fresh, empty directory on a read-only filesystem is refused too.
    const err2 = await startStressDaemon({ dataDir: `${t.dir}/fresh`, timeoutMs: 20_000 }).then(
      async (up) => {
        await up.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err2).toBeInstanceOf(Error);
    console.log(`read-only fresh dir refusal:\n${err2!.message.split("\n").slice(0, 6).join("\n")}`);
  });

  it("refuses writes with UNAVAILABLE on a full disk, loses nothing, and recovers once space is freed", { timeout: 120_000 }, async () => {
    const t = tmpfs("16m");
    if ("skip" in t) return;
    const dataDir = `${t.dir}/data`;
    mkdirSync(dataDir);
    let d: StressDaemon = await startStressDaemon({ dataDir, args: ["--log-level", "info"] });
    let c = connectStress(d.address);
    await c.createStudy({ study: study("full"), loadIfExists: false });
    const acked: Array<{ trial: number; step: number }> = [];
    const reportSome = async (n: number): Promise<{ ok: number; codes: number[] }> => {
      const codes: number[] = [];
      let ok = 0;
      for (let i = 0; i < n; i++) {
        try {
          const s = await c.suggest({ study: "full", count: 1, workerId: "" }, 10_000);
          const tr = s.trials[0];
          if (!tr) continue;
          for (let step = 0; step < 3; step++) {
            await c.report(report("full", tr.id, [tr.id + step / 10], { step }), 10_000);
            acked.push({ trial: tr.id, step });
            ok++;
          }
        } catch (e) {
          codes.push(grpcCode(e) ?? -1);
        }
      }
      return { ok, codes };
    };
    const first = await reportSome(10);
    expect(first.codes).toEqual([]);
    // Fill the filesystem.
    const filler = `${t.dir}/filler`;
    const fd = openSync(filler, "w");
    const chunk = Buffer.alloc(64 * 1024, 7);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
    } finally {
      closeSync(fd);
    }
    // Writes now fail; once one failed, every write is refused with UNAVAILABLE until the disk recovers.
    const during = await reportSome(40);
    console.log(`full disk: ${during.ok} reports acknowledged after filling (before LevelDB's buffers ran out), refusals: ${JSON.stringify(countCodes(during.codes))}`);
    expect(during.codes.length).toBeGreaterThan(0);
    expect(new Set(during.codes)).toEqual(new Set([grpc.status.UNAVAILABLE]));
    expect(d.alive()).toBe(true);
    // Reads still work while degraded.
    expect((await c.getStudy({ name: "full" })).study?.name).toBe("full");
    const refused = await c.createStudy({ study: study("while-full"), loadIfExists: false }).then(
      () => undefined,
      (e: unknown) => grpcCode(e),
    );
    expect(refused).toBe(grpc.status.UNAVAILABLE);
    // Free the space: the probe (every second) sees it, the daemon reloads and takes writes again.
    rmSync(filler);
    const t0 = Date.now();
    let recovered = false;
    while (Date.now() - t0 < 20_000) {
      try {
        await c.createStudy({ study: study("after-full"), loadIfExists: true }, 5_000);
        recovered = true;
        break;
      } catch (e) {
        expect(grpcCode(e)).toBe(grpc.status.UNAVAILABLE);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    console.log(`recovered after freeing space: ${recovered} (${Date.now() - t0} ms)`);
    expect(recovered).toBe(true);
    const beforeRecovery = acked.length;
    const after = await reportSome(5);
    expect(after.codes).toEqual([]);
    // Nothing acknowledged is lost: now, and after a restart.
    const lostOf = async (which: Array<{ trial: number; step: number }>): Promise<Array<{ trial: number; step: number }>> => {
      const trials = await listAllTrials(c, "full");
      const ids = trials.map((x) => x.id);
      expect(new Set(ids).size).toBe(ids.length);
      const byId = new Map(trials.map((x) => [x.id, x]));
      return which.filter((a) => !byId.get(a.trial)?.intermediate.some((m) => m.step === a.step));
    };
    expect(await lostOf(acked)).toEqual([]);
    c.close();
    expect(await d.stop()).toBe(0);
    d = await startStressDaemon({ dataDir });
    c = connectStress(d.address);
    // What was acknowledged before and while the disk was full survives the restart.
    expect(await lostOf(acked.slice(0, beforeRecovery))).toEqual([]);
    // What was acknowledged after the recovery: see the BUG test below.
    lostAfterRecovery = await lostOf(acked.slice(beforeRecovery));
    afterFullStudyPresent = await c.getStudy({ name: "after-full" }).then(
      () => true,
      () => false,
    );
    console.log(`after restart: ${lostAfterRecovery.length} of ${acked.length - beforeRecovery} reports acknowledged after the recovery are gone; study created after the recovery present: ${afterFullStudyPresent}`);
    c.close();
    await d.stop();
  });

  // Found by this test: the failed write left a torn record in LevelDB's write-ahead log, and the writes
  // acknowledged after recovery were dropped with it on the next open. The store now reopens the database
  // (recovering the log up to the tear and starting a new one) before it leaves degraded mode.
  it("writes acknowledged after recovering from a full disk survive a restart", () => {
    expect(lostAfterRecovery).toBeDefined();
    expect(lostAfterRecovery).toEqual([]);
    expect(afterFullStudyPresent).toBe(true);
  });
});

let lostAfterRecovery: Array<{ trial: number; step: number }> | undefined;
let afterFullStudyPresent = false;

function countCodes(codes: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of codes) out[grpc.status[c] ?? String(c)] = (out[grpc.status[c] ?? String(c)] ?? 0) + 1;
  return out;
}
