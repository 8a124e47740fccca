/** Builders for proto requests used across tests. */
import { Study, Direction, PrunerSpec, StudySpec } from "../../client/gen/hpod/v1/study.js";
import type { Parameter, ParameterValue } from "../../client/gen/hpod/v1/search_space.js";
import { ReportRequest } from "../../client/gen/hpod/v1/hpod_service.js";

export const floatParam = (name: string, low: number, high: number, extra: { log?: boolean; step?: number } = {}): Parameter => ({
  name,
  description: "",
  domain: { $case: "floatDomain", value: { low, high, log: extra.log ?? false, step: extra.step } },
});

export const intParam = (name: string, low: number, high: number, extra: { log?: boolean; step?: number } = {}): Parameter => ({
  name,
  description: "",
  domain: { $case: "intDomain", value: { low, high, log: extra.log ?? false, step: extra.step } },
});

export const str = (s: string): ParameterValue => ({ kind: { $case: "stringValue", value: s } });
export const num = (x: number): ParameterValue => ({ kind: { $case: "numberValue", value: x } });
export const int = (x: number): ParameterValue => ({ kind: { $case: "intValue", value: x } });

export const catParam = (name: string, choices: string[]): Parameter => ({
  name,
  description: "",
  domain: { $case: "categoricalDomain", value: { choices: choices.map(str) } },
});

export interface StudyOptions {
  params?: Parameter[];
  algorithm?: string;
  seed?: number;
  maxTrials?: number;
  directions?: Direction[];
  constraints?: string[];
  heartbeatTimeoutSeconds?: number;
  maxStaleRetries?: number;
  /**
   * Default "none": tests that are not about pruning must not be pruned by the
   * default pruner. A name, or a whole PrunerSpec ("" in it: the default pruner).
   */
  pruner?: string | Partial<PrunerSpec>;
}

export function study(name: string, o: StudyOptions = {}): Study {
  const dirs = o.directions ?? [Direction.DIRECTION_MINIMIZE];
  return Study.fromPartial({
    name,
    spec: StudySpec.fromPartial({
      searchSpace: { parameters: o.params ?? [floatParam("x", -5, 5), intParam("n", 1, 10)] },
      objectives: dirs.map((direction, i) => ({ name: `obj${i}`, direction })),
      constraints: (o.constraints ?? []).map((c) => ({ name: c })),
      algorithm: { name: o.algorithm ?? "random", seed: o.seed ?? 1 },
      maxTrials: o.maxTrials ?? 0,
      heartbeatTimeout: o.heartbeatTimeoutSeconds ? { seconds: o.heartbeatTimeoutSeconds, nanos: 0 } : undefined,
      maxStaleRetries: o.maxStaleRetries ?? 0,
      pruner: typeof o.pruner === "object" ? PrunerSpec.fromPartial(o.pruner) : { name: o.pruner ?? "none" },
    }),
  });
}

export function report(studyName: string, trialId: number, values: number[], o: Partial<ReportRequest> = {}): ReportRequest {
  return ReportRequest.fromPartial({ study: studyName, trialId, values, ...o });
}

/** The plain value of a ParameterValue. */
export function plain(v: ParameterValue | undefined): unknown {
  return v?.kind?.value;
}
