/**
 * Strict conversion between protobuf's canonical JSON mapping and the
 * ts-proto messages, through the API's FileDescriptorSet
 * (client/gen/hpod.binpb) and @bufbuild/protobuf.
 *
 * Reading is strict: unknown fields, unknown enum names and malformed values
 * are errors naming the field. Enums may be given by name or number, int64
 * as a JSON string or number, and YAML is accepted wherever JSON is.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  createFileRegistry,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescField,
  type DescMessage,
  type FileRegistry,
  type JsonValue,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { parse as parseYaml } from "yaml";

import { Study } from "./gen/hpod/v1/study.js";

/** A spec or message that does not convert; the message names the field. */
export class ProtoJsonError extends Error {
  /** Dotted JSON path of the offending field, when known (e.g. `spec.maxTrials`). */
  readonly path: string | undefined;

  constructor(message: string, path?: string) {
    super(message);
    this.name = "ProtoJsonError";
    this.path = path;
  }
}

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * Where hpod.binpb is looked for: next to this module in the sources
 * (client/gen/), and from the compiled module in dist/client/ back to the
 * sources (../../client/gen/). `HPOD_DESCRIPTOR_SET` overrides both.
 */
export function descriptorSetCandidates(): string[] {
  const fromEnv = process.env.HPOD_DESCRIPTOR_SET;
  return [
    ...(fromEnv !== undefined && fromEnv !== "" ? [fromEnv] : []),
    join(HERE, "gen", "hpod.binpb"),
    join(HERE, "..", "..", "client", "gen", "hpod.binpb"),
  ];
}

let registry: FileRegistry | undefined;

/** The registry of the hpod.v1 API (and the well-known types it imports). */
export function hpodRegistry(): FileRegistry {
  if (registry === undefined) {
    const candidates = descriptorSetCandidates();
    const path = candidates.find((p) => existsSync(p));
    if (path === undefined) {
      throw new Error(`hpod descriptor set not found; looked at ${candidates.join(", ")}`);
    }
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(path)));
  }
  return registry;
}

/** The descriptor of a message type, e.g. `hpod.v1.Trial`. */
export function messageSchema(typeName: string): DescMessage {
  const schema = hpodRegistry().getMessage(typeName);
  if (schema === undefined) throw new Error(`unknown message type ${typeName}`);
  return schema;
}

/** The encode/decode pair every ts-proto message exports. */
export interface BinaryCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

function isJsonValue(value: unknown): value is JsonValue {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      if (Array.isArray(value)) return value.every(isJsonValue);
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      return Object.values(value).every(isJsonValue);
    default:
      return false;
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

function childPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** The message a field's JSON value holds (for recursion), if any. */
function nestedMessage(field: DescField): { message: DescMessage; container: "single" | "list" | "map" } | undefined {
  if (field.fieldKind === "message") return { message: field.message, container: "single" };
  if (field.fieldKind === "list" && field.listKind === "message") return { message: field.message, container: "list" };
  if (field.fieldKind === "map" && field.mapKind === "message") return { message: field.message, container: "map" };
  return undefined;
}

/**
 * Finds the first key that is no field of `desc`, anywhere in `json`, and
 * throws with its full path (and the closest field name). Well-known types
 * have their own JSON forms and are left to the parser.
 */
function checkKnownFields(desc: DescMessage, json: JsonValue, path: string): void {
  if (desc.typeName.startsWith("google.protobuf.")) return;
  if (typeof json !== "object" || json === null || Array.isArray(json)) return;
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (field === undefined) {
      const names = desc.fields.map((f) => f.jsonName);
      const best = names
        .map((name) => ({ name, d: editDistance(key.toLowerCase(), name.toLowerCase()) }))
        .sort((x, y) => x.d - y.d)[0];
      const hint = best !== undefined && best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best.name}"?)` : "";
      throw new ProtoJsonError(
        `${childPath(path, key)}: unknown field "${key}" of ${desc.typeName}${hint}; known fields: ${names.join(", ")}`,
        childPath(path, key),
      );
    }
    const nested = nestedMessage(field);
    if (nested === undefined || value === null) continue;
    const here = childPath(path, key);
    if (nested.container === "single") {
      checkKnownFields(nested.message, value, here);
    } else if (nested.container === "list" && Array.isArray(value)) {
      value.forEach((item, i) => checkKnownFields(nested.message, item, `${here}[${i}]`));
    } else if (nested.container === "map" && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, item] of Object.entries(value)) checkKnownFields(nested.message, item, `${here}[${JSON.stringify(k)}]`);
    }
  }
}

/**
 * Converts canonical proto3 JSON to a ts-proto message, strictly.
 * `typeName` is the full name (e.g. `hpod.v1.Study`), `codec` the ts-proto
 * message object (e.g. `Study`).
 */
export function messageFromJson<T>(typeName: string, codec: BinaryCodec<T>, json: unknown): T {
  const schema = messageSchema(typeName);
  if (!isJsonValue(json)) throw new ProtoJsonError(`${typeName}: not a JSON value (only objects, arrays, strings, finite numbers, booleans and null)`);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ProtoJsonError(`${typeName}: expected a JSON object, got ${Array.isArray(json) ? "an array" : JSON.stringify(json)}`);
  }
  checkKnownFields(schema, json, "");
  let bytes: Uint8Array;
  try {
    bytes = toBinary(schema, fromJson(schema, json, { ignoreUnknownFields: false }));
  } catch (error) {
    throw new ProtoJsonError(error instanceof Error ? error.message : String(error));
  }
  return codec.decode(bytes);
}

/** Converts a ts-proto message to canonical proto3 JSON (enum names, int64 as strings, RFC 3339 times). */
export function messageToJson<T>(typeName: string, codec: BinaryCodec<T>, message: T): JsonValue {
  const schema = messageSchema(typeName);
  return toJson(schema, fromBinary(schema, codec.encode(message).finish()));
}

/** A Study of its canonical JSON form (already parsed), strictly. */
export function studyFromJson(json: unknown): Study {
  return messageFromJson("hpod.v1.Study", Study, json);
}

/** A Study of a YAML or JSON text; `source` (a file name) prefixes errors. */
export function parseStudySpec(text: string, source = "spec"): Study {
  let json: unknown;
  try {
    json = parseYaml(text);
  } catch (error) {
    throw new ProtoJsonError(`${source}: not valid YAML/JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (json === undefined || json === null) throw new ProtoJsonError(`${source}: empty spec`);
  try {
    return studyFromJson(json);
  } catch (error) {
    if (error instanceof ProtoJsonError) throw new ProtoJsonError(`${source}: ${error.message}`, error.path);
    throw error;
  }
}

/** A Study of a .yaml/.yml/.json file. */
export function readStudySpec(file: string): Study {
  return parseStudySpec(readFileSync(file, "utf8"), file);
}
