/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), answered from the
 * API's prebuilt descriptor set so that `buf curl` / grpcurl need no .proto
 * files.
 *
 * Not @grpc/reflection: it never fills FileDescriptorProto.dependency, so
 * clients cannot resolve any file with imports (grpc/grpc-node#3018, #3034).
 * The reflection messages are coded by hand on the wire: they are a handful
 * of fields, identical in both versions, and this keeps the daemon free of
 * .proto files that `tsc` would not copy into dist/.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  create,
  createFileRegistry,
  fromBinary,
  toBinary,
  type DescFile,
  type FileRegistry,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  DescriptorProtoSchema,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { healthFileDescriptor } from "./health.js";

const REFLECTION_PACKAGES = ["grpc.reflection.v1", "grpc.reflection.v1alpha"] as const;

// grpc.status values; numbers so this module needs grpc-js only for types.
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;

export interface ReflectionOptions {
  /** Registered services whose schema is not in the set (e.g. grpc.health.v1.Health), for list_services. */
  extraServices?: string[];
}

export function addReflectionService(server: grpc.Server, descriptorSet: Uint8Array, opts: ReflectionOptions = {}): void {
  const index = buildIndex(descriptorSet, opts.extraServices ?? []);
  for (const pkg of REFLECTION_PACKAGES) {
    server.addService(reflectionDefinition(pkg), { ServerReflectionInfo: (call: ReflectionCall) => serve(index, call) });
  }
}

type ReflectionCall = grpc.ServerDuplexStream<Buffer, Uint8Array>;

function reflectionDefinition(pkg: string): grpc.ServiceDefinition {
  return {
    ServerReflectionInfo: {
      path: `/${pkg}.ServerReflection/ServerReflectionInfo`,
      requestStream: true,
      responseStream: true,
      // Raw bytes in: a malformed request becomes an error_response instead
      // of ending the stream, and original_request can echo the exact bytes.
      requestDeserialize: (bytes: Buffer): Buffer => bytes,
      requestSerialize: (bytes: Buffer): Buffer => bytes,
      responseSerialize: (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      responseDeserialize: (bytes: Buffer): Uint8Array => bytes,
    },
  };
}

function serve(index: Index, call: ReflectionCall): void {
  call.on("data", (raw: Buffer) => call.write(respond(index, raw)));
  call.on("end", () => call.end());
  // A client cancelling mid-stream is normal; there is no state to clean up,
  // and an unhandled 'error' event would take the daemon down.
  call.on("error", () => {});
}

function respond(index: Index, raw: Uint8Array): Uint8Array {
  let request: DecodedRequest;
  try {
    request = decodeRequest(raw);
  } catch (err) {
    return encodeResponse("", undefined, errorAnswer(INVALID_ARGUMENT, `malformed reflection request: ${String(err)}`));
  }
  let answer: Answer;
  try {
    answer = answerFor(index, request.query);
  } catch (err) {
    // A bug in one answer must not end a stream other requests share.
    answer = errorAnswer(INTERNAL, String(err));
  }
  return encodeResponse(request.host, raw, answer);
}

// ---- answering --------------------------------------------------------------

interface Index {
  registry: FileRegistry;
  /** Fully qualified name of every symbol (no leading dot) to the file that declares it. */
  symbols: Map<string, DescFile>;
  /** Serialized FileDescriptorProto by file name ("hpod/v1/trial.proto"). */
  fileBytes: Map<string, Uint8Array>;
  services: string[];
}

function buildIndex(descriptorSet: Uint8Array, extraServices: string[]): Index {
  const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
  const setServices = set.file.flatMap((f) => f.service.map((s) => (f.package ? `${f.package}.${s.name}` : s.name)));
  // Clients describe every listed service (buf curl --list-methods fails on
  // the first one it cannot resolve), so the schemas of the services
  // registered beside the API are served too.
  const builtIn = [healthFileDescriptor(), ...REFLECTION_PACKAGES.map(reflectionFileDescriptor)];
  for (const file of builtIn) if (!set.file.some((f) => f.name === file.name)) set.file.push(file);
  const registry = createFileRegistry(set);

  const symbols = new Map<string, DescFile>();
  const fileBytes = new Map<string, Uint8Array>();
  for (const file of registry.files) {
    fileBytes.set(file.proto.name, toBinary(FileDescriptorProtoSchema, file.proto));
    for (const name of declaredSymbols(file)) if (!symbols.has(name)) symbols.set(name, file);
  }
  const reflection = REFLECTION_PACKAGES.map((pkg) => `${pkg}.ServerReflection`);
  const services = [...new Set([...setServices, ...extraServices, ...reflection])];
  return { registry, symbols, fileBytes, services };
}

/** Names a client may ask file_containing_symbol about, as protoc scopes them. */
function* declaredSymbols(file: DescFile): Generator<string> {
  for (const desc of nestedTypes(file)) {
    yield desc.typeName;
    switch (desc.kind) {
      case "message":
        for (const field of desc.fields) yield `${desc.typeName}.${field.name}`;
        for (const oneof of desc.oneofs) yield `${desc.typeName}.${oneof.name}`;
        break;
      case "enum": {
        // Enum values live in the enum's parent scope (C++ scoping rules).
        const scope = desc.parent?.typeName ?? file.proto.package;
        for (const value of desc.values) yield scope ? `${scope}.${value.name}` : value.name;
        break;
      }
      case "service":
        for (const method of desc.methods) yield `${desc.typeName}.${method.name}`;
        break;
      case "extension":
        break;
    }
  }
}

function answerFor(index: Index, query: Query): Answer {
  switch (query.case) {
    case "listServices":
      return { case: "services", names: index.services };
    case "fileByFilename": {
      const file = index.registry.getFile(query.value);
      return file ? filesAnswer(index, file) : errorAnswer(NOT_FOUND, `file not found: ${query.value}`);
    }
    case "fileContainingSymbol": {
      const name = query.value.replace(/^\./, "");
      const file = index.symbols.get(name);
      return file ? filesAnswer(index, file) : errorAnswer(NOT_FOUND, `symbol not found: ${name}`);
    }
    case "fileContainingExtension": {
      const extendee = index.registry.getMessage(query.containingType.replace(/^\./, ""));
      const ext = extendee && index.registry.getExtensionFor(extendee, query.extensionNumber);
      return ext
        ? filesAnswer(index, ext.file)
        : errorAnswer(NOT_FOUND, `extension ${query.extensionNumber} of ${query.containingType} not found`);
    }
    case "allExtensionNumbersOfType": {
      const name = query.value.replace(/^\./, "");
      if (!index.registry.getMessage(name)) return errorAnswer(NOT_FOUND, `message not found: ${name}`);
      const numbers: number[] = [];
      for (const desc of index.registry) {
        if (desc.kind === "extension" && desc.extendee.typeName === name) numbers.push(desc.number);
      }
      return { case: "extensionNumbers", baseTypeName: name, numbers };
    }
    case "unset":
      return errorAnswer(UNIMPLEMENTED, "unsupported or missing message_request");
  }
}

/**
 * The file and everything it imports, transitively, requested file first.
 * Every response is complete on its own, so a client that does not cache
 * across requests can still resolve it.
 */
function filesAnswer(index: Index, file: DescFile): Answer {
  const seen = new Set<string>();
  const queue = [file];
  const files: Uint8Array[] = [];
  for (let f = queue.shift(); f; f = queue.shift()) {
    if (seen.has(f.proto.name)) continue;
    seen.add(f.proto.name);
    const bytes = index.fileBytes.get(f.proto.name);
    if (bytes) files.push(bytes);
    queue.push(...f.dependencies);
  }
  return { case: "files", files };
}

function errorAnswer(code: number, message: string): Answer {
  return { case: "error", code, message };
}

// ---- wire format (same field numbers in v1 and v1alpha) --------------------

type Query =
  | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
  | { case: "fileContainingExtension"; containingType: string; extensionNumber: number }
  | { case: "unset" };

interface DecodedRequest {
  host: string;
  query: Query;
}

type Answer =
  | { case: "files"; files: Uint8Array[] }
  | { case: "extensionNumbers"; baseTypeName: string; numbers: number[] }
  | { case: "services"; names: string[] }
  | { case: "error"; code: number; message: string };

const STRING_QUERIES = {
  3: "fileByFilename",
  4: "fileContainingSymbol",
  6: "allExtensionNumbersOfType",
  7: "listServices",
} as const;

function decodeRequest(bytes: Uint8Array): DecodedRequest {
  const reader = new BinaryReader(bytes);
  const request: DecodedRequest = { host: "", query: { case: "unset" } };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (wireType !== WireType.LengthDelimited) {
      // Unknown fields from a newer protocol revision; skipping them leaves
      // the query unset, which is answered UNIMPLEMENTED.
      reader.skip(wireType, field);
      continue;
    }
    if (field === 1) {
      request.host = reader.string();
    } else if (field === 3 || field === 4 || field === 6 || field === 7) {
      // Oneof members: the last one on the wire wins, as in any protobuf decoder.
      request.query = { case: STRING_QUERIES[field], value: reader.string() };
    } else if (field === 5) {
      request.query = decodeExtensionRequest(reader.bytes());
    } else {
      reader.skip(wireType, field);
    }
  }
  return request;
}

function decodeExtensionRequest(bytes: Uint8Array): Query {
  const reader = new BinaryReader(bytes);
  const query = { case: "fileContainingExtension" as const, containingType: "", extensionNumber: 0 };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) query.containingType = reader.string();
    else if (field === 2 && wireType === WireType.Varint) query.extensionNumber = reader.int32();
    else reader.skip(wireType, field);
  }
  return query;
}

