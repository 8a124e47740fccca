/**
 * hpod.v1.DiagnosticsService: a bare unary call through the same server and
 * interceptors as the tuning API, the reference the speed benchmark divides by.
 */
import * as grpc from "@grpc/grpc-js";
import { DiagnosticsServiceService, type DiagnosticsServiceServer } from "../../client/gen/hpod/v1/diagnostics_service.js";
import { isDecodeFailure, withSafeDeserializers } from "./safe-codec.js";

export const diagnosticsServiceDefinition = () => withSafeDeserializers(DiagnosticsServiceService);

export const diagnosticsHandlers: DiagnosticsServiceServer = {
  echo: (call, callback) => {
    const req: unknown = call.request;
    if (isDecodeFailure(req)) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: "request is not a valid EchoRequest message" });
      return;
    }
    callback(null, { payload: call.request.payload });
  },
};
