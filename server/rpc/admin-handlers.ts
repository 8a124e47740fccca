/**
 * hpod.v1.AdminService: operations on the daemon itself. Backup writes an
 * online, consistent copy of the store (see Store.backup) and answers before
 * writes resume, so the copy holds every write acknowledged before the answer.
 */
import { isAbsolute, normalize } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AdminServiceService, type AdminServiceServer } from "../../client/gen/hpod/v1/admin_service.js";
import { invalid } from "../core/errors.js";
import type { Logger } from "../log.js";
import type { Store } from "../store/store.js";
import { requestIdOf } from "./interceptors/call-context.js";
import { decodeFailureMessage, isDecodeFailure, withSafeDeserializers } from "./safe-codec.js";
import { toStatus } from "./status.js";
import { msToDuration } from "./translate.js";

export function adminServiceDefinition() {
  return withSafeDeserializers(AdminServiceService);
}

export function createAdminHandlers(store: Store, log: Logger): AdminServiceServer {
  return {
    backup: (call, callback) => {
      const req: unknown = call.request;
      if (isDecodeFailure(req)) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `request is not a valid BackupRequest message: ${decodeFailureMessage(req)}` });
        return;
      }
      const dest = call.request.destination;
      void (async () => {
        if (dest === "" || !isAbsolute(dest)) throw invalid("destination", "must be an absolute path on the daemon's host");
        const destination = normalize(dest);
        log.info("backup started", { destination, requestId: requestIdOf(call.metadata) });
        const { result, release } = await store.backup(destination);
        try {
          callback(null, { destination: result.destination, keys: result.keys, bytes: result.bytes, duration: msToDuration(Math.round(result.durationMs)) });
          log.info("backup written", { destination, keys: result.keys, bytes: result.bytes, durationMs: Math.round(result.durationMs) });
        } finally {
          // Writes resume only after the answer is on its way (see Store.backup).
          setImmediate(release);
        }
      })().catch((e: unknown) => callback(toStatus(e, log, "hpod.v1.AdminService/Backup")));
    },
  };
}
