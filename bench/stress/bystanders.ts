/**
 * Studies the fuzzer is never pointed at: created with some history first,
 * exported before and after, and compared.
 */
import { Direction, Study, StudySpec } from "../../client/gen/hpod/v1/study.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { ReportRequest } from "../../client/gen/hpod/v1/hpod_service.js";
import { exportStudy, type StressClient } from "./client.js";

export const BYSTANDERS = ["bystander-alpha", "bystander-beta"];

export async function createBystanders(c: StressClient): Promise<void> {
  for (const [k, name] of BYSTANDERS.entries()) {
    await c.createStudy({
      study: Study.fromPartial({
        name,
        labels: { role: "bystander" },
        spec: StudySpec.fromPartial({
          searchSpace: {
            parameters: [
              { name: "x", domain: { $case: "floatDomain", value: { low: -5, high: 5, log: false } } },
              { name: "n", domain: { $case: "intDomain", value: { low: 1, high: 10, log: false } } },
              { name: "c", domain: { $case: "categoricalDomain", value: { choices: [{ kind: { $case: "stringValue", value: "a" } }, { kind: { $case: "stringValue", value: "b" } }] } } },
            ],
          },
          objectives: [{ name: "loss", direction: k === 0 ? Direction.DIRECTION_MINIMIZE : Direction.DIRECTION_MAXIMIZE }],
          algorithm: { name: k === 0 ? "random" : "tpe", seed: 7 },
          pruner: { name: "none" },
          heartbeatTimeout: { seconds: 7 * 24 * 3600, nanos: 0 },
        }),
      }),
      loadIfExists: false,
    });
    for (let i = 0; i < 6; i++) {
      const s = await c.suggest({ study: name, count: 1, workerId: `bw${i}` });
      const t = s.trials[0];
      if (!t) continue;
      for (let step = 0; step < 3; step++) await c.report(ReportRequest.fromPartial({ study: name, trialId: t.id, step, values: [i + step / 10], workerId: `bw${i}` }));
      if (i < 4) await c.report(ReportRequest.fromPartial({ study: name, trialId: t.id, values: [i], final: true, workerId: `bw${i}` }));
      else if (i === 4) await c.report(ReportRequest.fromPartial({ study: name, trialId: t.id, failed: true, failureReason: "bystander failure", workerId: `bw${i}` }));
      // i === 5 stays RUNNING (a lease of 7 days)
    }
    await c.enqueueTrial({ study: name, params: { x: { kind: { $case: "numberValue", value: 1.5 } }, n: { kind: { $case: "intValue", value: 2 } }, c: { kind: { $case: "stringValue", value: "a" } } }, userAttrs: { q: "1" } });
    await c.addTrial({
      study: name,
      params: { x: { kind: { $case: "numberValue", value: 0.25 } }, n: { kind: { $case: "intValue", value: 3 } }, c: { kind: { $case: "stringValue", value: "b" } } },
      state: TrialState.TRIAL_STATE_COMPLETE,
      intermediate: [],
      finalMeasurement: { values: [0.125], constraintValues: [], metrics: {} },
      stateReason: "",
      userAttrs: {},
    });
  }
}

export async function exportBystanders(c: StressClient, dropAllHeartbeats = false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of BYSTANDERS) out[n] = await exportStudy(c, n, dropAllHeartbeats);
  return out;
}
