/**
 * The API definition: buf lint (STANDARD) is clean, and the committed
 * generated code and descriptor set are exactly what `npm run generate`
 * produces from the protos (a stale client/gen fails here).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { removeDir, ROOT, tempDir } from "../helpers/daemon.js";

const BUF = join(ROOT, "node_modules", ".bin", "buf");
const out = tempDir("hpod-gen-");
afterAll(() => removeDir(out));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("proto", () => {
  it("passes buf lint", () => {
    expect(() => execFileSync(BUF, ["lint"], { cwd: ROOT, encoding: "utf8" })).not.toThrow();
  });

  it("has committed generated code that matches the protos", () => {
    execFileSync(BUF, ["generate", "-o", out], { cwd: ROOT });
    execFileSync(BUF, ["build", "-o", join(out, "client", "gen", "hpod.binpb")], { cwd: ROOT });
    const fresh = files(join(out, "client", "gen")).map((f) => relative(out, f)).sort();
    const committed = files(join(ROOT, "client", "gen")).map((f) => relative(ROOT, f)).sort();
    expect(committed).toEqual(fresh);
    for (const f of fresh) {
      const a = readFileSync(join(out, f));
      const b = readFileSync(join(ROOT, f));
      expect(a.equals(b), `${f} is stale: run npm run generate`).toBe(true);
    }
  });
});
