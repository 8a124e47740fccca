/**
 * Online backup while workers write: AdminService.Backup (and `hpo admin
 * backup`) copies the store; a second daemon serves the copy (`hpod serve
 * --data-dir <backup>`, the restore), and every result acknowledged before
 * the backup call returned is in it.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AdminServiceClient, type BackupResponse } from "../../client/gen/hpod/v1/admin_service.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { CLI_MAIN, removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { connect, type TestClient } from "../helpers/grpc-client.js";
import { report, study } from "../helpers/specs.js";

function backup(address: string, destination: string): Promise<BackupResponse> {
  const c = new AdminServiceClient(address, grpc.credentials.createInsecure());
  return new Promise<BackupResponse>((res, rej) =>
    c.backup({ destination }, (e, r) => {
      c.close();
      if (e) rej(e);
      else res(r);
    }),
  );
}

async function code(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
    return grpc.status.OK;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
}

/** Every trial of a study, by id. */
async function trialsOf(c: TestClient, name: string) {
  const out = new Map<number, { state: TrialState; value: number | undefined; steps: number }>();
  let pageToken = "";
  do {
    const page = await c.listTrials({ study: name, pageSize: 1000, pageToken, states: [], omitIntermediate: false });
    for (const t of page.trials) out.set(t.id, { state: t.state, value: t.finalMeasurement?.values[0], steps: t.intermediate.length });
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

describe("online backup", () => {
  let d: Daemon;
  let c: TestClient;
  const dir = tempDir("hpod-backup-");
  const restored: Daemon[] = [];

  beforeAll(async () => {
    d = await startDaemon({ args: ["--metrics-listen", ""] });
    c = connect(d.address);
    await c.createStudy({ study: study("bk"), loadIfExists: false });
    await c.createStudy({ study: study("other"), loadIfExists: false });
  });
  afterAll(async () => {
    c?.close();
    for (const r of restored) {
      await r.stop();
    }
    await d?.stop();
    if (d) removeDir(d.dataDir);
    removeDir(dir);
  });

  it("holds every result acknowledged before Backup returned, while workers keep writing", async () => {
    /** trial id -> final value, in acknowledgement order. */
    const acked = new Map<number, number>();
    const steps = new Map<number, number>();
    let stop = false;
    const worker = async (w: string): Promise<void> => {
      const wc = connect(d.address);
      try {
        while (!stop) {
          const { trials } = await wc.suggest({ study: "bk", count: 1, workerId: w });
          const t = trials[0];
          if (!t) continue;
          await wc.report(report("bk", t.id, [t.id / 2], { step: 1, workerId: w }));
          steps.set(t.id, 1);
          const value = t.id * 1.5;
          await wc.report(report("bk", t.id, [value], { final: true, workerId: w }));
          acked.set(t.id, value);
        }
      } finally {
        wc.close();
      }
    };
    const workers = ["w1", "w2", "w3"].map((w) => worker(w));
    while (acked.size < 30) await new Promise((r) => setTimeout(r, 10));
    const dest = join(dir, "copy1");
    const res = await backup(d.address, dest);
    // Taken in the same tick as the answer: what the daemon had acknowledged by then.
    const before = new Map(acked);
    const stepsBefore = new Map(steps);
    while (acked.size < before.size + 20) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    await Promise.all(workers);

    expect(res.destination).toBe(dest);
    expect(res.keys).toBeGreaterThan(before.size);
    expect(res.bytes).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(["copy1"]); // no temporary directory left behind

    // Restore: a second daemon on the copy, while the first still runs.
    const r = await startDaemon({ dataDir: dest, args: ["--metrics-listen", ""] });
    restored.push(r);
    const rc = connect(r.address);
    try {
      const trials = await trialsOf(rc, "bk");
      for (const [id, value] of before) {
        expect(trials.get(id), `trial ${id}`).toMatchObject({ state: TrialState.TRIAL_STATE_COMPLETE, value });
      }
      for (const [id] of stepsBefore) expect(trials.get(id)?.steps, `trial ${id} intermediate`).toBe(1);
      // Nothing in the copy that the source never had, and the copy is a
      // prefix of the source's history: later trials are missing, not different.
      const source = await trialsOf(c, "bk");
      for (const [id, t] of trials) {
        const s = source.get(id)!;
        if (t.state === TrialState.TRIAL_STATE_COMPLETE) expect(s).toEqual(t);
      }
      expect((await rc.listStudies({ pageSize: 100, pageToken: "", namespace: "" })).studies.map((s) => s.name)).toEqual(["bk", "other"]);
      // The restored daemon takes writes.
      const { trials: more } = await rc.suggest({ study: "other", count: 1, workerId: "r" });
      expect(more).toHaveLength(1);
    } finally {
      rc.close();
    }
  });

  it("hpo admin backup --out DIR", async () => {
    const dest = join(dir, "copy-cli");
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI_MAIN, "--address", d.address, "--json", "admin", "backup", "--out", dest], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      p.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
      p.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
      p.once("exit", (code) => resolve({ code, stdout, stderr }));
    });
    expect(out.code, out.stderr).toBe(0);
    const json = JSON.parse(out.stdout) as { destination: string; keys: number };
    expect(json.destination).toBe(dest);
    expect(json.keys).toBeGreaterThan(0);
    expect(existsSync(join(dest, "CURRENT"))).toBe(true);
  });

  it("refuses a destination that exists, is relative or has no parent", async () => {
    mkdirSync(join(dir, "exists"));
    expect(await code(backup(d.address, join(dir, "exists")))).toBe(grpc.status.ALREADY_EXISTS);
    expect(await code(backup(d.address, "relative/path"))).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await code(backup(d.address, join(dir, "no", "parent")))).toBe(grpc.status.FAILED_PRECONDITION);
    expect(await code(backup(d.address, d.dataDir))).toBe(grpc.status.ALREADY_EXISTS);
  });
});
