/**
 * Promise wrappers over the generated grpc-js client for tests: every call
 * resolves with the response or rejects with the ServiceError (code + details)
 * so tests can assert exact status codes.
 */
import * as grpc from "@grpc/grpc-js";
import { HpodServiceClient } from "../../client/gen/hpod/v1/hpod_service.js";

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, cb: Callback<Res>) => grpc.ClientUnaryCall;

// Overloaded methods infer from their last signature: (request, metadata, options, callback).
export type Promised<C> = {
  [K in keyof C]: C[K] extends (req: infer Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<infer Res>) => grpc.ClientUnaryCall
    ? (req: Req) => Promise<Res>
    : never;
};

const UNARY = [
  "createStudy",
  "getStudy",
  "listStudies",
  "updateStudy",
  "deleteStudy",
  "suggest",
  "report",
  "heartbeat",
  "getTrial",
  "listTrials",
  "getBestTrials",
  "enqueueTrial",
  "addTrial",
] as const;
type UnaryName = (typeof UNARY)[number];

export type TestClient = Promised<Pick<HpodServiceClient, UnaryName>> & { raw: HpodServiceClient; close(): void };

export function connect(address: string): TestClient {
  const raw = new HpodServiceClient(address, grpc.credentials.createInsecure());
  const out: Record<string, unknown> = { raw, close: () => raw.close() };
  for (const name of UNARY) {
    const method = (raw[name] as unknown as UnaryMethod<unknown, unknown>).bind(raw);
    out[name] = (req: unknown) =>
      new Promise((resolve, reject) => {
        method(req, (err, res) => (err ? reject(err) : resolve(res)));
      });
  }
  return out as TestClient;
}

/** Resolves with the gRPC status code of a rejected call (fails when it succeeds). */
export async function codeOf(p: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details };
  }
  throw new Error("expected the call to fail");
}
