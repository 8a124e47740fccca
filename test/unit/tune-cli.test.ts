/**
 * hpo tune's command line (argv routing, usage errors) and its built-in study
 * (a valid hpod.v1.Study for every task and data shape).
 */
import { PassThrough } from "node:stream";

import { describe, expect, it } from "vitest";

import { tuneArgv, tuneMain } from "../../client/cli/commands/tune.js";
import { studyFromJson } from "../../client/proto-json.js";
import { tuneStudyJson } from "../../gpu-runner/tfjs/space.js";
import { runTune, TuneError } from "../../gpu-runner/tfjs/tune.js";

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (b: Buffer) => (out += b.toString()));
  stderr.on("data", (b: Buffer) => (err += b.toString()));
  return { io: { stdout, stderr, stdin: new PassThrough(), env: {} }, out: () => out, err: () => err };
}

describe("tuneArgv", () => {
  it("routes tune with the global flags before it", () => {
    expect(tuneArgv(["tune", "--data", "x"])).toEqual(["--data", "x"]);
    expect(tuneArgv(["--address", "h:1", "--json", "tune", "--data", "x"])).toEqual(["--address", "h:1", "--json", "--data", "x"]);
    expect(tuneArgv(["study", "list"])).toBeUndefined();
  });
});

describe("tuneMain usage", () => {
  it("prints help", async () => {
    const t = io();
    expect(await tuneMain(["--help"], t.io, new AbortController().signal)).toBe(0);
    expect(t.out()).toMatch(/^Usage: hpo tune --data FILE\.csv --target COLUMN/);
  });

  it.each([
    [["--target", "y"], /--data is required/],
    [["--data", "f.csv", "--target", "y", "--trials", "0"], /--trials must be an integer >= 1/],
    [["--data", "f.csv", "--target", "y", "--task", "ranking"], /--task must be classification or regression/],
    [["--data", "f.csv", "--target", "y", "--backend", "webgpu"], /--backend must be one of/],
    [["--data", "f.csv", "--target", "y", "--bogus"], /Unknown option '--bogus'/],
    [["--data", "f.csv", "--target", "y", "--folds", "0"], /--folds must be an integer >= 1, got "0"/],
    [["--data", "f.csv", "--target", "y", "--folds", "2.5"], /--folds must be an integer >= 1, got "2.5"/],
    [["--data", "f.csv", "--target", "y", "--ensemble", "0"], /--ensemble must be an integer >= 1, got "0"/],
    [["--data", "f.csv", "--target", "y", "--refit-seeds=-1"], /--refit-seeds must be an integer >= 1, got "-1"/],
    [["--data", "f.csv", "--target", "y", "--refit-seeds", "-1"], /argument is ambiguous/],
    [["--data", "f.csv", "--target", "y", "--refit-seeds", "many"], /--refit-seeds must be an integer >= 1, got "many"/],
    [["--data", "f.csv", "--target", "y", "--portfolio-weight", "half"], /--portfolio-weight must be auto or a number in \[0, 1\], got "half"/],
    [["--data", "f.csv", "--target", "y", "--portfolio-weight=-0.25"], /--portfolio-weight must be auto or a number in \[0, 1\], got "-0.25"/],
  ])("%j exits 2", async (argv, message) => {
    const t = io();
    expect(await tuneMain(argv, t.io, new AbortController().signal)).toBe(2);
    expect(t.err()).toMatch(message);
  });

  it("runTune refuses a portfolio weight outside [0, 1] before it reads anything", async () => {
    const options = { data: "/nonexistent.csv", target: "y", trials: 1, algorithm: "auto", pruner: "none", gpus: "none", out: "/nonexistent-out", seed: 0, write: () => undefined, isTty: false, log: () => undefined };
    await expect(runTune({ ...options, portfolioWeight: Number.NaN })).rejects.toThrow(new TuneError('portfolioWeight must be "auto" or a number in [0, 1], got NaN'));
    await expect(runTune({ ...options, portfolioWeight: 1.5 })).rejects.toBeInstanceOf(TuneError);
  });

  it("exits 1 on an unreadable data file", async () => {
    const t = io();
    expect(await tuneMain(["--data", "/nonexistent.csv", "--target", "y"], t.io, new AbortController().signal)).toBe(1);
    expect(t.err()).toMatch(/cannot read \/nonexistent\.csv/);
  });
});

describe("tuneStudyJson", () => {
  it.each([
    ["classification", false],
    ["classification", true],
    ["regression", false],
  ] as const)("%s (image %s) is a valid study", (task, image) => {
    const study = studyFromJson(tuneStudyJson({ name: "s", task, trials: 7, maxEpochs: 12, image, features: 30, algorithm: "auto", pruner: "median", seed: 3 }));
    const names = study.spec!.searchSpace!.parameters.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(["layers", "units", "activation", "optimizer", "lr", "schedule", "batch_size", "patience", "l1", "l2", "dropout", "standardize", "feature_selection", "keep_fraction", "augment", "augment_strength"]));
    expect(study.spec!.maxTrials).toBe(7);
    expect(study.spec!.objectives[0].name).toBe(task === "classification" ? "val_accuracy" : "val_r2");
    const augment = study.spec!.searchSpace!.parameters.find((p) => p.name === "augment")!;
    const choices = augment.domain?.$case === "categoricalDomain" ? augment.domain.value.choices.length : 0;
    expect(choices).toBe(image ? 6 : 3);
  });
});
