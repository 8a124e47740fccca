/** The commands with their own flags are found after the global --address / --json flags. */
import { describe, expect, it } from "vitest";

import { predictArgv } from "../../client/cli/commands/predict.js";
import { runnerArgv } from "../../client/cli/commands/runner.js";
import { ownCommandArgv } from "../../client/cli/own-command.js";

describe("ownCommandArgv", () => {
  it("splits the global flags, --json and the command's arguments", () => {
    expect(ownCommandArgv(["--address", "h:1", "--json", "tune", "--data", "x"], "tune")).toEqual({ globals: ["--address", "h:1", "--json"], json: true, args: ["--data", "x"] });
    expect(ownCommandArgv(["--address=h:1", "predict"], "predict")).toEqual({ globals: ["--address=h:1"], json: false, args: [] });
    // The command word must come first after the globals.
    expect(ownCommandArgv(["study", "tune"], "tune")).toBeUndefined();
    expect(ownCommandArgv(["--address", "tune"], "tune")).toBeUndefined();
    expect(ownCommandArgv([], "tune")).toBeUndefined();
  });

  it("runner keeps the globals; predict keeps only --json (it needs no daemon)", () => {
    expect(runnerArgv(["--address", "h:1", "runner", "--study", "s"])).toEqual(["--address", "h:1", "--study", "s"]);
    expect(predictArgv(["--address", "h:1", "--json", "predict", "--model", "m"])).toEqual(["--json", "--model", "m"]);
    expect(predictArgv(["--address", "h:1", "predict", "--model", "m"])).toEqual(["--model", "m"]);
    expect(predictArgv(["runner"])).toBeUndefined();
  });
});
