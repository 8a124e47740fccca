/**
 * Bearer tokens on a real daemon: every kind of refusal (no token, a wrong,
 * expired or revoked one, a role too low, another namespace) answers
 * UNAUTHENTICATED or PERMISSION_DENIED and changes nothing; ListStudies only
 * shows allowed namespaces; SIGHUP re-reads the file; tokens never appear in
 * the logs or the metrics; /metrics can require a token; and a non-loopback
 * listener without TLS or auth is refused unless --insecure.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AdminServiceClient } from "../../client/gen/hpod/v1/admin_service.js";
import {
  CreateStudyRequest,
  DeleteStudyRequest,
  EnqueueTrialRequest,
  GetStudyRequest,
  HpodServiceClient,
  ListStudiesRequest,
  ListTrialsRequest,
  ReportRequest,
  SuggestRequest,
  UpdateStudyRequest,
} from "../../client/gen/hpod/v1/hpod_service.js";
import { hashToken, newToken } from "../../server/rpc/auth/tokens.js";
import { DAEMON_MAIN, removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { report, study } from "../helpers/specs.js";

const T = {
  admin: newToken(),
  writerA: newToken(),
  readerA: newToken(),
  writerB: newToken(),
  expired: newToken(),
  revoked: newToken(),
};
const ALL_TOKENS = Object.values(T);

function tokensYaml(revokeWriterA = false): string {
  const e = (name: string, token: string, role: string, ns: string[], extra = "") =>
    `  - {name: ${name}, sha256: ${hashToken(token)}, role: ${role}, namespaces: [${ns.map((n) => JSON.stringify(n)).join(", ")}]${extra}}\n`;
  return (
    "tokens:\n" +
    e("admin", T.admin, "admin", ["*"]) +
    e("writer-a", T.writerA, "write", ["team-a"], revokeWriterA ? ", revoked: true" : "") +
    e("reader-a", T.readerA, "read", ["team-a"]) +
    e("writer-b", T.writerB, "write", ["team-b"]) +
    e("expired", T.expired, "admin", ["*"], ", expires: 2020-01-01T00:00:00Z") +
    e("revoked", T.revoked, "admin", ["*"], ", revoked: true")
  );
}

type Method = "createStudy" | "getStudy" | "listStudies" | "suggest" | "report" | "enqueueTrial" | "deleteStudy" | "listTrials" | "updateStudy";

function metadata(token: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", token.startsWith("hpod_") ? `Bearer ${token}` : token);
  return md;
}

const REQUESTS: Record<Method, { fromPartial(o: never): unknown }> = {
  createStudy: CreateStudyRequest,
  getStudy: GetStudyRequest,
  listStudies: ListStudiesRequest,
  suggest: SuggestRequest,
  report: ReportRequest,
  enqueueTrial: EnqueueTrialRequest,
  deleteStudy: DeleteStudyRequest,
  listTrials: ListTrialsRequest,
  updateStudy: UpdateStudyRequest,
};

function rpc<Res = Record<string, unknown>>(c: HpodServiceClient, method: Method, partial: unknown, token?: string): Promise<Res> {
  const req = REQUESTS[method].fromPartial(partial as never);
  return new Promise((resolve, reject) => {
    const fn = c[method] as unknown as (r: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Res) => void) => void;
    fn.call(c, req, metadata(token), (e, r) => (e ? reject(e) : resolve(r)));
  });
}

async function code(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
  return grpc.status.OK;
}

function metricsAddress(d: Daemon): string {
  const line = d.logs.find((l) => l.includes('"metrics listening"'));
  if (!line) throw new Error(`no metrics line:\n${d.logs.join("\n")}`);
  return (JSON.parse(line) as { address: string }).address;
}

describe("bearer tokens", () => {
  let d: Daemon;
  let c: HpodServiceClient;
  let dir: string;
  let tokensFile: string;

  beforeAll(async () => {
    dir = tempDir("hpod-auth-");
    tokensFile = join(dir, "tokens.yaml");
    writeFileSync(tokensFile, tokensYaml());
    d = await startDaemon({ args: ["--tokens-file", tokensFile, "--metrics-listen", "127.0.0.1:0", "--log-level", "debug"] });
    c = new HpodServiceClient(d.address, grpc.credentials.createInsecure());
    await rpc(c, "createStudy", { study: { ...study("sa"), namespace: "team-a" }, loadIfExists: false }, T.admin);
    await rpc(c, "createStudy", { study: { ...study("sb"), namespace: "team-b" }, loadIfExists: false }, T.admin);
    await rpc(c, "suggest", { study: "sa", count: 1, workerId: "w" }, T.writerA);
  });
  afterAll(async () => {
    c?.close();
    await d?.stop();
    if (d) removeDir(d.dataDir);
    removeDir(dir);
  });

  /** Everything a refused call could have changed. */
  const snapshot = async () => {
    const s = (await rpc<{ study: { updateTime: unknown; trialCounts: unknown; state: unknown } }>(c, "getStudy", { name: "sa" }, T.admin)).study;
    const t = await rpc<{ trials: unknown[] }>(c, "listTrials", { study: "sa", pageSize: 1000 }, T.admin);
    const all = await rpc<{ studies: Array<{ name: string }> }>(c, "listStudies", { pageSize: 1000 }, T.admin);
    return JSON.stringify({ s, t, names: all.studies.map((x) => x.name) });
  };

  it("refuses unauthenticated and unauthorized calls, changing nothing", async () => {
    const before = await snapshot();
    const suggest = { study: "sa", count: 1, workerId: "x" };
    const cases: Array<[string, () => Promise<unknown>, grpc.status]> = [
      ["no token", () => rpc(c, "suggest", suggest), grpc.status.UNAUTHENTICATED],
      ["not a bearer header", () => rpc(c, "suggest", suggest, `Basic ${T.admin}`), grpc.status.UNAUTHENTICATED],
      ["wrong token", () => rpc(c, "suggest", suggest, newToken()), grpc.status.UNAUTHENTICATED],
      ["expired token", () => rpc(c, "suggest", suggest, T.expired), grpc.status.UNAUTHENTICATED],
      ["revoked token", () => rpc(c, "suggest", suggest, T.revoked), grpc.status.UNAUTHENTICATED],
      ["read token, write RPC", () => rpc(c, "suggest", suggest, T.readerA), grpc.status.PERMISSION_DENIED],
      ["read token, report", () => rpc(c, "report", report("sa", 0, [1], { final: true }), T.readerA), grpc.status.PERMISSION_DENIED],
      ["read token, update", () => rpc(c, "updateStudy", { name: "sa", state: 2 }, T.readerA), grpc.status.PERMISSION_DENIED],
      ["other namespace, suggest", () => rpc(c, "suggest", suggest, T.writerB), grpc.status.PERMISSION_DENIED],
      ["other namespace, report", () => rpc(c, "report", report("sa", 0, [1], { final: true }), T.writerB), grpc.status.PERMISSION_DENIED],
      ["other namespace, enqueue", () => rpc(c, "enqueueTrial", { study: "sa", params: {} }, T.writerB), grpc.status.PERMISSION_DENIED],
      ["other namespace, read", () => rpc(c, "getStudy", { name: "sa" }, T.writerB), grpc.status.PERMISSION_DENIED],
      ["other namespace, create", () => rpc(c, "createStudy", { study: { ...study("sa2"), namespace: "team-a" } }, T.writerB), grpc.status.PERMISSION_DENIED],
      ["default namespace, create", () => rpc(c, "createStudy", { study: study("sd") }, T.writerB), grpc.status.PERMISSION_DENIED],
      ["write token, delete", () => rpc(c, "deleteStudy", { name: "sa" }, T.writerA), grpc.status.PERMISSION_DENIED],
      ["list another namespace", () => rpc(c, "listStudies", { namespace: "team-b" }, T.readerA), grpc.status.PERMISSION_DENIED],
    ];
    for (const [what, p, want] of cases) expect(await code(p()), what).toBe(want);
    expect(await snapshot()).toBe(before);
  });

  it("allowed calls go through; ListStudies shows allowed namespaces only", async () => {
    expect(await code(rpc(c, "getStudy", { name: "sa" }, T.readerA))).toBe(grpc.status.OK);
    const listed = await rpc<{ studies: Array<{ name: string }> }>(c, "listStudies", {}, T.readerA);
    expect(listed.studies.map((s) => s.name)).toEqual(["sa"]);
    const b = await rpc<{ studies: Array<{ name: string }> }>(c, "listStudies", { namespace: "team-b" }, T.writerB);
    expect(b.studies.map((s) => s.name)).toEqual(["sb"]);
    expect(await code(rpc(c, "createStudy", { study: { ...study("sb2"), namespace: "team-b" } }, T.writerB))).toBe(grpc.status.OK);
    // An unknown study is NOT_FOUND for anyone allowed to call the method.
    expect(await code(rpc(c, "getStudy", { name: "nope" }, T.readerA))).toBe(grpc.status.NOT_FOUND);
  });

  it("WatchStudy and Backup check too; health stays open", async () => {
    const watch = c.watchStudy({ study: "sa", includeExisting: true }, metadata(T.writerB));
    const watchCode = await new Promise<grpc.status>((res) => {
      watch.on("error", (e: grpc.ServiceError) => res(e.code));
      watch.on("data", () => undefined);
    });
    expect(watchCode).toBe(grpc.status.PERMISSION_DENIED);
    const admin = new AdminServiceClient(d.address, grpc.credentials.createInsecure());
    const backupCode = await new Promise<grpc.status>((res) =>
      admin.backup({ destination: join(dir, "never") }, metadata(T.writerA), (e) => res(e ? e.code : grpc.status.OK)),
    );
    admin.close();
    expect(backupCode).toBe(grpc.status.PERMISSION_DENIED);
    const health = new grpc.Client(d.address, grpc.credentials.createInsecure());
    const status = await new Promise<number>((res, rej) =>
      health.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (x: Buffer) => x,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0x00]),
        (e, r) => (e ? rej(e) : res(r?.[1] ?? -1)),
      ),
    );
    health.close();
    expect(status).toBe(1); // SERVING (field 1, varint 1)
  });

  it("SIGHUP re-reads the file: a revoked token stops working", async () => {
    expect(await code(rpc(c, "listTrials", { study: "sa" }, T.writerA))).toBe(grpc.status.OK);
    writeFileSync(tokensFile, tokensYaml(true));
    const seen = d.logs.length;
    d.proc.kill("SIGHUP");
    for (let i = 0; i < 100 && !d.logs.slice(seen).some((l) => l.includes("SIGHUP: reloaded")); i++) await new Promise((r) => setTimeout(r, 50));
    expect(d.logs.slice(seen).join("\n")).toContain("SIGHUP: reloaded");
    expect(await code(rpc(c, "listTrials", { study: "sa" }, T.writerA))).toBe(grpc.status.UNAUTHENTICATED);
    // A broken file keeps the tokens in force.
    writeFileSync(tokensFile, "tokens: [broken\n");
    const seen2 = d.logs.length;
    d.proc.kill("SIGHUP");
    for (let i = 0; i < 100 && !d.logs.slice(seen2).some((l) => l.includes("SIGHUP: reload failed")); i++) await new Promise((r) => setTimeout(r, 50));
    expect(d.logs.slice(seen2).join("\n")).toContain("reload failed");
    expect(await code(rpc(c, "getStudy", { name: "sa" }, T.readerA))).toBe(grpc.status.OK);
    writeFileSync(tokensFile, tokensYaml(true));
  });

  it("no token ever appears in the logs or the metrics", async () => {
    const { body } = await fetch(`http://${metricsAddress(d)}/metrics`).then(async (r) => ({ body: await r.text() }));
    expect(body).toContain('code="UNAUTHENTICATED"');
    expect(body).toContain('code="PERMISSION_DENIED"');
    const logs = d.logs.join("\n");
    expect(logs).toContain('"code":"PERMISSION_DENIED"');
    expect(logs).toContain('"principal":"writer-b"');
    for (const t of ALL_TOKENS) {
      expect(logs.includes(t), "token in logs").toBe(false);
      expect(body.includes(t), "token in metrics").toBe(false);
    }
  });
});

