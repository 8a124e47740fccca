/**
 * `hpo tune` end to end with the real daemon: 3 trials of the built-in MLP on
 * breast cancer (few epochs), once with an embedded daemon (spawned by the
 * CLI) and once against a daemon given with --address; plus the exit status
 * of a data error. Needs `npm run build` (dist/).
 */
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { HpodClient } from "../../client/hpod-client.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { hpoCli as hpo, removeDir, ROOT, startDaemon, tempDir, type Daemon } from "../helpers/daemon.js";

const DATA = join(ROOT, "examples", "tune", "data", "breast_cancer.csv");
const HAS_RSVG = (process.env.PATH ?? "").split(delimiter).some((d) => d !== "" && existsSync(join(d, "rsvg-convert")));

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe("hpo tune", () => {
  it("tunes 3 trials with an embedded daemon, saves the model and the report", async () => {
    const out = tempDir("tune-out-");
    dirs.push(out);
    const r = await hpo(["tune", "--data", DATA, "--target", "target", "--trials", "3", "--epochs", "4", "--out", out, "--seed", "1", "--gpus", "none"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/embedded daemon at 127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/tensorflow\.js backend: (wasm|cpu|tfjs-node)/);
    // Not a TTY: one plain progress line per trial, with the best so far.
    expect(r.stdout.match(/^\[\d\/3\] trial \d (complete|pruned|failed).*; best /gm)).toHaveLength(3);
    expect(r.stdout).toMatch(/held-out test accuracy: 0\.\d{4}/);
    const result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as {
      trials: Array<{ state: string; params: Record<string, unknown> }>;
      testScore: number;
      validationScore: number;
      bestParams: Record<string, unknown>;
      refit: boolean;
      folds: number;
      members: Array<{ trial: number; weight: number; epochs: number }>;
      portfolio: { trials: number[]; weight: number; lowestLossWeight: number; outOfBag: Array<{ weight: number; loss: number; score: number; excess: number; excessSd: number }> };
      outOfBagScore: number;
      finalTrainRows: number;
      modelPath: string;
    };
    expect(result.trials).toHaveLength(3);
    // The first trials are the enqueued portfolio: a logistic model, then two MLPs.
    expect(r.stderr).not.toMatch(/could not enqueue/);
    expect(result.trials[0].params.layers).toBe(0);
    expect(result.trials[1].params.layers).toBe(1);
    // 456 non-test rows (seed 1): 3-fold cross-validation; the final model is refit on all of them.
    expect(result.folds).toBe(3);
    expect(r.stderr).toMatch(/3-fold cross-validation on the 456 tuning rows/);
    expect(result.refit).toBe(true);
    expect(result.finalTrainRows).toBe(456);
    expect(result.members.length).toBeGreaterThanOrEqual(1);
    expect(result.members.reduce((s, m) => s + m.weight, 0)).toBeCloseTo(1, 9);
    expect(r.stdout).toMatch(/final model: refit on the 456 non-test rows \(3 seed\(s\) each\)/);
    // The three trials are the portfolio; its share was chosen among five by out-of-bag loss: the largest
    // share within one standard deviation of the lowest mean loss.
    expect(result.portfolio.trials).toEqual([0, 1, 2]);
    const oob = result.portfolio.outOfBag;
    expect(oob.map((x) => x.weight)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const lowest = oob.find((x) => x.weight === result.portfolio.lowestLossWeight)!;
    expect(lowest.loss).toBe(Math.min(...oob.map((x) => x.loss)));
    expect(lowest.excess).toBe(0);
    const within = oob.filter((x) => x.weight >= lowest.weight && x.excess <= x.excessSd).map((x) => x.weight);
    expect(result.portfolio.weight).toBe(Math.max(lowest.weight, ...within));
    expect(r.stderr).toContain(`lowest at ${lowest.weight}, chosen: the largest share within one SD of it`);
    expect(r.stdout).toContain(
      `portfolio share: ${result.portfolio.weight} (trials 0, 1, 2); lowest bootstrap out-of-bag loss at ${lowest.weight}, the largest share within one standard deviation of it taken`,
    );
    // BBC-CV's estimate of the final model's accuracy: the chosen share's out-of-bag score.
    expect(result.outOfBagScore).toBe(result.portfolio.outOfBag.find((x) => x.weight === result.portfolio.weight)!.score);
    expect(result.outOfBagScore).toBeGreaterThan(0.5);
    expect(result.outOfBagScore).toBeLessThanOrEqual(1);
    expect(r.stdout).toContain(`bootstrap out-of-bag accuracy (less optimistic than the validation score it was chosen on): ${result.outOfBagScore.toFixed(4)}`);
    expect(result.testScore).toBeGreaterThan(0.5);
    expect(result.validationScore).toBeGreaterThan(0.5);
    expect(Object.keys(result.bestParams)).toEqual(expect.arrayContaining(["layers", "units", "lr", "schedule", "batch_size", "optimizer"]));
    const modelFiles =
      result.members.length === 1
        ? ["model/model.json", "model/weights.bin", "model/preprocess.json"]
        : ["model/ensemble.json", ...result.members.flatMap((_, i) => [`model/member-${i}/model.json`, `model/member-${i}/weights.bin`, `model/member-${i}/preprocess.json`])];
    expect(result.modelPath).toBe(join(out, modelFiles[0]));
    for (const f of [...modelFiles, "report.html"]) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain("<svg");
    for (const chart of ["history", "importance", "parallel-coordinates", "learning-curves"]) {
      expect(existsSync(join(out, "plots", `${chart}.svg`)), chart).toBe(true);
      // PNG only where rsvg-convert (librsvg2-bin) is installed.
      expect(existsSync(join(out, "plots", `${chart}.png`))).toBe(HAS_RSVG);
    }
  });

  it("refits an exactly solved linear trial once, with the weight of all its refit seeds", async () => {
    const out = tempDir("tune-out-");
    dirs.push(out);
    // One trial: the portfolio's linear regression model, solved exactly; 3 folds, refit seeds 3.
    const r = await hpo(["tune", "--data", join(ROOT, "examples", "tune", "data", "diabetes.csv"), "--target", "progression", "--trials", "1", "--out", out, "--seed", "1", "--gpus", "none"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/refit of trial 0 .* solved exactly \(one refit/);
    expect(r.stdout).toMatch(/\(3 seed\(s\) each, one for an exactly solved linear trial\)/);
    const result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { refitSeeds: number; members: Array<{ trial: number; refits: number }> };
    expect(result.refitSeeds).toBe(3);
    expect(result.members).toEqual([expect.objectContaining({ trial: 0, refits: 1 })]);
    // Its 3 fold models (1/6 each) and the one refit (3/6): the weights of 3 fold models and 3 identical refits.
    const ensemble = JSON.parse(readFileSync(join(out, "model", "ensemble.json"), "utf8")) as { members: Array<{ weight: number }> };
    expect(ensemble.members.map((m) => m.weight)).toEqual([1 / 6, 1 / 6, 1 / 6, 3 / 6]);
  });

  describe("against a running daemon (--address)", () => {
    let daemon: Daemon;
    beforeAll(async () => {
      daemon = await startDaemon();
    });
    afterAll(async () => {
      await daemon.stop();
      removeDir(daemon.dataDir);
    });

    it("records per-epoch reports on the daemon's study", async () => {
      const out = tempDir("tune-out-");
      dirs.push(out);
      const r = await hpo(["tune", "--address", daemon.address, "--data", DATA, "--target", "target", "--trials", "3", "--epochs", "3", "--out", out, "--study", "smoke", "--algorithm", "random", "--pruner", "none", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { study: string; trialCount: number }).trialCount).toBe(3);
      const client = new HpodClient({ address: daemon.address });
      try {
        const { trials } = await client.listTrials({ study: "smoke" });
        expect(trials).toHaveLength(3);
        for (const t of trials) {
          expect(t.state).toBe(TrialState.TRIAL_STATE_COMPLETE);
          expect(t.intermediate.length).toBeGreaterThanOrEqual(1);
        }
      } finally {
        client.close();
      }
    });
  });

  it("exits 1 with a clear message on a data error, 2 on a usage error", async () => {
    const bad = await hpo(["tune", "--data", DATA, "--target", "label"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/target column "label" not found; columns: x0, x1/);
    // Fewer rows than folds: breast cancer's rarest class has about 170 tuning rows.
    const folds = await hpo(["tune", "--data", DATA, "--target", "target", "--folds", "400"]);
    expect(folds.code).toBe(1);
    expect(folds.stderr).toMatch(/class 0 has \d+ tuning \(non-test\) rows, fewer than the 400 folds asked for \(--folds\); use --folds \d+ or fewer/);
    const usage = await hpo(["tune", "--data", DATA]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--target is required/);
    const weight = await hpo(["tune", "--data", DATA, "--target", "target", "--portfolio-weight", "1.5"]);
    expect(weight.code).toBe(2);
    expect(weight.stderr).toMatch(/--portfolio-weight must be auto or a number in \[0, 1\], got "1.5"/);
  });
});
