/**
 * Structured logs of a real daemon: one JSON line per RPC at debug level with
 * method, code, duration and request id (the client's x-request-id when it
 * sends one, returned in the response either way); failed calls at warn; and
 * the human-readable text mode for terminals.
 */
import { spawn } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import { GetStudyRequest, HpodServiceClient } from "../../client/gen/hpod/v1/hpod_service.js";
import { DAEMON_MAIN, removeDir, startDaemon, tempDir } from "../helpers/daemon.js";

interface Rec {
  level: string;
  msg: string;
  requestId?: string;
  method?: string;
  code?: string;
  durationMs?: number;
  peer?: string;
}

function getStudy(c: HpodServiceClient, name: string, requestId?: string): Promise<{ code: grpc.status; requestId: string | undefined }> {
  const md = new grpc.Metadata();
  if (requestId) md.set("x-request-id", requestId);
  return new Promise((res) => {
    let fromHeaders: string | undefined;
    const call = c.getStudy(GetStudyRequest.fromPartial({ name }), md, (e) => {
      const trailer = e?.metadata?.get("x-request-id")[0];
      res({ code: e ? e.code : grpc.status.OK, requestId: fromHeaders ?? (typeof trailer === "string" ? trailer : undefined) });
    });
    call.on("metadata", (m: grpc.Metadata) => {
      const v = m.get("x-request-id")[0];
      if (typeof v === "string") fromHeaders = v;
    });
  });
}

describe("request logs", () => {
  it("one debug line per RPC, warn for failures, request ids both ways", async () => {
    const d = await startDaemon({ args: ["--log-level", "debug", "--metrics-listen", ""] });
    const c = new HpodServiceClient(d.address, grpc.credentials.createInsecure());
    try {
      const given = await getStudy(c, "nope", "my-trace-123");
      expect(given).toEqual({ code: grpc.status.NOT_FOUND, requestId: "my-trace-123" });
      const made = await getStudy(c, "nope");
      expect(made.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      // A request id that is not sane is replaced, not logged.
      const odd = await getStudy(c, "nope", "has spaces;" + "x".repeat(200));
      expect(odd.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      await new Promise((r) => setTimeout(r, 100));
      const recs = d.logs.map((l) => JSON.parse(l) as Rec);
      const mine = recs.find((r) => r.requestId === "my-trace-123");
      expect(mine).toMatchObject({ level: "warn", msg: "rpc failed", method: "/hpod.v1.HpodService/GetStudy", code: "NOT_FOUND" });
      expect(typeof mine!.durationMs).toBe("number");
      expect(mine!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(recs.some((r) => r.requestId === made.requestId)).toBe(true);
      // Successful calls log at debug.
      const health = new grpc.Client(d.address, grpc.credentials.createInsecure());
      await new Promise<void>((res, rej) =>
        health.makeUnaryRequest("/grpc.health.v1.Health/Check", (x: Buffer) => x, (b: Buffer) => b, Buffer.alloc(0), (e) => (e ? rej(e) : res())),
      );
      health.close();
      await new Promise((r) => setTimeout(r, 100));
      const ok = d.logs.map((l) => JSON.parse(l) as Rec).find((r) => r.method === "/grpc.health.v1.Health/Check");
      expect(ok).toMatchObject({ level: "debug", msg: "rpc", code: "OK" });
    } finally {
      c.close();
      await d.stop();
      removeDir(d.dataDir);
    }
  });

  it("at the default level (info) successful calls are not logged", async () => {
    const d = await startDaemon({ args: ["--metrics-listen", ""] });
    const c = new HpodServiceClient(d.address, grpc.credentials.createInsecure());
    try {
      await getStudy(c, "nope");
      await new Promise((r) => setTimeout(r, 100));
      const recs = d.logs.map((l) => JSON.parse(l) as Rec);
      expect(recs.filter((r) => r.msg === "rpc")).toEqual([]);
      expect(recs.filter((r) => r.msg === "rpc failed")).toHaveLength(1);
    } finally {
      c.close();
      await d.stop();
      removeDir(d.dataDir);
    }
  });

  it("text mode reads as one line per event", async () => {
    const dir = tempDir();
    const p = spawn(process.execPath, [DAEMON_MAIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--metrics-listen", "", "--log-format", "text"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    await new Promise<void>((res) =>
      p.stderr!.on("data", (b: Buffer) => {
        err += b.toString();
        if (/ INFO  listening /.test(err)) res();
      }),
    );
    p.kill("SIGTERM");
    await new Promise((res) => p.once("exit", res));
    removeDir(dir);
    expect(err).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO  listening address=127\.0\.0\.1:\d+ tls=plaintext auth=none /m);
    expect(err).not.toContain("{");
  });
});
