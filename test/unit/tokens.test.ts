/**
 * Bearer tokens: the file format (YAML and JSON, hashed at rest), expiry and
 * revocation, reload that keeps the old set on a bad file, and
 * `hpod token create`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { tokenCommand } from "../../server/rpc/auth/token-cli.js";
import { hashToken, newToken, parseTokensFile, TokensFileError, TokenStore } from "../../server/rpc/auth/tokens.js";

const dir = mkdtempSync(join(tmpdir(), "hpod-tokens-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string): string => {
  const p = join(dir, `t${n++}.yaml`);
  writeFileSync(p, text);
  return p;
};

const A = newToken();
const B = newToken();
const C = newToken();
const D = newToken();
const yaml = `tokens:
  - name: alice
    sha256: ${hashToken(A)}
    role: write
    namespaces: [team-a, team-b]
  - name: ops
    sha256: ${hashToken(B).toUpperCase()}
    role: admin
    namespace: "*"
  - name: old
    sha256: ${hashToken(C)}
    role: read
    namespaces: [team-a]
    expires: 2020-01-01T00:00:00Z
  - name: gone
    sha256: ${hashToken(D)}
    role: read
    namespaces: ["*"]
    revoked: true
`;

function fileError(text: string): string {
  try {
    parseTokensFile(text, "f");
  } catch (e) {
    if (e instanceof TokensFileError) return e.message;
    throw e;
  }
  throw new Error("expected a TokensFileError");
}

describe("tokens file", () => {
  it("new tokens are random, prefixed and 256-bit", () => {
    expect(A).toMatch(/^hpod_[A-Za-z0-9_-]{43}$/);
    expect(A).not.toBe(B);
    expect(hashToken(A)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("verifies by hash: role, namespaces, expiry, revocation", () => {
    const s = TokenStore.load(file(yaml));
    expect(s.size).toBe(4);
    const a = s.verify(A);
    expect("principal" in a && a.principal).toMatchObject({ name: "alice", role: "write", via: "token" });
    if (!("principal" in a)) throw new Error("alice");
    expect(a.principal.namespaces !== "*" && [...a.principal.namespaces]).toEqual(["team-a", "team-b"]);
    const b = s.verify(B);
    expect("principal" in b && b.principal.namespaces).toBe("*");
    expect(s.verify(C)).toEqual({ error: 'token "old" expired at 2020-01-01T00:00:00Z' });
    expect(s.verify(D)).toEqual({ error: 'token "gone" is revoked' });
    expect(s.verify("hpod_wrong")).toEqual({ error: "unknown bearer token" });
    expect(s.verify(hashToken(A))).toEqual({ error: "unknown bearer token" }); // the hash is not a token
  });

  it("expiry is checked at each call", () => {
    const s = TokenStore.fromEntries([{ name: "t", sha256: hashToken(A), role: "read", namespaces: ["*"], expires: "2030-06-01T12:00:00+02:00" }]);
    expect("principal" in s.verify(A, Date.parse("2030-06-01T09:59:59Z"))).toBe(true);
    expect("error" in s.verify(A, Date.parse("2030-06-01T10:00:00Z"))).toBe(true);
  });

  it("JSON works too; an empty file or list means no token is valid", () => {
    const j = file(JSON.stringify({ tokens: [{ name: "j", sha256: hashToken(A), role: "read", namespaces: ["x"] }] }));
    expect(TokenStore.load(j).size).toBe(1);
    expect(TokenStore.load(file("")).size).toBe(0);
    expect(TokenStore.load(file("tokens: []\n")).size).toBe(0);
  });

  it("rejects bad entries, naming them", () => {
    const h = hashToken(A);
    expect(fileError("- a\n")).toBe('f must be a mapping with one key, "tokens"');
    expect(fileError("tokens: 3\n")).toBe('f: "tokens" must be a list');
    expect(fileError(`tokens:\n  - name: a\n    sha256: ${A}\n    role: read\n    namespaces: [x]\n`)).toMatch(/tokens\[0\]\.sha256 must be 64 hex digits/);
    expect(fileError(`tokens:\n  - name: a\n    sha256: ${h}\n    role: root\n    namespaces: [x]\n`)).toBe("f: tokens[0].role must be read, write or admin");
    expect(fileError(`tokens:\n  - name: a\n    sha256: ${h}\n    role: read\n`)).toMatch(/tokens\[0\]\.namespaces must be a non-empty list/);
    expect(fileError(`tokens:\n  - name: a\n    sha256: ${h}\n    role: read\n    namespaces: [x]\n    expires: tomorrow\n`)).toMatch(/expires must be an RFC 3339 time/);
    expect(fileError(`tokens:\n  - name: a\n    sha256: ${h}\n    role: read\n    namespaces: [x]\n    token: ${A}\n`)).toBe('f: tokens[0]: unknown key "token"');
    const dup = `tokens:\n  - {name: a, sha256: ${h}, role: read, namespaces: [x]}\n  - {name: a, sha256: ${hashToken(B)}, role: read, namespaces: [x]}\n`;
    expect(fileError(dup)).toBe('f: tokens[1]: duplicate name "a"');
    const sameHash = `tokens:\n  - {name: a, sha256: ${h}, role: read, namespaces: [x]}\n  - {name: b, sha256: ${h}, role: read, namespaces: [x]}\n`;
    expect(fileError(sameHash)).toBe("f: tokens[1]: the same token hash appears twice");
  });

  it("reload swaps the set; a bad file keeps the old one", () => {
    const p = file(yaml);
    const s = TokenStore.load(p);
    writeFileSync(p, `tokens:\n  - {name: alice, sha256: ${hashToken(A)}, role: write, namespaces: [team-a], revoked: true}\n`);
    expect(s.reload()).toBe(1);
    expect(s.verify(A)).toEqual({ error: 'token "alice" is revoked' });
    writeFileSync(p, "tokens: [unclosed\n");
    expect(() => s.reload()).toThrow(TokensFileError);
    expect(s.verify(A)).toEqual({ error: 'token "alice" is revoked' });
  });
});

describe("hpod token create", () => {
  const run = (argv: string[]) => {
    let out = "";
    let err = "";
    const code = tokenCommand(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) }, new Date("2026-01-01T00:00:00Z"));
    return { code, out, err };
  };

  it("prints the token once and an entry that verifies it", () => {
    const r = run(["create", "--name", "ci", "--role", "write", "--namespace", "team-a", "--namespace", "team-b", "--expires", "2027-01-01T00:00:00Z"]);
    expect(r.code, r.err).toBe(0);
    const [token, ...rest] = r.out.split("\n");
    expect(token).toMatch(/^hpod_/);
    const entry = rest.join("\n");
    expect(entry).not.toContain(token);
    expect(entry).toContain(`sha256: ${hashToken(token!)}`);
    const s = TokenStore.load(file(`tokens:\n${entry}`));
    const v = s.verify(token!, Date.parse("2026-06-01T00:00:00Z"));
    expect("principal" in v && v.principal).toMatchObject({ name: "ci", role: "write" });
    expect("error" in s.verify(token!, Date.parse("2027-01-01T00:00:00Z"))).toBe(true);
    expect(r.err).toContain("shown only this once");
  });

  it("refuses missing or bad options", () => {
    expect(run(["create", "--name", "x", "--role", "root", "--namespace", "a"]).code).toBe(2);
    expect(run(["create", "--role", "read", "--namespace", "a"]).err).toContain("--name is required");
    expect(run(["create", "--name", "x", "--role", "read"]).err).toContain("--namespace is required");
    expect(run(["create", "--name", "x", "--role", "read", "--namespace", "a", "--expires", "2020-01-01T00:00:00Z"]).err).toContain("in the past");
    expect(run(["create", "--name", "x y", "--role", "read", "--namespace", "a"]).code).toBe(2);
    expect(run(["rotate"]).code).toBe(2);
    expect(run(["--help"]).code).toBe(0);
  });
});