function encodeResponse(host: string, originalRequest: Uint8Array | undefined, answer: Answer): Uint8Array {
  const w = new BinaryWriter();
  if (host) w.tag(1, WireType.LengthDelimited).string(host);
  if (originalRequest) w.tag(2, WireType.LengthDelimited).bytes(originalRequest);
  switch (answer.case) {
    case "files":
      w.tag(4, WireType.LengthDelimited).fork();
      for (const file of answer.files) w.tag(1, WireType.LengthDelimited).bytes(file);
      w.join();
      break;
    case "extensionNumbers":
      w.tag(5, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(answer.baseTypeName);
      if (answer.numbers.length > 0) {
        w.tag(2, WireType.LengthDelimited).fork();
        for (const n of answer.numbers) w.int32(n);
        w.join();
      }
      w.join();
      break;
    case "services":
      w.tag(6, WireType.LengthDelimited).fork();
      for (const name of answer.names) w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(name).join();
      w.join();
      break;
    case "error":
      w.tag(7, WireType.LengthDelimited).fork();
      w.tag(1, WireType.Varint).int32(answer.code);
      w.tag(2, WireType.LengthDelimited).string(answer.message);
      w.join();
      break;
  }
  return w.finish();
}

// ---- the reflection protocol's own schema ------------------------------------

type MessageInit = MessageInitShape<typeof DescriptorProtoSchema>;
type FieldInit = MessageInitShape<typeof FieldDescriptorProtoSchema>;

/** grpc/reflection/<version>/reflection.proto; both versions differ only in package. */
function reflectionFileDescriptor(pkg: string): FileDescriptorProto {
  const ref = (name: string) => `.${pkg}.${name}`;
  return create(FileDescriptorProtoSchema, {
    name: `${pkg.replaceAll(".", "/")}/reflection.proto`,
    package: pkg,
    syntax: "proto3",
    messageType: [
      message("ServerReflectionRequest", ["message_request"], [
        field("host", 1, Type.STRING),
        field("file_by_filename", 3, Type.STRING, { oneof: 0 }),
        field("file_containing_symbol", 4, Type.STRING, { oneof: 0 }),
        field("file_containing_extension", 5, Type.MESSAGE, { oneof: 0, typeName: ref("ExtensionRequest") }),
        field("all_extension_numbers_of_type", 6, Type.STRING, { oneof: 0 }),
        field("list_services", 7, Type.STRING, { oneof: 0 }),
      ]),
      message("ExtensionRequest", [], [field("containing_type", 1, Type.STRING), field("extension_number", 2, Type.INT32)]),
      message("ServerReflectionResponse", ["message_response"], [
        field("valid_host", 1, Type.STRING),
        field("original_request", 2, Type.MESSAGE, { typeName: ref("ServerReflectionRequest") }),
        field("file_descriptor_response", 4, Type.MESSAGE, { oneof: 0, typeName: ref("FileDescriptorResponse") }),
        field("all_extension_numbers_response", 5, Type.MESSAGE, { oneof: 0, typeName: ref("ExtensionNumberResponse") }),
        field("list_services_response", 6, Type.MESSAGE, { oneof: 0, typeName: ref("ListServiceResponse") }),
        field("error_response", 7, Type.MESSAGE, { oneof: 0, typeName: ref("ErrorResponse") }),
      ]),
      message("FileDescriptorResponse", [], [field("file_descriptor_proto", 1, Type.BYTES, { repeated: true })]),
      message("ExtensionNumberResponse", [], [
        field("base_type_name", 1, Type.STRING),
        field("extension_number", 2, Type.INT32, { repeated: true }),
      ]),
      message("ListServiceResponse", [], [
        field("service", 1, Type.MESSAGE, { repeated: true, typeName: ref("ServiceResponse") }),
      ]),
      message("ServiceResponse", [], [field("name", 1, Type.STRING)]),
      message("ErrorResponse", [], [field("error_code", 1, Type.INT32), field("error_message", 2, Type.STRING)]),
    ],
    service: [
      {
        name: "ServerReflection",
        method: [
          {
            name: "ServerReflectionInfo",
            inputType: ref("ServerReflectionRequest"),
            outputType: ref("ServerReflectionResponse"),
            clientStreaming: true,
            serverStreaming: true,
          },
        ],
      },
    ],
  });
}

function message(name: string, oneofs: string[], fields: FieldInit[]): MessageInit {
  return { name, field: fields, oneofDecl: oneofs.map((o) => ({ name: o })) };
}

function field(
  name: string,
  number: number,
  type: Type,
  opts: { oneof?: number; typeName?: string; repeated?: boolean } = {},
): FieldInit {
  return {
    name,
    number,
    type,
    label: opts.repeated ? Label.REPEATED : Label.OPTIONAL,
    typeName: opts.typeName,
    oneofIndex: opts.oneof,
    jsonName: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
  };
}