/** One ServerReflectionInfo exchange (list_services) with raw bytes; resolves with the status code. */
function reflectionCode(address: string, token?: string): Promise<grpc.status> {
  const c = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const call = c.makeBidiStreamRequest(
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      (b: Buffer) => b,
      (b: Buffer) => b,
      metadata(token),
    );
    let got = false;
    call.on("data", () => {
      got = true;
      call.end();
    });
    call.on("error", (e: grpc.ServiceError) => {
      c.close();
      resolve(e.code);
    });
    call.on("status", (st: grpc.StatusObject) => {
      c.close();
      resolve(got ? st.code : st.code === grpc.status.OK ? grpc.status.UNKNOWN : st.code);
    });
    call.write(Buffer.from([0x3a, 0x00])); // list_services: ""
  });
}

describe("reflection", () => {
  it("--reflection auth (default) needs a token, open does not, off is not served", async () => {
    const dir = tempDir("hpod-refl-");
    const tokensFile = join(dir, "tokens.yaml");
    writeFileSync(tokensFile, tokensYaml());
    try {
      for (const [mode, anonymous, withToken] of [
        ["auth", grpc.status.UNAUTHENTICATED, grpc.status.OK],
        ["open", grpc.status.OK, grpc.status.OK],
        ["off", grpc.status.UNIMPLEMENTED, grpc.status.UNIMPLEMENTED],
      ] as const) {
        const d = await startDaemon({ args: ["--tokens-file", tokensFile, "--metrics-listen", "", "--reflection", mode] });
        try {
          expect(await reflectionCode(d.address), `${mode} without a token`).toBe(anonymous);
          expect(await reflectionCode(d.address, T.readerA), `${mode} with a read token`).toBe(withToken);
        } finally {
          await d.stop();
          removeDir(d.dataDir);
        }
      }
    } finally {
      removeDir(dir);
    }
  });
});

