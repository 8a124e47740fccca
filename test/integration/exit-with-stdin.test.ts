/**
 * --exit-with-stdin: a private daemon (hpo tune's embedded one) shuts down
 * cleanly when its stdin pipe closes, so it never outlives its parent, even
 * a parent killed with SIGKILL.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { removeDir, ROOT, startDaemon, tempDir } from "../helpers/daemon.js";
import { connect } from "../helpers/grpc-client.js";
import { study } from "../helpers/specs.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe("--exit-with-stdin", () => {
  it("stops cleanly (exit 0) when stdin reaches end-of-file; what it acknowledged is there after a restart", async () => {
    const d = await startDaemon({ args: ["--exit-with-stdin"], stdin: "pipe" });
    dirs.push(d.dataDir);
    const c = connect(d.address);
    await c.createStudy({ study: study("kept"), loadIfExists: false });
    c.close();
    const exited = new Promise<number | null>((res) => d.proc.once("exit", (code) => res(code)));
    d.proc.stdin!.end();
    expect(await exited).toBe(0);
    expect(d.logs.some((l) => l.includes("stdin closed"))).toBe(true);
    expect(d.logs.some((l) => l.includes("stopped cleanly"))).toBe(true);
    const again = await startDaemon({ dataDir: d.dataDir });
    const c2 = connect(again.address);
    try {
      expect((await c2.getStudy({ name: "kept" })).study?.name).toBe("kept");
    } finally {
      c2.close();
      expect(await again.stop()).toBe(0);
    }
  });

  it("without the flag, a closed stdin changes nothing", async () => {
    const d = await startDaemon({ stdin: "pipe" });
    dirs.push(d.dataDir);
    d.proc.stdin!.end();
    await new Promise((r) => setTimeout(r, 500));
    expect(d.proc.exitCode).toBeNull();
    expect(await d.stop()).toBe(0);
  });

  it("hpo tune's embedded daemon goes away when its parent is SIGKILLed, releasing its store", async () => {
    // A parent that starts the embedded daemon the way runTune does, says where, and waits.
    const tune = join(ROOT, "dist", "gpu-runner", "tfjs", "tune.js");
    const script = `const { startEmbeddedDaemon } = await import(${JSON.stringify(tune)}); await startEmbeddedDaemon(process.argv[1], (l) => console.log(l)); setInterval(() => {}, 1000);`;
    const dataDir = tempDir("hpod-exit-with-stdin-");
    dirs.push(dataDir);
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script, dataDir], { stdio: ["ignore", "pipe", "inherit"] });
    const address = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error("embedded daemon did not start")), 30_000);
      createInterface({ input: parent.stdout! }).on("line", (line) => {
        const m = /embedded daemon at (\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          res(m[1]);
        }
      });
    });
    const c = connect(address);
    await c.createStudy({ study: study("before-kill"), loadIfExists: false });
    c.close();
    parent.kill("SIGKILL");
    // The daemon releases the store's lock when it stops: another daemon can then open the same directory.
    let next: Awaited<ReturnType<typeof startDaemon>> | undefined;
    for (let i = 0; i < 40 && next === undefined; i++) {
      try {
        next = await startDaemon({ dataDir, timeoutMs: 5000 });
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(next, "the embedded daemon still holds its data directory").toBeDefined();
    const c2 = connect(next!.address);
    try {
      expect((await c2.getStudy({ name: "before-kill" })).study?.name).toBe("before-kill");
    } finally {
      c2.close();
      expect(await next!.stop()).toBe(0);
    }
  });
});
