/**
 * Pending requests per client: a client that floods the daemon gets
 * RESOURCE_EXHAUSTED for calls over --max-pending-per-client, refused calls
 * change nothing, another client is served meanwhile, and the flooding client
 * is served again once its calls complete. With tokens, a client is its
 * principal (all its connections share one budget).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";

import { CreateStudyRequest, EnqueueTrialRequest, GetStudyRequest, HpodServiceClient, type GetStudyResponse } from "../../client/gen/hpod/v1/hpod_service.js";
import { hashToken, newToken } from "../../server/rpc/auth/tokens.js";
import { removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { int, num, study } from "../helpers/specs.js";

const LIMIT = 4;
const own = (address: string) => new HpodServiceClient(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });

function md(token?: string): grpc.Metadata {
  const m = new grpc.Metadata();
  if (token) m.set("authorization", `Bearer ${token}`);
  return m;
}

function enqueue(c: HpodServiceClient, name: string, token?: string): Promise<grpc.status> {
  const req = EnqueueTrialRequest.fromPartial({ study: name, params: { x: num(0.5), n: int(3) } });
  return new Promise((res) => c.enqueueTrial(req, md(token), (e) => res(e ? e.code : grpc.status.OK)));
}
function getStudy(c: HpodServiceClient, name: string, token?: string): Promise<GetStudyResponse> {
  return new Promise((res, rej) => c.getStudy(GetStudyRequest.fromPartial({ name }), md(token), (e, r) => (e ? rej(e) : res(r))));
}
function create(c: HpodServiceClient, name: string, token?: string): Promise<void> {
  return new Promise((res, rej) => c.createStudy(CreateStudyRequest.fromPartial({ study: study(name) }), md(token), (e) => (e ? rej(e) : res())));
}
const total = (r: GetStudyResponse): number => {
  const c = r.study!.trialCounts!;
  return c.queued + c.running + c.complete + c.pruned + c.failed;
};

const daemons: Daemon[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of daemons) {
    await d.stop();
    removeDir(d.dataDir);
  }
  for (const d of dirs) removeDir(d);
});

describe("pending requests per client", () => {
  it("a flood is cut at the limit, changes nothing it was refused, and starves no one", async () => {
    const d = await startDaemon({ args: ["--max-pending-per-client", String(LIMIT), "--metrics-listen", "127.0.0.1:0"] });
    daemons.push(d);
    const bad = own(d.address);
    const good = own(d.address);
    await create(good, "L");
    // Connect both first, so the flood's calls arrive together.
    await getStudy(bad, "L");
    const flood = Array.from({ length: 80 }, () => enqueue(bad, "L"));
    const served: grpc.status[] = [];
    for (let i = 0; i < 10; i++) served.push(await enqueue(good, "L"));
    const codes = await Promise.all(flood);
    const ok = codes.filter((c) => c === grpc.status.OK).length;
    const exhausted = codes.filter((c) => c === grpc.status.RESOURCE_EXHAUSTED).length;
    expect(ok + exhausted).toBe(codes.length);
    expect(exhausted).toBeGreaterThan(0);
    expect(ok).toBeGreaterThanOrEqual(LIMIT);
    expect(served.every((c) => c === grpc.status.OK)).toBe(true);
    // Refused calls created nothing.
    expect(total(await getStudy(good, "L"))).toBe(ok + 10);
    // Once its calls are done the flooding client is served again.
    expect(await enqueue(bad, "L")).toBe(grpc.status.OK);
    const line = d.logs.find((l) => l.includes('"metrics listening"'))!;
    const body = await (await fetch(`http://${(JSON.parse(line) as { address: string }).address}/metrics`)).text();
    expect(body).toContain(`hpod_rpc_handled_total{service="hpod.v1.HpodService",method="EnqueueTrial",code="RESOURCE_EXHAUSTED"} ${exhausted}`);
    bad.close();
    good.close();
  });

  it("with tokens, all connections of one principal share the budget", async () => {
    const dir = tempDir("hpod-limits-");
    dirs.push(dir);
    const [a, b] = [newToken(), newToken()];
    writeFileSync(
      join(dir, "tokens.yaml"),
      `tokens:\n  - {name: a, sha256: ${hashToken(a)}, role: write, namespaces: ["*"]}\n  - {name: b, sha256: ${hashToken(b)}, role: write, namespaces: ["*"]}\n`,
    );
    const d = await startDaemon({ args: ["--max-pending-per-client", String(LIMIT), "--tokens-file", join(dir, "tokens.yaml"), "--metrics-listen", ""] });
    daemons.push(d);
    const conns = [own(d.address), own(d.address), own(d.address)];
    const other = own(d.address);
    await create(other, "T", b);
    for (const c of conns) await getStudy(c, "T", a);
    // Each connection alone stays under the limit; together they exceed it.
    const flood = conns.flatMap((c) => Array.from({ length: LIMIT }, () => enqueue(c, "T", a)));
    const theirs = Array.from({ length: LIMIT }, () => enqueue(other, "T", b));
    const codes = await Promise.all(flood);
    expect(codes.filter((c) => c === grpc.status.RESOURCE_EXHAUSTED).length).toBeGreaterThan(0);
    expect(await Promise.all(theirs)).toEqual(Array(LIMIT).fill(grpc.status.OK));
    for (const c of [...conns, other]) c.close();
  });
});
