/**
 * The SDK against a daemon with bearer tokens: the token comes from the
 * client option or from HPOD_TOKEN / HPOD_TOKEN_FILE, and without one the
 * daemon refuses with UNAUTHENTICATED.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HpodClient } from "../../client/hpod-client.js";
import { HpodClientError } from "../../client/errors.js";
import { hashToken, newToken } from "../../server/rpc/auth/tokens.js";
import { removeDir, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";
import { study } from "../helpers/specs.js";

const token = newToken();
const dir = tempDir();
let d: Daemon;

beforeAll(async () => {
  const file = join(dir, "tokens.yaml");
  writeFileSync(file, `tokens:\n  - {name: sdk, sha256: ${hashToken(token)}, role: write, namespaces: ["*"]}\n`);
  d = await startDaemon({ args: ["--tokens-file", file] });
});

afterAll(async () => {
  await d.stop();
  removeDir(dir);
});

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) (v === undefined ? delete process.env[k] : (process.env[k] = v));
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) (v === undefined ? delete process.env[k] : (process.env[k] = v));
  }
}

describe("SDK credentials", () => {
  it("sends the token given as an option", async () => {
    const c = new HpodClient({ address: d.address, token, retry: { maxAttempts: 1 } });
    const res = await c.createStudy({ study: study("sdk-auth-option"), loadIfExists: true });
    expect(res.study?.name).toBe("sdk-auth-option");
    c.close();
  });

  it("takes the token from HPOD_TOKEN or HPOD_TOKEN_FILE", async () => {
    const fromEnv = withEnv({ HPOD_TOKEN: token, HPOD_TOKEN_FILE: undefined }, () => new HpodClient({ address: d.address }));
    expect((await fromEnv.listStudies({})).studies.length).toBeGreaterThanOrEqual(0);
    fromEnv.close();
    const file = join(dir, "token");
    writeFileSync(file, token + "\n");
    const fromFile = withEnv({ HPOD_TOKEN: undefined, HPOD_TOKEN_FILE: file }, () => new HpodClient({ address: d.address }));
    await fromFile.getStudy({ name: "sdk-auth-option" });
    fromFile.close();
  });

  it("is refused without a token", async () => {
    const c = withEnv({ HPOD_TOKEN: undefined, HPOD_TOKEN_FILE: undefined }, () => new HpodClient({ address: d.address, retry: { maxAttempts: 1 } }));
    const err = await c.listStudies({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HpodClientError);
    expect((err as HpodClientError).codeName).toBe("UNAUTHENTICATED");
    c.close();
  });
});
