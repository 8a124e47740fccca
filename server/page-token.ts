/**
 * Opaque, validated page tokens. A token records where the previous page
 * ended and the filter it was made for, so a token cannot be replayed against
 * a different listing.
 */
import { createHash } from "node:crypto";
import { invalid } from "./core/errors.js";

interface TokenBody {
  /** What is listed (e.g. "studies", "trials:<study>") plus its filter. */
  scope: string;
  after: string | number;
}

const digest = (scope: string): string => createHash("sha256").update(scope).digest("base64url").slice(0, 12);

export function encodePageToken(scope: string, after: string | number): string {
  return Buffer.from(JSON.stringify({ s: digest(scope), a: after })).toString("base64url");
}

export function decodePageToken(token: string, scope: string, field = "page_token"): TokenBody["after"] | undefined {
  if (token === "") return undefined;
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid(field, "is not a token returned by this listing");
  }
  const b = body as { s?: unknown; a?: unknown };
  if (typeof b !== "object" || b === null || b.s !== digest(scope) || (typeof b.a !== "string" && typeof b.a !== "number")) {
    throw invalid(field, "is not a token returned by this listing (or the filter changed)");
  }
  return b.a;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function pageSize(requested: number, field = "page_size"): number {
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(requested) || requested < 0 || requested > MAX_PAGE_SIZE) {
    throw invalid(field, `must be in [1, ${MAX_PAGE_SIZE}] (0 means ${DEFAULT_PAGE_SIZE})`);
  }
  return requested;
}