describe("metrics bearer auth", () => {
  it("--metrics-auth token: /metrics needs a valid token; health does not", async () => {
    const dir = tempDir("hpod-mauth-");
    const tokensFile = join(dir, "tokens.yaml");
    writeFileSync(tokensFile, tokensYaml());
    const d = await startDaemon({ args: ["--tokens-file", tokensFile, "--metrics-listen", "127.0.0.1:0", "--metrics-auth", "token"] });
    try {
      const base = `http://${metricsAddress(d)}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${T.revoked}` } })).status).toBe(401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${T.readerA}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("hpod_build_info");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      await d.stop();
      removeDir(d.dataDir);
      removeDir(dir);
    }
  });
});

describe("exposure", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const dir = tempDir();
      const p = spawn(process.execPath, [DAEMON_MAIN, "serve", "--data-dir", dir, ...args], {
        env: { ...process.env, HPOD_LOG_FORMAT: "json" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      p.stderr!.on("data", (b: Buffer) => {
        err += b.toString();
        if (err.includes('"msg":"listening"')) p.kill("SIGTERM");
      });
      p.once("exit", (code) => {
        removeDir(dir);
        resolve({ code, err });
      });
    });

  it("a non-loopback address with neither TLS nor auth is refused unless --insecure", async () => {
    const refused = await run(["--listen", "0.0.0.0:0", "--metrics-listen", ""]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("refusing to listen on a non-loopback address with neither TLS nor authentication (gRPC on 0.0.0.0:0)");
    const metrics = await run(["--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0"]);
    expect(metrics.code).toBe(1);
    expect(metrics.err).toContain("metrics on 0.0.0.0:0");
    const insecure = await run(["--listen", "0.0.0.0:0", "--metrics-listen", "", "--insecure"]);
    expect(insecure.code).toBe(0);
    expect(insecure.err).toMatch(/"level":"warn","msg":"INSECURE: /);
  });

  it("with a tokens file it starts without --insecure", async () => {
    const dir = tempDir("hpod-exp-");
    const f = join(dir, "t.yaml");
    writeFileSync(f, tokensYaml());
    const r = await run(["--listen", "0.0.0.0:0", "--metrics-listen", "", "--tokens-file", f]);
    removeDir(dir);
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toContain("INSECURE");
  });

  it("a broken tokens file stops start-up with a clear message", async () => {
    const dir = tempDir("hpod-exp-");
    const f = join(dir, "t.yaml");
    writeFileSync(f, `tokens:\n  - {name: a, sha256: ${T.admin}, role: read, namespaces: [x]}\n`);
    const r = await run(["--listen", "127.0.0.1:0", "--metrics-listen", "", "--tokens-file", f]);
    removeDir(dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("sha256 must be 64 hex digits");
    expect(r.err).not.toContain(T.admin);
  });
});
