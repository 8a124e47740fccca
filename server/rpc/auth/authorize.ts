/**
 * Namespace checks on every study-scoped RPC, wrapped around the HpodService
 * handlers (the role was checked by the auth interceptor already):
 *  - CreateStudy: the new study's namespace ("" means "default");
 *  - calls naming a study: the existing study's namespace (an unknown study
 *    goes on to the handler, which answers NOT_FOUND);
 *  - ListStudies: a namespace filter outside the principal's namespaces is
 *    refused; without a filter the page only holds allowed studies (pages may
 *    then be shorter than page_size; follow next_page_token as always).
 * A refusal answers PERMISSION_DENIED before the handler runs.
 */
import * as grpc from "@grpc/grpc-js";
import type { HpodServiceServer, ListStudiesResponse } from "../../../client/gen/hpod/v1/hpod_service.js";
import { DEFAULT_NAMESPACE } from "../../core/study-spec.js";
import { principalOf } from "../interceptors/call-context.js";
import { isDecodeFailure } from "../safe-codec.js";
import { mayAccessNamespace, type Principal } from "./tokens.js";

export interface StudyLookup {
  /** The namespace of an existing study, or undefined. */
  namespaceOf(study: string): string | undefined;
}

type AnyHandler = grpc.UntypedHandleCall;
type Extract = (req: Record<string, unknown>) => { namespace?: string; study?: string };

const EXTRACT: Record<string, Extract> = {
  createStudy: (r) => {
    const s = r.study as { namespace?: unknown } | undefined;
    return { namespace: typeof s?.namespace === "string" && s.namespace !== "" ? s.namespace : DEFAULT_NAMESPACE };
  },
  getStudy: (r) => ({ study: String(r.name ?? "") }),
  updateStudy: (r) => ({ study: String(r.name ?? "") }),
  deleteStudy: (r) => ({ study: String(r.name ?? "") }),
};
const byStudyField: Extract = (r) => ({ study: String(r.study ?? "") });

const denied = (p: Principal, ns: string): Partial<grpc.StatusObject> => ({
  code: grpc.status.PERMISSION_DENIED,
  details: `${p.name} may not access namespace "${ns}"`,
});

function check(principal: Principal | undefined, req: unknown, extract: Extract, studies: StudyLookup): Partial<grpc.StatusObject> | undefined {
  if (!principal) return { code: grpc.status.UNAUTHENTICATED, details: "not authenticated" };
  if (principal.namespaces === "*" || isDecodeFailure(req) || typeof req !== "object" || req === null) return undefined;
  const { namespace, study } = extract(req as Record<string, unknown>);
  const ns = namespace ?? (study !== undefined ? studies.namespaceOf(study) : undefined);
  if (ns !== undefined && !mayAccessNamespace(principal, ns)) return denied(principal, ns);
  return undefined;
}

export function withNamespaceChecks(handlers: HpodServiceServer, studies: StudyLookup): HpodServiceServer {
  const out: Record<string, AnyHandler> = {};
  for (const [name, h] of Object.entries(handlers) as Array<[string, AnyHandler]>) {
    if (name === "listStudies") {
      const inner = h as grpc.handleUnaryCall<{ namespace: string }, ListStudiesResponse>;
      const wrapped: grpc.handleUnaryCall<{ namespace: string }, ListStudiesResponse> = (call, callback) => {
        const p = principalOf(call.metadata);
        if (!p) return callback({ code: grpc.status.UNAUTHENTICATED, details: "not authenticated" });
        const req: unknown = call.request;
        if (p.namespaces === "*" || isDecodeFailure(req)) return inner(call, callback);
        const ns = call.request.namespace;
        if (ns !== "") {
          if (!mayAccessNamespace(p, ns)) return callback(denied(p, ns));
          return inner(call, callback);
        }
        inner(call, (err, res, ...rest) => {
          if (err || !res) return callback(err, res, ...rest);
          callback(null, { ...res, studies: res.studies.filter((s) => mayAccessNamespace(p, s.namespace)) }, ...rest);
        });
      };
      out[name] = wrapped as AnyHandler;
      continue;
    }
    const extract = EXTRACT[name] ?? byStudyField;
    if (name === "watchStudy") {
      const inner = h as grpc.handleServerStreamingCall<unknown, unknown>;
      const wrapped: grpc.handleServerStreamingCall<unknown, unknown> = (call) => {
        const st = check(principalOf(call.metadata), call.request, extract, studies);
        if (st) {
          call.emit("error", st);
          return;
        }
        inner(call);
      };
      out[name] = wrapped as AnyHandler;
      continue;
    }
    const inner = h as grpc.handleUnaryCall<unknown, unknown>;
    const wrapped: grpc.handleUnaryCall<unknown, unknown> = (call, callback) => {
      const st = check(principalOf(call.metadata), call.request, extract, studies);
      if (st) return callback(st);
      inner(call, callback);
    };
    out[name] = wrapped as AnyHandler;
  }
  return out as unknown as HpodServiceServer;
}
