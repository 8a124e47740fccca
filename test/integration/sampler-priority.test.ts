/**
 * The sampler worker threads run niced (Linux) so that RPCs preempt model
 * fits: read every thread's nice value of a real daemon from /proc.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { removeDir, startDaemon } from "../helpers/daemon.js";

/** Nice values of a process's threads (field 19 of /proc/PID/task/TID/stat). */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      // The command name may hold spaces; fields after it are plain.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return [Number(fields[16])];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

/** Threads at `nice` once `expected` of them are (workers lower their priority as they start), or after 5 s. */
async function nicedThreads(pid: number, nice: number, expected: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < 100 && n < expected; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 50));
    n = threadNiceness(pid).filter((v) => v === nice).length;
  }
  return n;
}

const processNiceness = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
};

describe.runIf(existsSync("/proc/thread-self"))("sampler thread priority", () => {
  it("sampler threads are niced by default and the event loop is not", async () => {
    const d = await startDaemon({ args: ["--sampler-threads", "2"] });
    try {
      const pid = d.proc.pid!;
      expect(await nicedThreads(pid, 10, 2)).toBe(2);
      // The main thread (the process's own stat) keeps its priority.
      expect(processNiceness(pid)).toBe(0);
    } finally {
      expect(await d.stop()).toBe(0);
      removeDir(d.dataDir);
    }
  });

  it("--sampler-niceness sets the value; 0 leaves the threads alone", async () => {
    const d = await startDaemon({ args: ["--sampler-threads", "1", "--sampler-niceness", "3"] });
    const e = await startDaemon({ args: ["--sampler-threads", "1", "--sampler-niceness", "0"] });
    try {
      expect(await nicedThreads(d.proc.pid!, 3, 1)).toBe(1);
      expect(threadNiceness(e.proc.pid!).every((v) => v === 0)).toBe(true);
    } finally {
      expect(await d.stop()).toBe(0);
      expect(await e.stop()).toBe(0);
      removeDir(d.dataDir);
      removeDir(e.dataDir);
    }
  });
});
