/**
 * Command-line parsing with node:util parseArgs: global options, the command
 * words, its positional arguments and the options it allows.
 */
import { parseArgs } from "node:util";

import { DEFAULT_ADDRESS } from "../hpod-client.js";
import { UsageError } from "./usage.js";

const OPTIONS = {
  address: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  file: { type: "string", short: "f" },
  "load-if-exists": { type: "boolean" },
  "page-size": { type: "string" },
  all: { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  state: { type: "string", multiple: true },
  limit: { type: "string" },
  format: { type: "string" },
  output: { type: "string", short: "o" },
  out: { type: "string" },
} as const;

type OptionName = keyof typeof OPTIONS;
const GLOBAL_OPTIONS: readonly OptionName[] = ["address", "json", "help"];

/** The commands: their words, positional argument names and own options. */
export const COMMANDS = {
  "study create": { args: [], options: ["file", "load-if-exists"] },
  "study list": { args: [], options: ["page-size", "all"] },
  "study get": { args: ["NAME"], options: [] },
  "study delete": { args: ["NAME"], options: ["yes"] },
  "study pause": { args: ["NAME"], options: [] },
  "study resume": { args: ["NAME"], options: [] },
  "study stop": { args: ["NAME"], options: [] },
  trials: { args: ["STUDY"], options: ["state", "limit"] },
  best: { args: ["STUDY"], options: [] },
  export: { args: ["STUDY"], options: ["format", "output"] },
  watch: { args: ["STUDY"], options: [] },
  "admin backup": { args: [], options: ["out"] },
} as const satisfies Record<string, { args: readonly string[]; options: readonly OptionName[] }>;

export type CommandName = keyof typeof COMMANDS;

/** Option values as parseArgs returns them. */
export interface OptionValues {
  address?: string;
  json?: boolean;
  help?: boolean;
  file?: string;
  "load-if-exists"?: boolean;
  "page-size"?: string;
  all?: boolean;
  yes?: boolean;
  state?: string[];
  limit?: string;
  format?: string;
  output?: string;
  out?: string;
}

export interface CommandLine {
  address: string;
  json: boolean;
  /** Undefined with --help or no command. */
  command: CommandName | undefined;
  /** The command's positional arguments, by position. */
  args: string[];
  values: OptionValues;
}

function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/** Parses argv (without node and the script). Throws UsageError. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const values: OptionValues = parsed.values;
  const positionals = parsed.positionals;
  const envAddress = env.HPOD_ADDRESS !== undefined && env.HPOD_ADDRESS !== "" ? env.HPOD_ADDRESS : undefined;
  const address = values.address ?? envAddress ?? DEFAULT_ADDRESS;
  if (address === "") throw new UsageError("--address must not be empty");
  const json = values.json === true;
  if (values.help === true || positionals.length === 0) {
    return { address, json, command: undefined, args: [], values };
  }

  const [first, second] = positionals;
  let name: string;
  let rest: string[];
  if (first === "study") {
    if (second === undefined) throw new UsageError("study: missing subcommand (create, list, get, delete, pause, resume, stop)");
    name = `study ${second}`;
    rest = positionals.slice(2);
  } else if (first === "admin") {
    if (second === undefined) throw new UsageError("admin: missing subcommand (backup)");
    name = `admin ${second}`;
    rest = positionals.slice(2);
  } else {
    name = first;
    rest = positionals.slice(1);
  }
  if (!isCommandName(name)) throw new UsageError(`unknown command "${name}"`);
  const spec = COMMANDS[name];
  const allowed = new Set<string>([...GLOBAL_OPTIONS, ...spec.options]);
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && !allowed.has(key)) throw new UsageError(`${name}: option --${key} does not apply`);
  }
  if (rest.length < spec.args.length) throw new UsageError(`${name}: missing ${spec.args.slice(rest.length).join(" ")}`);
  if (rest.length > spec.args.length) throw new UsageError(`${name}: unexpected argument "${rest[spec.args.length]}"`);
  return { address, json, command: name, args: rest, values };
}

/** An integer option within [min, max], or undefined when absent. */
export function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got "${value}"`);
  }
  return n;
}
