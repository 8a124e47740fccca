/**
 * Server reflection and health, checked the way operators use them: `buf curl`
 * (a Go client built on the upstream reflection protos) against an in-process
 * server, for both reflection protocol versions; plus a raw grpc-js stream for
 * what buf curl does not show (dependency lists, per-request errors).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { DiagnosticsServiceService, type EchoRequest, type EchoResponse } from "../../client/gen/hpod/v1/diagnostics_service.js";
import { createHealth, HEALTH_SERVICE_NAME } from "../../server/rpc/health.js";
import { addReflectionService } from "../../server/rpc/reflection.js";
import { ROOT } from "../helpers/daemon.js";

const BUF = join(ROOT, "node_modules", ".bin", "buf");
const DESCRIPTOR_SET = join(ROOT, "client", "gen", "hpod.binpb");
const run = promisify(execFile);

let server: grpc.Server;
let address: string;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(DiagnosticsServiceService, {
    echo: (
      call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>,
      callback: grpc.sendUnaryData<EchoResponse>,
    ) => callback(null, { payload: call.request.payload }),
  });
  const health = createHealth(["hpod.v1.HpodService", "hpod.v1.DiagnosticsService"]);
  health.addTo(server);
  health.setServing("hpod.v1.HpodService", false);
  addReflectionService(server, readFileSync(DESCRIPTOR_SET), { extraServices: [HEALTH_SERVICE_NAME] });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? rej(err) : res(p))),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server?.forceShutdown();
});

describe.each(["grpc-v1", "grpc-v1alpha"])("buf curl with reflection %s", (protocol) => {
  async function bufCurl(path: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(
      BUF,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect-protocol", protocol, ...args, `http://${address}${path}`],
      { timeout: 30_000 },
    );
    return stdout;
  }

  it("lists the API, health and reflection services", async () => {
    const services = (await bufCurl("", "--list-services")).trim().split("\n");
    expect(services).toEqual(
      expect.arrayContaining([
        "hpod.v1.HpodService",
        "hpod.v1.DiagnosticsService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("lists methods, resolving services whose files import others", async () => {
    // --list-methods takes the base URL and lists every listed service's methods.
    const methods = (await bufCurl("", "--list-methods")).trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining(["hpod.v1.HpodService/Suggest", "hpod.v1.HpodService/Report", "hpod.v1.HpodService/CreateStudy"]),
    );
  });

  it("calls Echo with a JSON body encoded through the reflected schema", async () => {
    const payload = Buffer.from(`hello over ${protocol}`).toString("base64");
    const out = await bufCurl("/hpod.v1.DiagnosticsService/Echo", "-d", JSON.stringify({ payload }));
    expect(JSON.parse(out)).toEqual({ payload });
  });

  it("calls grpc.health.v1.Health/Check", async () => {
    expect(JSON.parse(await bufCurl("/grpc.health.v1.Health/Check", "-d", "{}"))).toEqual({ status: "SERVING" });
    const hpod = await bufCurl("/grpc.health.v1.Health/Check", "-d", JSON.stringify({ service: "hpod.v1.HpodService" }));
    expect(JSON.parse(hpod)).toEqual({ status: "NOT_SERVING" });
  });
});

describe.each(["grpc.reflection.v1", "grpc.reflection.v1alpha"])("raw %s stream", (pkg) => {
  let client: grpc.Client;
  let stream: ReflectionStream;

  beforeAll(() => {
    client = new grpc.Client(address, grpc.credentials.createInsecure());
    stream = new ReflectionStream(client, pkg);
  });

  afterAll(() => {
    stream.close();
    client.close();
  });

  it("returns the file declaring a symbol plus its transitive imports, with dependency filled", async () => {
    const request = stringRequest(FILE_CONTAINING_SYMBOL, "hpod.v1.Trial");
    const response = await stream.ask(request);
    expect(field(response, 2)).toEqual(Buffer.from(request));
    const files = fileDescriptors(response);
    expect(files[0].name).toBe("hpod/v1/trial.proto");
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining(["hpod/v1/search_space.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto"]),
    );
    expect(files[0].dependency).toEqual(
      expect.arrayContaining(["hpod/v1/search_space.proto", "google/protobuf/timestamp.proto", "google/protobuf/duration.proto"]),
    );
  });

  it("answers an unknown symbol with NOT_FOUND and keeps the stream usable", async () => {
    expect(errorCode(await stream.ask(stringRequest(FILE_CONTAINING_SYMBOL, "hpod.v1.NoSuchThing")))).toBe(5);
    const next = await stream.ask(stringRequest(FILE_BY_FILENAME, "hpod/v1/search_space.proto"));
    expect(fileDescriptors(next)[0].name).toBe("hpod/v1/search_space.proto");
  });

  it("resolves methods, fields and enum values to their file", async () => {
    const cases: [string, string][] = [
      ["hpod.v1.HpodService.Suggest", "hpod/v1/hpod_service.proto"],
      ["hpod.v1.Trial.study", "hpod/v1/trial.proto"],
      ["hpod.v1.TRIAL_STATE_QUEUED", "hpod/v1/trial.proto"],
      ["grpc.health.v1.Health", "grpc/health/v1/health.proto"],
    ];
    for (const [symbol, file] of cases) {
      expect(fileDescriptors(await stream.ask(stringRequest(FILE_CONTAINING_SYMBOL, symbol)))[0].name).toBe(file);
    }
  });

  it("reports extensions as absent, malformed and empty requests as errors", async () => {
    const extensions = fields(await stream.ask(stringRequest(ALL_EXTENSION_NUMBERS_OF_TYPE, "hpod.v1.Trial")));
    expect(extensions.get(5)).toHaveLength(1);
    expect(errorCode(await stream.ask(stringRequest(ALL_EXTENSION_NUMBERS_OF_TYPE, "hpod.v1.Nope")))).toBe(5);

    const extensionRequest = new BinaryWriter()
      .tag(5, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .string("hpod.v1.Trial")
      .tag(2, WireType.Varint)
      .int32(100)
      .join()
      .finish();
    expect(errorCode(await stream.ask(extensionRequest))).toBe(5);

    // Field 3 claiming 127 bytes that are not there.
    expect(errorCode(await stream.ask(Uint8Array.of(0x1a, 0x7f, 0x61)))).toBe(3);
    expect(errorCode(await stream.ask(new Uint8Array(0)))).toBe(12);
    expect(field(await stream.ask(stringRequest(LIST_SERVICES, "")), 6)).toBeDefined();
  });
});

// ---- a minimal reflection client, independent of the server's codec --------

const FILE_BY_FILENAME = 3;
const FILE_CONTAINING_SYMBOL = 4;
const ALL_EXTENSION_NUMBERS_OF_TYPE = 6;
const LIST_SERVICES = 7;

function stringRequest(fieldNo: number, value: string): Uint8Array {
  return new BinaryWriter().tag(fieldNo, WireType.LengthDelimited).string(value).finish();
}

/** Top-level fields by number; length-delimited values as bytes, varints as numbers. */
function fields(bytes: Uint8Array): Map<number, (Uint8Array | number)[]> {
  const reader = new BinaryReader(bytes);
  const out = new Map<number, (Uint8Array | number)[]>();
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const value = wireType === WireType.LengthDelimited ? reader.bytes() : wireType === WireType.Varint ? reader.int32() : reader.skip(wireType, no);
    out.set(no, [...(out.get(no) ?? []), value]);
  }
  return out;
}

