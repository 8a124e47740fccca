/**
 * Standard gRPC health checking (grpc.health.v1.Health), so load balancers,
 * Kubernetes probes and `buf curl` can ask whether the daemon takes traffic.
 *
 * The service itself is grpc-health-check's; this wrapper fixes the status
 * vocabulary to serving / not serving and adds the schema that reflection
 * serves for it.
 */
import type * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { HealthImplementation, type ServingStatusMap } from "grpc-health-check";

export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

export interface Health {
  addTo(server: grpc.Server): void;
  /** Only names given to createHealth, or "" for the whole server. */
  setServing(service: string, serving: boolean): void;
  /** For shutdown: tells watchers and balancers to drain before we stop. */
  setAllNotServing(): void;
}

/**
 * Every name starts SERVING: the service is added before the server binds,
 * so no client can observe a status until the daemon is able to answer.
 * "" (the overall status probes ask for by default) is always included.
 */
export function createHealth(services: string[]): Health {
  const names = new Set(["", ...services]);
  const initial: ServingStatusMap = {};
  for (const name of names) initial[name] = "SERVING";
  const impl = new HealthImplementation(initial);
  return {
    addTo(server) {
      impl.addToServer(server);
    },
    setServing(service, serving) {
      // A typo here would silently leave the real name SERVING forever.
      if (!names.has(service)) throw new Error(`health: unknown service "${service}"`);
      impl.setStatus(service, serving ? "SERVING" : "NOT_SERVING");
    },
    setAllNotServing() {
      for (const name of names) impl.setStatus(name, "NOT_SERVING");
    },
  };
}

/**
 * grpc/health/v1/health.proto as a descriptor, for reflection. Written out by
 * hand because the one proto-loader derives from the shipped .proto has
 * relative type names and a misnamed map entry, which clients reject.
 */
export function healthFileDescriptor(): FileDescriptorProto {
  const pkg = ".grpc.health.v1";
  const optional = Label.OPTIONAL;
  return create(FileDescriptorProtoSchema, {
    name: "grpc/health/v1/health.proto",
    package: "grpc.health.v1",
    syntax: "proto3",
    messageType: [
      { name: "HealthListRequest" },
      {
        name: "HealthListResponse",
        field: [
          {
            name: "statuses",
            number: 1,
            label: Label.REPEATED,
            type: Type.MESSAGE,
            typeName: `${pkg}.HealthListResponse.StatusesEntry`,
            jsonName: "statuses",
          },
        ],
        nestedType: [
          {
            name: "StatusesEntry",
            field: [
              { name: "key", number: 1, label: optional, type: Type.STRING, jsonName: "key" },
              {
                name: "value",
                number: 2,
                label: optional,
                type: Type.MESSAGE,
                typeName: `${pkg}.HealthCheckResponse`,
                jsonName: "value",
              },
            ],
            options: { mapEntry: true },
          },
        ],
      },
      {
        name: "HealthCheckRequest",
        field: [{ name: "service", number: 1, label: optional, type: Type.STRING, jsonName: "service" }],
      },
      {
        name: "HealthCheckResponse",
        field: [
          {
            name: "status",
            number: 1,
            label: optional,
            type: Type.ENUM,
            typeName: `${pkg}.HealthCheckResponse.ServingStatus`,
            jsonName: "status",
          },
        ],
        enumType: [
          {
            name: "ServingStatus",
            value: [
              { name: "UNKNOWN", number: 0 },
              { name: "SERVING", number: 1 },
              { name: "NOT_SERVING", number: 2 },
              { name: "SERVICE_UNKNOWN", number: 3 },
            ],
          },
        ],
      },
    ],
    service: [
      {
        name: "Health",
        method: [
          { name: "Check", inputType: `${pkg}.HealthCheckRequest`, outputType: `${pkg}.HealthCheckResponse` },
          {
            name: "Watch",
            inputType: `${pkg}.HealthCheckRequest`,
            outputType: `${pkg}.HealthCheckResponse`,
            serverStreaming: true,
          },
          { name: "List", inputType: `${pkg}.HealthListRequest`, outputType: `${pkg}.HealthListResponse` },
        ],
      },
    ],
  });
}
