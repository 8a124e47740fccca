/**
 * Bearer tokens from a file (YAML or JSON), stored hashed at rest: the file
 * holds the SHA-256 of each token, never the token. A token is random
 * (256 bits), so a plain hash is enough: there is nothing to brute-force.
 *
 *   tokens:
 *     - name: ci-workers            # shown in logs, never the token
 *       sha256: 5f1c...             # hex SHA-256 of the token
 *       role: write                 # read | write | admin
 *       namespaces: [team-a]        # or ["*"] for all (`namespace: x` also works)
 *       expires: 2027-01-01T00:00:00Z   # optional, RFC 3339
 *       revoked: false              # optional
 *
 * The file is re-read on SIGHUP; a file that fails to parse leaves the
 * previous set in force.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";

export const ROLES = ["read", "write", "admin"] as const;
export type Role = (typeof ROLES)[number];
const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

/** True when `have` includes everything `need` may do. */
export const roleAllows = (have: Role, need: Role): boolean => RANK[have] >= RANK[need];

/** Who makes a call. `namespaces` "*" means all. */
export interface Principal {
  name: string;
  role: Role;
  namespaces: "*" | ReadonlySet<string>;
  via: "token" | "certificate" | "anonymous";
}

export const ANONYMOUS: Principal = { name: "anonymous", role: "admin", namespaces: "*", via: "anonymous" };

export const mayAccessNamespace = (p: Principal, namespace: string): boolean => p.namespaces === "*" || p.namespaces.has(namespace);

export interface TokenEntry {
  name: string;
  sha256: string;
  role: Role;
  namespaces: string[];
  expires?: string;
  revoked?: boolean;
}

interface Loaded {
  entry: TokenEntry;
  principal: Principal;
  expiresAt: number | undefined;
}

export class TokensFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokensFileError";
  }
}

const TOKEN_PREFIX = "hpod_";
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** "*" or a study namespace (the same rule as study names). */
const NAMESPACE = /^(\*|[A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;

export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/** A new random token: `hpod_` and 43 base64url characters (256 bits). */
export const newToken = (): string => TOKEN_PREFIX + randomBytes(32).toString("base64url");

export function parseRfc3339(s: string, what: string): number {
  const t = RFC3339.test(s) ? Date.parse(s.replace(" ", "T")) : NaN;
  if (!Number.isFinite(t)) throw new TokensFileError(`${what} must be an RFC 3339 time such as 2027-01-31T00:00:00Z (got "${s}")`);
  return t;
}

/** Parses a tokens file's text; throws TokensFileError naming the entry at fault. */
export function parseTokensFile(text: string, path = "tokens file"): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text) as unknown;
  } catch (e) {
    throw new TokensFileError(`${path} is not valid YAML or JSON: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  const list = typeof doc === "object" && !Array.isArray(doc) ? (doc as Record<string, unknown>).tokens : undefined;
  if (typeof doc !== "object" || Array.isArray(doc) || Object.keys(doc).some((k) => k !== "tokens")) {
    throw new TokensFileError(`${path} must be a mapping with one key, "tokens"`);
  }
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new TokensFileError(`${path}: "tokens" must be a list`);
  const names = new Set<string>();
  const hashes = new Set<string>();
  return list.map((raw: unknown, i): TokenEntry => {
    const at = `${path}: tokens[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new TokensFileError(`${at} must be a mapping`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (!["name", "sha256", "role", "namespaces", "namespace", "expires", "revoked", "created", "comment"].includes(k)) {
        throw new TokensFileError(`${at}: unknown key "${k}"`);
      }
    }
    if (typeof r.name !== "string" || !/^[A-Za-z0-9._@:-]{1,128}$/.test(r.name)) {
      throw new TokensFileError(`${at}.name must be 1-128 characters of letters, digits and . _ @ : -`);
    }
    if (names.has(r.name)) throw new TokensFileError(`${at}: duplicate name "${r.name}"`);
    names.add(r.name);
    if (typeof r.sha256 !== "string" || !/^[0-9a-f]{64}$/i.test(r.sha256)) {
      throw new TokensFileError(`${at}.sha256 must be 64 hex digits (the SHA-256 of the token; never the token itself)`);
    }
    const sha256 = r.sha256.toLowerCase();
    if (hashes.has(sha256)) throw new TokensFileError(`${at}: the same token hash appears twice`);
    hashes.add(sha256);
    if (typeof r.role !== "string" || !(ROLES as readonly string[]).includes(r.role)) {
      throw new TokensFileError(`${at}.role must be read, write or admin`);
    }
    const ns = r.namespaces ?? (r.namespace === undefined ? undefined : [r.namespace]);
    if (!Array.isArray(ns) || ns.length === 0 || ns.some((n) => typeof n !== "string" || !NAMESPACE.test(n))) {
      throw new TokensFileError(`${at}.namespaces must be a non-empty list of namespace names or "*"`);
    }
    const entry: TokenEntry = { name: r.name, sha256, role: r.role as Role, namespaces: ns as string[] };
    if (r.expires !== undefined) {
      const e = r.expires instanceof Date ? r.expires.toISOString() : r.expires;
      if (typeof e !== "string") throw new TokensFileError(`${at}.expires must be an RFC 3339 time`);
      parseRfc3339(e, `${at}.expires`);
      entry.expires = e;
    }
    if (r.revoked !== undefined) {
      if (typeof r.revoked !== "boolean") throw new TokensFileError(`${at}.revoked must be true or false`);
      entry.revoked = r.revoked;
    }
    return entry;
  });
}