function field(bytes: Uint8Array, no: number): Uint8Array | undefined {
  const value = fields(bytes).get(no)?.[0];
  return value instanceof Uint8Array ? Buffer.from(value) : undefined;
}

function fileDescriptors(response: Uint8Array) {
  const list = field(response, 4);
  if (!list) throw new Error(`no file_descriptor_response; error code ${errorCode(response)}`);
  return (fields(list).get(1) ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b as Uint8Array));
}

function errorCode(response: Uint8Array): number | undefined {
  const error = field(response, 7);
  const code = error ? fields(error).get(1)?.[0] : undefined;
  return typeof code === "number" ? code : undefined;
}

/** One bidi ServerReflectionInfo call; responses come back in request order. */
class ReflectionStream {
  private readonly call: grpc.ClientDuplexStream<Uint8Array, Buffer>;
  private readonly waiting: ((response: Buffer) => void)[] = [];

  constructor(client: grpc.Client, pkg: string) {
    this.call = client.makeBidiStreamRequest(
      `/${pkg}.ServerReflection/ServerReflectionInfo`,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
    );
    this.call.on("data", (response: Buffer) => this.waiting.shift()?.(response));
    this.call.on("error", () => {});
  }

  ask(request: Uint8Array): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.call.write(request);
    });
  }

  close(): void {
    this.call.end();
  }
}
