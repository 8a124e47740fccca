/**
 * Typed access to a trial's parameters: the proto map
 * `{ name: ParameterValue }` as plain JS values.
 */
import { type LrSchedule, type ParameterValue } from "./gen/hpod/v1/search_space.js";

/** A parameter value as plain JS: numbers, strings, booleans or a schedule. */
export type ParamValue = number | string | boolean | LrSchedule;

/** A parameter is missing or has another type than the one asked for. */
export class ParamError extends Error {
  /** The parameter's name. */
  readonly param: string;

  constructor(param: string, message: string) {
    super(message);
    this.name = "ParamError";
    this.param = param;
  }
}

/** The JS value of a ParameterValue; throws for an empty oneof. */
export function fromParameterValue(value: ParameterValue, name = "?"): ParamValue {
  const kind = value.kind;
  if (kind === undefined) throw new ParamError(name, `parameter "${name}" has no value`);
  return kind.value;
}

/**
 * A ParameterValue of a JS value. Numbers become `numberValue` unless
 * `int` is set (then the number must be an integer and becomes `intValue`).
 */
export function toParameterValue(value: ParamValue, options: { int?: boolean } = {}): ParameterValue {
  switch (typeof value) {
    case "number":
      if (options.int === true) {
        if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer`);
        return { kind: { $case: "intValue", value } };
      }
      return { kind: { $case: "numberValue", value } };
    case "string":
      return { kind: { $case: "stringValue", value } };
    case "boolean":
      return { kind: { $case: "boolValue", value } };
    default:
      return { kind: { $case: "lrScheduleValue", value } };
  }
}

function describe(value: ParameterValue): string {
  const kind = value.kind;
  switch (kind?.$case) {
    case undefined:
      return "empty";
    case "numberValue":
      return `the float ${kind.value}`;
    case "intValue":
      return `the integer ${kind.value}`;
    case "stringValue":
      return `the string ${JSON.stringify(kind.value)}`;
    case "boolValue":
      return `the bool ${kind.value}`;
    case "lrScheduleValue":
      return "a learning-rate schedule";
  }
}

/**
 * The parameters of one trial. Getters throw a {@link ParamError} naming the
 * parameter when it is missing (e.g. an inactive conditional parameter) or
 * of another type.
 */
export class TrialParams {
  private readonly values: ReadonlyMap<string, ParameterValue>;

  constructor(params: Readonly<Record<string, ParameterValue>>) {
    this.values = new Map(Object.entries(params));
  }

  /** Whether the parameter is present (inactive conditional ones are not). */
  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The names of the present parameters, sorted. */
  names(): string[] {
    return [...this.values.keys()].sort();
  }

  /** The value of any type. */
  get(name: string): ParamValue {
    return fromParameterValue(this.raw(name), name);
  }

  /** A number: a float parameter, or an integer one (widened). */
  getFloat(name: string): number {
    const value = this.raw(name);
    const kind = value.kind;
    if (kind?.$case === "numberValue" || kind?.$case === "intValue") return kind.value;
    throw this.wrongType(name, "a number", value);
  }

  /** An integer: an int parameter, or a number parameter holding an integer. */
  getInt(name: string): number {
    const value = this.raw(name);
    const kind = value.kind;
    if (kind?.$case === "intValue") return kind.value;
    if (kind?.$case === "numberValue" && Number.isInteger(kind.value)) return kind.value;
    throw this.wrongType(name, "an integer", value);
  }

  getString(name: string): string {
    const value = this.raw(name);
    if (value.kind?.$case === "stringValue") return value.kind.value;
    throw this.wrongType(name, "a string", value);
  }

  getBool(name: string): boolean {
    const value = this.raw(name);
    if (value.kind?.$case === "boolValue") return value.kind.value;
    throw this.wrongType(name, "a bool", value);
  }

  getSchedule(name: string): LrSchedule {
    const value = this.raw(name);
    if (value.kind?.$case === "lrScheduleValue") return value.kind.value;
    throw this.wrongType(name, "a learning-rate schedule", value);
  }

  /** All present parameters as a plain object. */
  toObject(): Record<string, ParamValue> {
    const out: Record<string, ParamValue> = {};
    for (const name of this.names()) out[name] = this.get(name);
    return out;
  }

  private raw(name: string): ParameterValue {
    const value = this.values.get(name);
    if (value === undefined) {
      const present = this.names();
      throw new ParamError(
        name,
        `parameter "${name}" is not set in this trial (present: ${present.length > 0 ? present.join(", ") : "none"})`,
      );
    }
    return value;
  }

  private wrongType(name: string, wanted: string, value: ParameterValue): ParamError {
    return new ParamError(name, `parameter "${name}" is ${describe(value)}, not ${wanted}`);
  }
}