export type Verified = { principal: Principal } | { error: string };

/** The tokens in force; `reload` swaps them atomically. */
export class TokenStore {
  private byHash = new Map<string, Loaded>();
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Loads the file; throws TokensFileError when it cannot. */
  static load(path: string): TokenStore {
    const s = new TokenStore(path);
    s.byHash = s.read();
    return s;
  }

  static fromEntries(entries: TokenEntry[], path = "(memory)"): TokenStore {
    const s = new TokenStore(path);
    s.byHash = index(entries);
    return s;
  }

  private read(): Map<string, Loaded> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      throw new TokensFileError(`cannot read tokens file ${this.path}: ${(e as Error).message}`);
    }
    return index(parseTokensFile(text, this.path));
  }

  /** Re-reads the file; on error keeps the tokens in force and throws. */
  reload(): number {
    this.byHash = this.read();
    return this.byHash.size;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Checks a presented token. The reason never repeats the token. */
  verify(token: string, now = Date.now()): Verified {
    const hash = hashToken(token);
    const found = this.byHash.get(hash);
    // The map lookup is on the hash, so timing says nothing about the token;
    // the compare is a belt for the braces.
    if (!found || !timingSafeEqual(Buffer.from(found.entry.sha256, "hex"), Buffer.from(hash, "hex"))) {
      return { error: "unknown bearer token" };
    }
    if (found.entry.revoked) return { error: `token "${found.entry.name}" is revoked` };
    if (found.expiresAt !== undefined && now >= found.expiresAt) return { error: `token "${found.entry.name}" expired at ${found.entry.expires}` };
    return { principal: found.principal };
  }
}

function index(entries: TokenEntry[]): Map<string, Loaded> {
  const m = new Map<string, Loaded>();
  for (const entry of entries) {
    const namespaces = entry.namespaces.includes("*") ? "*" : new Set(entry.namespaces);
    m.set(entry.sha256, {
      entry,
      principal: { name: entry.name, role: entry.role, namespaces, via: "token" },
      expiresAt: entry.expires === undefined ? undefined : parseRfc3339(entry.expires, "expires"),
    });
  }
  return m;
}

/** The entry to append to a tokens file for `token`, as YAML list text. */
export function entryYaml(e: TokenEntry, created: Date): string {
  const lines = [
    `  - name: ${e.name}`,
    `    sha256: ${e.sha256}`,
    `    role: ${e.role}`,
    `    namespaces: [${e.namespaces.map((n) => JSON.stringify(n)).join(", ")}]`,
  ];
  if (e.expires !== undefined) lines.push(`    expires: ${JSON.stringify(e.expires)}`);
  lines.push(`    created: ${JSON.stringify(created.toISOString())}`);
  return lines.join("\n") + "\n";
}
