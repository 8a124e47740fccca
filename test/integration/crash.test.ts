/**
 * Crash consistency, short version of bench/crash.ts: 16 workers on 4 studies with intermediate reports, the daemon
 * SIGKILLed 5 times (the last kill during a create/fill/delete churn), reports that did not come back retried after
 * the restart. Nothing acknowledged is lost, no trial id or step is duplicated, nothing stays RUNNING past its
 * lease, and every churned study is fully there or fully gone.
 */
import { afterAll, describe, expect, it } from "vitest";
import { formatCrash, runCrash } from "../../bench/stress/crash-engine.js";
import { freshDir } from "../../bench/stress/daemon.js";
import { removeDir } from "../helpers/daemon.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe("crash consistency under repeated SIGKILL", () => {
  it("loses nothing acknowledged across 5 kills", { timeout: 180_000 }, async () => {
    const dataDir = freshDir();
    dirs.push(dataDir);
    const f = await runCrash({ dataDir, kills: 5, workers: 16, studies: 4, steps: 4, seed: 5, minRunMs: 300, maxRunMs: 1200, churnKills: 1 });
    console.log(formatCrash(f));
    expect(f.kills).toBe(5);
    expect(f.acknowledgedReports).toBeGreaterThan(0);
    expect(f.problems).toEqual([]);
    expect(f.lost).toBe(0);
    expect(f.wrongValue).toBe(0);
    expect(f.duplicateTrialIds).toBe(0);
    expect(f.duplicateSteps).toBe(0);
    expect(f.stuckRunning).toBe(0);
    expect(f.studiesLoaded).toBe(4);
    expect(f.churnHalf).toBe(0);
    expect(f.churnLost).toBe(0);
  });
});
