/**
 * The curve pruner's forecast on a pruned trial: recorded durably on the
 * trial (Trial.decisionForecast, in the objective's units), shown to the
 * samplers as TrialView.forecast (single objective only), rebuilt from the
 * stored records after a restart, and used by TPE's split in place of the
 * last intermediate value.
 */
import { describe, expect, it } from "vitest";

import type { Trial } from "../../../server/core/model.js";
import { splitTrials } from "../../../server/core/samplers/tpe/split.js";
import { DEFAULT_TPE_SETTINGS } from "../../../server/core/samplers/tpe/settings.js";
import type { TrialView } from "../../../server/core/samplers/sampler.js";
import { buildRuntime } from "../../../server/core/study-spec.js";
import type { StudyRuntime } from "../../../server/core/study-runtime.js";
import { decodeTrial, encodeTrial } from "../../../server/store/codec.js";
import { input, makeRuntime, runTrial, start } from "./sim.js";

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const exp = (c: number, a: number, tau: number) => (t: number) => c + a * Math.exp(-t / tau);

function drive(rt: StudyRuntime, t: Trial, curve: (s: number) => number, n: number): string {
  for (let s = 1; s <= n; s++) {
    const r = rt.report(input(t.id, { step: s, values: [curve(s)] }), 1);
    if (r.decision === "PRUNE") return r.reason;
  }
  return "";
}

describe("the forecast of a pruned trial", () => {
  for (const direction of ["minimize", "maximize"] as const) {
    it(`is stored on the trial, shown to samplers and rebuilt after a restart (${direction})`, () => {
      const sg = direction === "minimize" ? 1 : -1;
      const rt = makeRuntime({ name: "" }, [direction]);
      for (let i = 0; i < 6; i++) runTrial(rt, range(1, 50).map((s) => sg * exp(0.1 + 0.02 * i, 1, 8)(s)));
      const t = start(rt);
      const reason = drive(rt, t, (s) => sg * exp(0.5, 1, 8)(s), 50);
      const m = /^curve: predicted final (\S+) \[/.exec(reason);
      expect(m, reason).not.toBeNull();
      expect(t.state).toBe("PRUNED");
      // In the objective's own units, as the reason gives it (4 significant digits there).
      expect(t.decisionForecast).toBeDefined();
      expect(Math.abs((t.decisionForecast as number) - Number(m?.[1]))).toBeLessThan(1e-3);
      expect(Math.abs((t.decisionForecast as number) - sg * 0.5)).toBeLessThan(0.02);
      expect(rt.views[t.id]?.forecast).toBe(t.decisionForecast);

      // Through the store's codec (intermediate values are stored under keys of their own).
      const stored = rt.trials.map((x) => ({ ...decodeTrial(encodeTrial(x)), intermediate: structuredClone(x.intermediate) }) as Trial);
      const again = buildRuntime(structuredClone(rt.study), stored, 1);
      expect(again.views[t.id]?.forecast).toBe(t.decisionForecast);
      expect(again.views[t.id]?.lastIntermediate).toEqual(rt.views[t.id]?.lastIntermediate);
    });
  }

  it("is absent for prunes without a forecast (far worse), and for trials that were not pruned", () => {
    const rt = makeRuntime({ name: "" });
    for (let i = 0; i < 5; i++) runTrial(rt, range(1, 50).map(exp(0.1 + 0.02 * i, 1, 6)));
    const t = start(rt);
    expect(drive(rt, t, () => 40, 50)).toMatch(/far worse/);
    expect(t.decisionForecast).toBeUndefined();
    expect(rt.views[t.id]?.forecast).toBeUndefined();
    expect(rt.views[t.id]?.lastIntermediate).toEqual({ step: 2, value: 40 });
    expect(rt.views[0]?.forecast).toBeUndefined();
  });

  it("TPE ranks a pruned trial at its forecast among the completed ones", () => {
    const flat = { x: 0.5 };
    const views: TrialView[] = [
      ...range(0, 9).map((i): TrialView => ({ id: i, state: "COMPLETE", flat, values: [1 + i] })),
      // Stopped early at a poor value, but forecast to end best.
      { id: 10, state: "PRUNED", flat, lastIntermediate: { step: 5, value: 50 }, forecast: 0.5 },
      { id: 11, state: "PRUNED", flat, lastIntermediate: { step: 90, value: 0.1 } },
    ];
    const split = splitTrials(views, ["minimize"], DEFAULT_TPE_SETTINGS);
    // gamma(12) = 2: the forecast 0.5 and the value 1.
    expect(split.below).toEqual([0, 10]);
    // Without the forecast, a pruned trial ranks after every completed one.
    const { forecast: _f, ...plain } = views[10] as TrialView;
    const without = splitTrials([...views.slice(0, 10), plain, views[11] as TrialView], ["minimize"], DEFAULT_TPE_SETTINGS);
    expect(without.below).toEqual([0, 1]);
  });
});
