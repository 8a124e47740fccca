/**
 * TLS and mutual TLS on a real daemon, with certificates made by openssl at
 * test time: TLS-only serves TLS clients and not plaintext ones; under mTLS a
 * client without a certificate, or with one from another CA, is refused with
 * UNAUTHENTICATED and changes nothing, while health stays open; tokens can be
 * required on top; the metrics listener speaks HTTPS; and `hpo admin backup`
 * connects with HPOD_TLS_* and HPOD_TOKEN.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CreateStudyRequest, HpodServiceClient, ListStudiesRequest, type ListStudiesResponse } from "../../client/gen/hpod/v1/hpod_service.js";
import { hashToken, newToken } from "../../server/rpc/auth/tokens.js";
import { CLI_MAIN, removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { study } from "../helpers/specs.js";

const REQUIRE_OPS = process.env.HPOD_REQUIRE_OPS === "1";
const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

const dir = tempDir("hpod-tls-");
const f = (name: string): string => join(dir, name);

function makeCa(name: string): void {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.crt`), "-subj", `/CN=${name}`, "-days", "2"], { stdio: "pipe" });
}

function makeLeaf(name: string, ca: string, ext: string): void {
  execFileSync("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`], { stdio: "pipe" });
  writeFileSync(f(`${name}.ext`), ext);
  execFileSync(
    "openssl",
    ["x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${ca}.crt`), "-CAkey", f(`${ca}.key`), "-CAcreateserial", "-out", f(`${name}.crt`), "-days", "2", "-extfile", f(`${name}.ext`)],
    { stdio: "pipe" },
  );
}

const read = (name: string): Buffer => readFileSync(f(name));

function listStudies(c: HpodServiceClient, md = new grpc.Metadata()): Promise<ListStudiesResponse> {
  return new Promise((res, rej) => c.listStudies(ListStudiesRequest.fromPartial({}), md, (e, r) => (e ? rej(e) : res(r))));
}
function createStudy(c: HpodServiceClient, name: string, md = new grpc.Metadata()): Promise<unknown> {
  return new Promise((res, rej) => c.createStudy(CreateStudyRequest.fromPartial({ study: study(name) }), md, (e, r) => (e ? rej(e) : res(r))));
}
async function code(p: Promise<unknown>): Promise<grpc.status> {
  try {
    await p;
    return grpc.status.OK;
  } catch (e) {
    return (e as grpc.ServiceError).code;
  }
}
function health(address: string, creds: grpc.ChannelCredentials): Promise<number> {
  const c = new grpc.Client(address, creds);
  return new Promise<number>((res, rej) =>
    c.makeUnaryRequest("/grpc.health.v1.Health/Check", (x: Buffer) => x, (b: Buffer) => b, Buffer.alloc(0), (e, r) => {
      c.close();
      if (e) rej(e);
      else res(r?.[1] ?? 0);
    }),
  );
}

const SERVER_EXT = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
const CLIENT_EXT = "extendedKeyUsage=clientAuth\n";

describe.skipIf(!hasOpenssl && !REQUIRE_OPS)(`TLS${hasOpenssl ? "" : " (skipped: openssl not installed; see .ci/install-ops-deps.sh)"}`, () => {
  beforeAll(() => {
    makeCa("ca");
    makeCa("rogue-ca");
    makeLeaf("server", "ca", SERVER_EXT);
    makeLeaf("worker-1", "ca", CLIENT_EXT);
    makeLeaf("intruder", "rogue-ca", CLIENT_EXT);
  });
  afterAll(() => removeDir(dir));

  const tlsArgs = () => ["--tls-cert", f("server.crt"), "--tls-key", f("server.key")];
  const serverOnly = () => grpc.credentials.createSsl(read("ca.crt"));
  const withCert = (name: string) => grpc.credentials.createSsl(read("ca.crt"), read(`${name}.key`), read(`${name}.crt`));

  it("TLS: TLS clients are served, plaintext ones are not", async () => {
    const d = await startDaemon({ args: [...tlsArgs(), "--metrics-listen", ""] });
    try {
      expect(d.logs.join("\n")).toContain('"tls":"tls"');
      const good = new HpodServiceClient(d.address, serverOnly());
      await createStudy(good, "t1");
      expect((await listStudies(good)).studies.map((s) => s.name)).toEqual(["t1"]);
      good.close();
      const plain = new HpodServiceClient(d.address, grpc.credentials.createInsecure());
      expect(await code(listStudies(plain))).toBe(grpc.status.UNAVAILABLE);
      plain.close();
    } finally {
      await d.stop();
      removeDir(d.dataDir);
    }
  });

  describe("mutual TLS", () => {
    let d: Daemon;
    beforeAll(async () => {
      d = await startDaemon({ args: [...tlsArgs(), "--tls-client-ca", f("ca.crt"), "--metrics-listen", "", "--log-level", "debug"] });
    });
    afterAll(async () => {
      await d?.stop();
      if (d) removeDir(d.dataDir);
    });

    it("a client without a certificate, or with one from another CA, is refused and changes nothing", async () => {
      const good = new HpodServiceClient(d.address, withCert("worker-1"));
      const none = new HpodServiceClient(d.address, serverOnly());
      const rogue = new HpodServiceClient(d.address, withCert("intruder"));
      try {
        expect(await code(createStudy(none, "nope"))).toBe(grpc.status.UNAUTHENTICATED);
        expect(await code(listStudies(none))).toBe(grpc.status.UNAUTHENTICATED);
        expect(await code(createStudy(rogue, "nope2"))).toBe(grpc.status.UNAUTHENTICATED);
        expect((await listStudies(good)).studies).toEqual([]);
        await createStudy(good, "m1");
        expect((await listStudies(good)).studies.map((s) => s.name)).toEqual(["m1"]);
        // Health needs no certificate.
        expect(await health(d.address, serverOnly())).toBe(1);
        const logs = d.logs.join("\n");
        expect(logs).toContain('"principal":"cert:worker-1"');
        expect(logs).toMatch(/"level":"warn","msg":"rpc failed".*"code":"UNAUTHENTICATED"/);
      } finally {
        good.close();
        none.close();
        rogue.close();
      }
    });
  });

  it("mutual TLS and tokens together: the certificate alone is not enough", async () => {
    const token = newToken();
    writeFileSync(f("tokens.yaml"), `tokens:\n  - {name: ops, sha256: ${hashToken(token)}, role: admin, namespaces: ["*"]}\n`);
    const d = await startDaemon({
      args: [...tlsArgs(), "--tls-client-ca", f("ca.crt"), "--tokens-file", f("tokens.yaml"), "--metrics-listen", ""],
    });
    const c = new HpodServiceClient(d.address, withCert("worker-1"));
    try {
      expect(await code(listStudies(c))).toBe(grpc.status.UNAUTHENTICATED);
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${token}`);
      await createStudy(c, "both", md);
      // The CLI's admin command with HPOD_TLS_* and HPOD_TOKEN.
      const out = join(dir, "backup-over-mtls");
      const env = { ...process.env, HPOD_TLS_CA: f("ca.crt"), HPOD_TLS_CERT: f("worker-1.crt"), HPOD_TLS_KEY: f("worker-1.key"), HPOD_TOKEN: token };
      const r = spawnSync(process.execPath, [CLI_MAIN, "--address", d.address, "admin", "backup", "--out", out], { env, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^backup written to ${out}: \\d+ keys, \\d+ bytes in [\\d.]+ s\\n$`));
      expect(existsSync(join(out, "CURRENT"))).toBe(true);
      const noToken = spawnSync(process.execPath, [CLI_MAIN, "--address", d.address, "admin", "backup", "--out", join(dir, "x")], {
        env: { ...env, HPOD_TOKEN: "" },
        encoding: "utf8",
      });
      expect(noToken.status).toBe(1);
      expect(noToken.stderr).toMatch(/^hpo: UNAUTHENTICATED: /m);
      expect(d.logs.join("\n")).not.toContain(token);
    } finally {
      c.close();
      await d.stop();
      removeDir(d.dataDir);
    }
  });

  it("the metrics listener speaks HTTPS", async () => {
    const d = await startDaemon({ args: ["--metrics-listen", "127.0.0.1:0", "--metrics-tls-cert", f("server.crt"), "--metrics-tls-key", f("server.key")] });
    try {
      const line = d.logs.find((l) => l.includes('"metrics listening"'))!;
      const { address, url } = JSON.parse(line) as { address: string; url: string };
      expect(url).toBe(`https://${address}/metrics`);
      const body = await new Promise<string>((res, rej) => {
        https
          .get(url, { ca: read("ca.crt") }, (r) => {
            let s = "";
            r.on("data", (b: Buffer) => (s += b.toString()));
            r.on("end", () => res(s));
          })
          .on("error", rej);
      });
      expect(body).toContain("hpod_build_info");
      await expect(fetch(`http://${address}/metrics`)).rejects.toThrow();
    } finally {
      await d.stop();
      removeDir(d.dataDir);
    }
  });
});
