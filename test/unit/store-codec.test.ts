/**
 * Record codecs (JSON with tagged non-finite numbers) and the LevelDB key
 * layout.
 */
import { describe, expect, it } from "vitest";

import type { Measurement, Trial } from "../../server/core/model.js";
import {
  decodeMeasurement,
  decodeStudy,
  decodeTrial,
  encodeMeasurement,
  encodeStudy,
  encodeTrial,
  type StudyRecord,
} from "../../server/store/codec.js";
import { measurementKey, parseKey, PROBE_KEY, range, SCHEMA_VERSION_KEY, studyKey, trialKey } from "../../server/store/keys.js";

const m = (over: Partial<Measurement> = {}): Measurement => ({ values: [0.5], constraintValues: [], metrics: {}, time: 1000, ...over });

function trial(over: Partial<Trial> = {}): Trial {
  return {
    study: "s",
    id: 3,
    state: "FAILED",
    params: { lr: 0.01, opt: "adam", flag: true },
    intermediate: [m({ step: 0 }), m({ step: 1 })],
    final: m({ values: [NaN, Infinity], constraintValues: [-Infinity] }),
    workerId: "w",
    stateReason: "objective or constraint value is NaN",
    source: "SAMPLED",
    createTime: 1,
    startTime: 2,
    endTime: 3,
    heartbeatTime: 4,
    decision: "CONTINUE",
    decisionReason: "",
    userAttrs: { k: "v" },
    ...over,
  };
}

describe("codec", () => {
  it("measurements keep NaN and +/-Infinity", () => {
    const x = m({ step: 7, values: [NaN, Infinity, -Infinity, 1.5, -0.25], constraintValues: [NaN], metrics: { a: NaN, b: 2 }, elapsedMs: 12 });
    const text = encodeMeasurement(x);
    expect(() => JSON.parse(text)).not.toThrow();
    expect(JSON.parse(text).values).toEqual(["NaN", "Infinity", "-Infinity", 1.5, -0.25]);
    const back = decodeMeasurement(text);
    expect(back).toEqual(x);
    expect(Number.isNaN(back.values[0])).toBe(true);
    expect(back.values[1]).toBe(Infinity);
    expect(back.values[2]).toBe(-Infinity);
    expect(Number.isNaN(back.metrics.a)).toBe(true);
  });

  it("encodeTrial drops intermediate and heartbeatTime and keeps the rest", () => {
    const t = trial();
    const text = encodeTrial(t);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect("intermediate" in parsed).toBe(false);
    expect("heartbeatTime" in parsed).toBe(false);
    const back = decodeTrial(text);
    const { intermediate: _i, heartbeatTime: _h, ...rest } = t;
    expect(back).toEqual(rest);
    expect(back.final!.values[1]).toBe(Infinity);
    expect(Number.isNaN(back.final!.values[0])).toBe(true);
    expect(back.final!.constraintValues).toEqual([-Infinity]);
    // the trial itself is not modified
    expect(t.intermediate.length).toBe(2);
    expect(t.heartbeatTime).toBe(4);
  });

  it("an lr_schedule parameter round-trips", () => {
    const t = trial({
      params: {
        sched: { kind: "multi_step", values: { gamma: 0.5 }, milestones: [10, 20], mode: "", totalSteps: 100, warmupSteps: 0, warmupStartFactor: 0 },
      },
    });
    expect(decodeTrial(encodeTrial(t)).params).toEqual(t.params);
  });

  it("studies round-trip, with the deleting flag", () => {
    const s: StudyRecord = {
      name: "s",
      namespace: "default",
      spec: {
        space: { parameters: [{ name: "x", domain: { type: "float", low: 0, high: 1, log: false } }] },
        objectives: [{ name: "loss", direction: "minimize" }],
        constraints: [],
        algorithm: { name: "random", seed: 9 },
        pruner: {
          name: "",
          startupTrials: 0,
          warmupSteps: 0,
          intervalSteps: 0,
          percentile: 0,
          patience: 0,
          minResource: 0,
          maxResource: 0,
          reductionFactor: 0,
          brackets: 0,
          confidence: 0,
          lower: -Infinity,
        },
        maxTrials: 10,
        heartbeatTimeoutMs: 1000,
        maxStaleRetries: 1,
      },
      state: "ACTIVE",
      stateReason: "",
      createTime: 1,
      updateTime: 2,
      resolvedAlgorithm: "random",
      labels: { team: "a" },
      deleting: true,
    };
    const back = decodeStudy(encodeStudy(s));
    expect(back).toEqual(s);
    expect(back.spec.pruner.lower).toBe(-Infinity);
  });

  // The tags are ordinary strings, so a user string equal to a tag (a
  // categorical choice, a user attribute, a reason) decodes as a number.
  it("a string equal to a tag survives the round trip", () => {
    const t = trial({ userAttrs: { note: "\u0000NaN", plain: "__NaN__" }, params: { mode: "\u0000\u0000+Inf" } });
    const back = decodeTrial(encodeTrial(t));
    expect(back.userAttrs.note).toBe("\u0000NaN");
    expect(back.userAttrs.plain).toBe("__NaN__");
    expect(back.params.mode).toBe("\u0000\u0000+Inf");
  });
});

