/** A promise wrapper over the generated grpc-js client, for the stress tools. */
import * as grpc from "@grpc/grpc-js";
import { HpodServiceClient } from "../../client/gen/hpod/v1/hpod_service.js";
import type { Study } from "../../client/gen/hpod/v1/study.js";
import type { Trial } from "../../client/gen/hpod/v1/trial.js";

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<Res>) => grpc.ClientUnaryCall;

export type Promised<C> = {
  [K in keyof C]: C[K] extends (req: infer Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<infer Res>) => grpc.ClientUnaryCall
    ? (req: Req, deadlineMs?: number) => Promise<Res>
    : never;
};

const UNARY = ["createStudy", "getStudy", "listStudies", "updateStudy", "deleteStudy", "suggest", "report", "heartbeat", "getTrial", "listTrials", "getBestTrials", "enqueueTrial", "addTrial"] as const;
type UnaryName = (typeof UNARY)[number];

export type StressClient = Promised<Pick<HpodServiceClient, UnaryName>> & { raw: HpodServiceClient; close(): void };

export function connectStress(address: string, ownConnection = false): StressClient {
  const raw = new HpodServiceClient(address, grpc.credentials.createInsecure(), ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {});
  const out: Record<string, unknown> = { raw, close: () => raw.close() };
  for (const name of UNARY) {
    const method = (raw[name] as unknown as UnaryMethod<unknown, unknown>).bind(raw);
    out[name] = (req: unknown, deadlineMs = 30_000) =>
      new Promise((resolve, reject) => {
        method(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
      });
  }
  return out as StressClient;
}

export function grpcCode(e: unknown): number | undefined {
  return typeof e === "object" && e !== null && "code" in e && typeof (e as { code: unknown }).code === "number" ? (e as { code: number }).code : undefined;
}

export async function listAllTrials(c: StressClient, study: string, pageSize = 1000): Promise<Trial[]> {
  const out: Trial[] = [];
  let token = "";
  do {
    const page = await c.listTrials({ study, pageSize, pageToken: token, states: [], omitIntermediate: false });
    out.push(...page.trials);
    token = page.nextPageToken;
  } while (token);
  return out;
}

/**
 * GetStudy + every trial, as comparable JSON (RUNNING trials' heartbeat_time left out; every heartbeat_time with
 * dropAllHeartbeats, for comparisons across a restart: heartbeats are not persisted).
 */
export async function exportStudy(c: StressClient, name: string, dropAllHeartbeats = false): Promise<string> {
  const s = (await c.getStudy({ name })).study as Study;
  const trials = await listAllTrials(c, name);
  const json = trials.map((t) => {
    const j = { ...t } as Partial<Trial>;
    if (t.state === 2 || dropAllHeartbeats) delete j.heartbeatTime;
    return j;
  });
  return JSON.stringify({ study: s, trials: json }, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 1);
}
