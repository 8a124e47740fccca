/**
 * Authorization rules without a server: which role each RPC needs, the
 * authentication outcome for each kind of credential, the per-client limiter
 * and what counts as a loopback address.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";

import { isLoopback } from "../../server/config.js";
import { requirement, STUDY_SCOPED } from "../../server/rpc/auth/policy.js";
import { hashToken, newToken, roleAllows, TokenStore } from "../../server/rpc/auth/tokens.js";
import { authenticate, type AuthOptions } from "../../server/rpc/interceptors/auth.js";
import { PendingLimiter } from "../../server/rpc/interceptors/limits.js";

const H = "/hpod.v1.HpodService/";

describe("policy", () => {
  it("read, write and admin methods", () => {
    for (const m of ["GetStudy", "ListStudies", "WatchStudy", "GetBestTrials", "GetTrial", "ListTrials"]) expect(requirement(H + m, "auth"), m).toBe("read");
    for (const m of ["Suggest", "Report", "Heartbeat", "EnqueueTrial", "AddTrial", "CreateStudy", "UpdateStudy"]) expect(requirement(H + m, "auth"), m).toBe("write");
    expect(requirement(H + "DeleteStudy", "auth")).toBe("admin");
    expect(requirement("/hpod.v1.AdminService/Backup", "auth")).toBe("admin");
    expect(requirement(H + "SomeFutureRpc", "auth")).toBe("admin");
    expect(requirement("/grpc.health.v1.Health/Check", "auth")).toBe("open");
    expect(requirement("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "open")).toBe("open");
    expect(requirement("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "auth")).toBe("read");
    expect(STUDY_SCOPED).toContain(H + "CreateStudy");
    expect(STUDY_SCOPED).not.toContain(H + "ListStudies");
  });

  it("roles are ordered", () => {
    expect(roleAllows("admin", "write")).toBe(true);
    expect(roleAllows("write", "read")).toBe(true);
    expect(roleAllows("read", "write")).toBe(false);
    expect(roleAllows("write", "admin")).toBe(false);
  });
});

describe("authenticate", () => {
  const READ = newToken();
  const tokens = TokenStore.fromEntries([{ name: "reader", sha256: hashToken(READ), role: "read", namespaces: ["a"] }]);
  const call = (cert?: object) => ({ getAuthContext: () => (cert ? { sslPeerCertificate: cert } : {}) }) as unknown as grpc.ServerInterceptingCallInterface;
  const md = (auth?: string) => {
    const m = new grpc.Metadata();
    if (auth !== undefined) m.set("authorization", auth);
    return m;
  };
  const opts: AuthOptions = { tokens, requireClientCert: false, reflection: "auth" };

  it("tokens: missing, malformed, unknown, valid; the header is removed", () => {
    expect(authenticate(opts, H + "GetStudy", md(), call())).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(authenticate(opts, H + "GetStudy", md(READ), call())).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(authenticate(opts, H + "GetStudy", md("Bearer nope"), call())).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: "unknown bearer token" });
    const m = md(`Bearer ${READ}`);
    expect(authenticate(opts, H + "GetStudy", m, call())).toMatchObject({ principal: { name: "reader" } });
    expect(m.get("authorization")).toEqual([]);
    expect(authenticate(opts, H + "Suggest", md(`bearer ${READ}`), call())).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
  });

  it("health is open; refusals never echo the token", () => {
    expect(authenticate(opts, "/grpc.health.v1.Health/Check", md(), call())).toMatchObject({ principal: { via: "anonymous" } });
    const r = authenticate(opts, H + "Suggest", md(`Bearer ${READ}`), call());
    expect(JSON.stringify(r)).not.toContain(READ);
  });

  it("mutual TLS: a verified certificate is required; its CN names the principal", () => {
    const mtls: AuthOptions = { tokens: undefined, requireClientCert: true, reflection: "auth" };
    expect(authenticate(mtls, H + "GetStudy", md(), call())).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(authenticate(mtls, H + "DeleteStudy", md(), call({ subject: { CN: "worker-1" } }))).toMatchObject({
      principal: { name: "cert:worker-1", role: "admin", via: "certificate" },
    });
    // Both: the token decides the role.
    const both: AuthOptions = { tokens, requireClientCert: true, reflection: "auth" };
    expect(authenticate(both, H + "GetStudy", md(`Bearer ${READ}`), call())).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(authenticate(both, H + "DeleteStudy", md(`Bearer ${READ}`), call({ subject: { CN: "x" } }))).toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
  });
});

describe("PendingLimiter", () => {
  it("caps calls in flight per key", () => {
    const l = new PendingLimiter(2);
    expect(l.tryAcquire("a")).toBe(true);
    expect(l.tryAcquire("a")).toBe(true);
    expect(l.tryAcquire("a")).toBe(false);
    expect(l.tryAcquire("b")).toBe(true);
    l.release("a");
    expect(l.tryAcquire("a")).toBe(true);
    l.release("a");
    l.release("a");
    l.release("b");
    expect(l.clients).toBe(0);
  });
});

describe("isLoopback", () => {
  it("127/8, ::1 and localhost only", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "[::1]", "::1", "LOCALHOST"]) expect(isLoopback(h), h).toBe(true);
    for (const h of ["0.0.0.0", "[::]", "10.0.0.1", "192.168.1.1", "example.com", "128.0.0.1", "[fe80::1]"]) expect(isLoopback(h), h).toBe(false);
  });
});