describe("keys", () => {
  const inRange = (k: string, r: { gte: string; lt: string }): boolean => k >= r.gte && k < r.lt;
  /** LevelDB compares UTF-8 bytes. */
  const inRangeBytes = (k: string, r: { gte: string; lt: string }): boolean =>
    Buffer.compare(Buffer.from(k), Buffer.from(r.gte)) >= 0 && Buffer.compare(Buffer.from(k), Buffer.from(r.lt)) < 0;

  it("layout", () => {
    expect(studyKey("abc")).toBe("s\u0000abc");
    expect(trialKey("abc", 42)).toBe("t\u0000abc\u0000000000000042");
    expect(measurementKey("abc", 42, 7)).toBe("m\u0000abc\u0000000000000042\u00000000000000000007");
    expect(SCHEMA_VERSION_KEY).toBe("meta\u0000schema_version");
    expect(PROBE_KEY).toBe("meta\u0000probe");
  });

  it("lexicographic order of ids and steps is numeric order", () => {
    const idList = [0, 1, 2, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 999_999_999_999];
    const shuffled = [...idList].reverse().map((_x, i, a) => a[(i * 5) % a.length]!);
    expect(shuffled.map((i) => trialKey("s", i)).sort()).toEqual(idList.map((i) => trialKey("s", i)));
    const steps = [0, 1, 5, 10, 50, 100, 1_000_000, 2 ** 40, Number.MAX_SAFE_INTEGER];
    const mk = steps.map((s) => measurementKey("s", 3, s));
    expect([...mk].reverse().sort()).toEqual(mk);
    // (id, step) order: every step of trial 9 before any of trial 10
    const mixed = [measurementKey("s", 10, 0), measurementKey("s", 9, 1_000_000), measurementKey("s", 9, 2), measurementKey("s", 10, 1)];
    expect([...mixed].sort()).toEqual([
      measurementKey("s", 9, 2),
      measurementKey("s", 9, 1_000_000),
      measurementKey("s", 10, 0),
      measurementKey("s", 10, 1),
    ]);
    // byte order agrees
    const bytes = [...mk].reverse().sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(bytes).toEqual(mk);
  });

  it("parseKey round trip", () => {
    expect(parseKey(trialKey("my.study-1", 123))).toEqual({ kind: "t", study: "my.study-1", id: 123 });
    expect(parseKey(measurementKey("x", 0, 99))).toEqual({ kind: "m", study: "x", id: 0, step: 99 });
    expect(parseKey(measurementKey("x", 999_999_999_999, Number.MAX_SAFE_INTEGER))).toEqual({
      kind: "m",
      study: "x",
      id: 999_999_999_999,
      step: Number.MAX_SAFE_INTEGER,
    });
    expect(parseKey(studyKey("abc"))).toEqual({ kind: "s", study: "abc" });
  });

  it("a study range holds exactly that study's keys ('a' vs 'ab', 'a.b', 'a-')", () => {
    const others = ["ab", "a.b", "a-", "A", "b", "_a"];
    for (const kind of ["t", "m"] as const) {
      const r = range(kind, "a");
      expect(r).toEqual({ gte: `${kind}\u0000a\u0000`, lt: `${kind}\u0000a\u0000\uffff` });
      const mine = kind === "t" ? [0, 1, 5000].map((i) => trialKey("a", i)) : [0, 7].map((i) => measurementKey("a", i, 3));
      for (const k of mine) {
        expect(inRange(k, r)).toBe(true);
        expect(inRangeBytes(k, r)).toBe(true);
      }
      const theirs = [
        ...others.flatMap((s) => [trialKey(s, 0), measurementKey(s, 0, 0), studyKey(s)]),
        studyKey("a"),
        kind === "t" ? measurementKey("a", 0, 0) : trialKey("a", 0),
        SCHEMA_VERSION_KEY,
        PROBE_KEY,
      ];
      for (const k of theirs) {
        expect(inRange(k, r), JSON.stringify(k)).toBe(false);
        expect(inRangeBytes(k, r), JSON.stringify(k)).toBe(false);
      }
    }
  });

  it("a kind range holds that kind's keys of every study and nothing else", () => {
    const r = range("s");
    expect(r).toEqual({ gte: "s\u0000", lt: "s\u0000\uffff" });
    for (const s of ["a", "ab", "Z9", "z.z-z_z"]) {
      expect(inRangeBytes(studyKey(s), r)).toBe(true);
      expect(inRangeBytes(trialKey(s, 1), r)).toBe(false);
      expect(inRangeBytes(trialKey(s, 1), range("t"))).toBe(true);
      expect(inRangeBytes(measurementKey(s, 1, 1), range("t"))).toBe(false);
    }
    expect(inRangeBytes(SCHEMA_VERSION_KEY, range("s"))).toBe(false);
  });
});
