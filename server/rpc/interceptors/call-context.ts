/**
 * Per-call facts that interceptors establish and handlers read, keyed by the
 * request's Metadata object (grpc-js hands the same object down the chain to
 * the handler's `call.metadata`). A WeakMap, not a metadata entry, so a client
 * cannot forge them by sending a header.
 */
import type * as grpc from "@grpc/grpc-js";
import type { Principal } from "../auth/tokens.js";

const principals = new WeakMap<grpc.Metadata, Principal>();
const requestIds = new WeakMap<grpc.Metadata, string>();

export const setPrincipal = (md: grpc.Metadata, p: Principal): void => void principals.set(md, p);
export const principalOf = (md: grpc.Metadata): Principal | undefined => principals.get(md);
export const setRequestId = (md: grpc.Metadata, id: string): void => void requestIds.set(md, id);
export const requestIdOf = (md: grpc.Metadata): string | undefined => requestIds.get(md);
