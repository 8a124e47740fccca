/**
 * Page tokens and page sizes.
 */
import { describe, expect, it } from "vitest";

import { HpodError } from "../../server/core/errors.js";
import { decodePageToken, DEFAULT_PAGE_SIZE, encodePageToken, MAX_PAGE_SIZE, pageSize } from "../../server/page-token.js";

function caught(fn: () => unknown): HpodError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HpodError) return e;
    throw e;
  }
  throw new Error("expected an HpodError, nothing was thrown");
}

const b64 = (s: string): string => Buffer.from(s).toString("base64url");

describe("page tokens", () => {
  it("round-trip numbers and strings, keeping the type", () => {
    expect(decodePageToken(encodePageToken("trials:s1:", 41), "trials:s1:")).toBe(41);
    expect(decodePageToken(encodePageToken("trials:s1:", 0), "trials:s1:")).toBe(0);
    expect(decodePageToken(encodePageToken("studies", "my-study"), "studies")).toBe("my-study");
    expect(decodePageToken(encodePageToken("studies", "41"), "studies")).toBe("41");
    expect(decodePageToken(encodePageToken("studies", ""), "studies")).toBe("");
  });

  it("an empty token is the first page", () => {
    expect(decodePageToken("", "studies")).toBeUndefined();
  });

  it("tokens are URL-safe and opaque (no scope in clear)", () => {
    const t = encodePageToken("trials:secret-study:COMPLETE", 5);
    expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(t, "base64url").toString()).not.toContain("secret-study");
    expect(encodePageToken("a", 1)).toBe(encodePageToken("a", 1));
  });

  it("a token of another scope -> INVALID_ARGUMENT naming page_token", () => {
    const t = encodePageToken("trials:s1:", 10);
    for (const scope of ["trials:s2:", "trials:s1:COMPLETE", "studies"]) {
      const e = caught(() => decodePageToken(t, scope));
      expect(e.code).toBe(3);
      expect(e.field).toBe("page_token");
      expect(e.message).toBe("page_token: is not a token returned by this listing (or the filter changed)");
    }
    expect(caught(() => decodePageToken(t, "x", "request.page_token")).field).toBe("request.page_token");
  });

  it("garbage tokens -> INVALID_ARGUMENT", () => {
    const cases: Array<[string, string]> = [
      ["%%%", "page_token: is not a token returned by this listing"],
      ["not-a-token", "page_token: is not a token returned by this listing"],
      [b64("{"), "page_token: is not a token returned by this listing"],
      [b64("5"), "page_token: is not a token returned by this listing (or the filter changed)"],
      [b64("null"), "page_token: is not a token returned by this listing (or the filter changed)"],
      [b64("[1,2]"), "page_token: is not a token returned by this listing (or the filter changed)"],
      [b64("{}"), "page_token: is not a token returned by this listing (or the filter changed)"],
    ];
    for (const [token, message] of cases) {
      const e = caught(() => decodePageToken(token, "studies"));
      expect(e.code, token).toBe(3);
      expect(e.field).toBe("page_token");
      expect(e.message, token).toBe(message);
    }
  });

  it("a right-scope token with a bad position is rejected", () => {
    const body = JSON.parse(Buffer.from(encodePageToken("studies", 1), "base64url").toString()) as { s: string; a: unknown };
    for (const a of [true, null, { x: 1 }, [1]]) {
      const forged = b64(JSON.stringify({ s: body.s, a }));
      expect(caught(() => decodePageToken(forged, "studies")).code).toBe(3);
    }
    const missing = b64(JSON.stringify({ s: body.s }));
    expect(caught(() => decodePageToken(missing, "studies")).code).toBe(3);
    // the same body is accepted with a legal position
    expect(decodePageToken(b64(JSON.stringify({ s: body.s, a: 9 })), "studies")).toBe(9);
  });
});

describe("pageSize", () => {
  it("0 means the default; 1..max pass through", () => {
    expect(DEFAULT_PAGE_SIZE).toBe(100);
    expect(MAX_PAGE_SIZE).toBe(1000);
    expect(pageSize(0)).toBe(100);
    expect(pageSize(1)).toBe(1);
    expect(pageSize(250)).toBe(250);
    expect(pageSize(1000)).toBe(1000);
  });

  it("out of range or fractional -> INVALID_ARGUMENT naming the field", () => {
    for (const bad of [1001, -1, 2.5, NaN, Infinity]) {
      const e = caught(() => pageSize(bad));
      expect(e.code, String(bad)).toBe(3);
      expect(e.field).toBe("page_size");
      expect(e.message).toBe("page_size: must be in [1, 1000] (0 means 100)");
    }
    expect(caught(() => pageSize(-5, "list.page_size")).field).toBe("list.page_size");
  });
});
