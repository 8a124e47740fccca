import { hostname } from "node:os";

import { describe, expect, it } from "vitest";

import { defaultWorkerId, slotWorkerId } from "../../client/worker-id.js";

describe("worker ids", () => {
  it("uses HPOD_WORKER_ID when set", () => {
    expect(defaultWorkerId({ HPOD_WORKER_ID: "gpu-box:0" })).toBe("gpu-box:0");
    expect(defaultWorkerId({ HPOD_WORKER_ID: "  padded  " })).toBe("padded");
  });

  it("otherwise is host:pid:random, created once per process", () => {
    const id = defaultWorkerId({});
    const prefix = `${hostname()}:${process.pid}:`;
    expect(id.startsWith(prefix)).toBe(true);
    expect(id.slice(prefix.length)).toMatch(/^[0-9a-f]{8}$/);
    expect(defaultWorkerId({})).toBe(id);
    expect(defaultWorkerId({ HPOD_WORKER_ID: "" })).toBe(id);
  });

  it("derives one id per optimize slot", () => {
    expect(slotWorkerId("host:1:ab", 0)).toBe("host:1:ab/0");
    expect(slotWorkerId("w", 3)).toBe("w/3");
    expect(() => slotWorkerId("w", -1)).toThrow(RangeError);
    expect(() => slotWorkerId("w", 1.5)).toThrow(RangeError);
  });
});
