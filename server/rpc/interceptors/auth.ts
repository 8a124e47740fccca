/**
 * Authentication and the role check, before any handler runs:
 *  - mutual TLS: the connection must carry a client certificate that the
 *    configured CA signed (the TLS layer asks for one and verifies it; calls
 *    without a verified one are refused here with UNAUTHENTICATED, so health
 *    stays reachable without a certificate);
 *  - bearer tokens: `authorization: Bearer <token>` checked against the
 *    tokens file (hashed at rest); the header is removed from the metadata
 *    before anything else sees it;
 *  - the role the method needs (see ../auth/policy.ts): PERMISSION_DENIED
 *    when the principal's role is lower.
 * The principal is left for the handlers (namespace checks) and the limits
 * interceptor in call-context.ts. A refused call never reaches its handler.
 */
import * as grpc from "@grpc/grpc-js";
import { requirement, type ReflectionMode } from "../auth/policy.js";
import { ANONYMOUS, roleAllows, type Principal, type TokenStore } from "../auth/tokens.js";
import { setPrincipal } from "./call-context.js";

export interface AuthOptions {
  /** Bearer tokens; undefined: no token needed. */
  tokens: TokenStore | undefined;
  /** A verified client certificate is needed (mTLS). */
  requireClientCert: boolean;
  reflection: ReflectionMode;
}

type Outcome = { principal: Principal } | { code: grpc.status; details: string };

export function authenticate(opts: AuthOptions, path: string, metadata: grpc.Metadata, call: grpc.ServerInterceptingCallInterface): Outcome {
  const need = requirement(path, opts.reflection);
  const header = metadata.get("authorization");
  metadata.remove("authorization");
  if (need === "open") return { principal: ANONYMOUS };
  let principal: Principal = ANONYMOUS;
  if (opts.requireClientCert) {
    const cert = call.getAuthContext().sslPeerCertificate;
    if (!cert) {
      return { code: grpc.status.UNAUTHENTICATED, details: "a client certificate signed by the daemon's client CA is required" };
    }
    const cn = cert.subject?.CN;
    principal = { name: `cert:${typeof cn === "string" && cn !== "" ? cn : cert.fingerprint256}`, role: "admin", namespaces: "*", via: "certificate" };
  }
  if (opts.tokens) {
    const value = header[0];
    if (header.length !== 1 || typeof value !== "string") {
      return { code: grpc.status.UNAUTHENTICATED, details: "a bearer token is required (metadata \"authorization: Bearer <token>\")" };
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
    if (!m) return { code: grpc.status.UNAUTHENTICATED, details: "the authorization metadata must be \"Bearer <token>\"" };
    const v = opts.tokens.verify(m[1] as string);
    if ("error" in v) return { code: grpc.status.UNAUTHENTICATED, details: v.error };
    principal = v.principal;
  }
  if (!roleAllows(principal.role, need)) {
    return {
      code: grpc.status.PERMISSION_DENIED,
      details: `${principal.name} has the ${principal.role} role; ${path.slice(1)} needs ${need}`,
    };
  }
  return { principal };
}

export function authInterceptor(opts: AuthOptions): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMd) {
            const r = authenticate(opts, method.path, metadata, call);
            if ("code" in r) {
              // Not passed on: the handler never starts, so nothing changes.
              call.sendStatus({ code: r.code, details: r.details, metadata: new grpc.Metadata() });
              return;
            }
            setPrincipal(metadata, r.principal);
            nextMd(metadata);
          },
        });
      },
    });
}
