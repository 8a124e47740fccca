/**
 * Daemon configuration. Precedence: command-line flags > HPOD_* environment
 * variables > config file (JSON or YAML) > documented defaults.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import type { LogFormat, LogLevel } from "./log.js";

export const DEFAULT_PORT = 50551;

export interface DaemonConfig {
  /** gRPC listen address HOST:PORT. Default 127.0.0.1:50551 (loopback only). */
  listen: string;
  /** LevelDB data directory. Default $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/hpod, else ~/.local/state/hpod. */
  dataDir: string;
  /** debug, info, warn or error. Default info. */
  logLevel: LogLevel;
  /** json or text. Default text on a terminal, json otherwise. */
  logFormat: LogFormat;
  /** Largest request accepted, in bytes; bigger ones get RESOURCE_EXHAUSTED. Default 4 MiB. */
  maxMessageBytes: number;
  /** On SIGTERM, how long in-flight calls may finish before they are cut. Default 10000 ms. */
  drainTimeoutMs: number;
  /** How often heartbeat leases are checked. Default 1000 ms. */
  leaseSweepMs: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

interface Source {
  listen?: string;
  dataDir?: string;
  logLevel?: string;
  logFormat?: string;
  maxMessageBytes?: string | number;
  drainTimeoutMs?: string | number;
  leaseSweepMs?: string | number;
}

/** Keys as written in flags, environment variables and config files. */
const KEYS: Array<{ key: keyof Source; flag: string; env: string; file: string }> = [
  { key: "listen", flag: "listen", env: "HPOD_LISTEN", file: "listen" },
  { key: "dataDir", flag: "data-dir", env: "HPOD_DATA_DIR", file: "data_dir" },
  { key: "logLevel", flag: "log-level", env: "HPOD_LOG_LEVEL", file: "log_level" },
  { key: "logFormat", flag: "log-format", env: "HPOD_LOG_FORMAT", file: "log_format" },
  { key: "maxMessageBytes", flag: "max-message-bytes", env: "HPOD_MAX_MESSAGE_BYTES", file: "max_message_bytes" },
  { key: "drainTimeoutMs", flag: "drain-timeout-ms", env: "HPOD_DRAIN_TIMEOUT_MS", file: "drain_timeout_ms" },
  { key: "leaseSweepMs", flag: "lease-sweep-ms", env: "HPOD_LEASE_SWEEP_MS", file: "lease_sweep_ms" },
];

export const SERVE_USAGE = `usage: hpod serve [options]

  --listen HOST:PORT        gRPC address (env HPOD_LISTEN; default 127.0.0.1:${DEFAULT_PORT})
  --data-dir DIR            LevelDB data directory (env HPOD_DATA_DIR; default $STATE_DIRECTORY,
                            $XDG_STATE_HOME/hpod or ~/.local/state/hpod)
  --config FILE             JSON or YAML config file (env HPOD_CONFIG); keys: ${KEYS.map((k) => k.file).join(", ")}
  --log-level LEVEL         debug|info|warn|error (env HPOD_LOG_LEVEL; default info)
  --log-format FORMAT       json|text (env HPOD_LOG_FORMAT; default text on a terminal, else json)
  --max-message-bytes N     largest request in bytes (default 4194304)
  --drain-timeout-ms N      grace period for in-flight calls on SIGTERM (default 10000)
  --lease-sweep-ms N        how often heartbeat leases are checked (default 1000)
`;

function defaultDataDir(env: NodeJS.ProcessEnv): string {
  const systemd = env.STATE_DIRECTORY?.split(":")[0];
  if (systemd) return systemd;
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "hpod");
}

function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) as unknown;
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON or YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`config file ${path} must hold a mapping of keys`);
  const out: Source = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const entry = KEYS.find((x) => x.file === k);
    if (!entry) throw new ConfigError(`config file ${path}: unknown key "${k}" (known: ${KEYS.map((x) => x.file).join(", ")})`);
    if (typeof v !== "string" && typeof v !== "number") throw new ConfigError(`config file ${path}: "${k}" must be a string or number`);
    (out as Record<string, string | number>)[entry.key] = v;
  }
  return out;
}

function positiveInt(v: string | number, name: string): number {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive integer (got "${v}")`);
  return n;
}

export function parseListen(addr: string, name = "listen"): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`${name} must be HOST:PORT (got "${addr}")`);
  return { host: m[1] as string, port };
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...Object.fromEntries(KEYS.map((k) => [k.flag, { type: "string" as const }])),
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help) throw new ConfigError("help");
  const configPath = (flags.config as string | undefined) ?? env.HPOD_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  // An empty environment variable counts as unset, as shells make them easily.
  const pick = (k: (typeof KEYS)[number]): string | number | undefined =>
    (flags[k.flag] as string | undefined) ?? (env[k.env] || undefined) ?? file[k.key];
  const get = (key: keyof Source): string | number | undefined => pick(KEYS.find((k) => k.key === key)!);

  const listen = String(get("listen") ?? `127.0.0.1:${DEFAULT_PORT}`);
  parseListen(listen);
  const logLevel = String(get("logLevel") ?? "info");
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new ConfigError(`log level must be debug, info, warn or error (got "${logLevel}")`);
  const rawFormat = get("logFormat");
  const logFormat = rawFormat === undefined ? (process.stderr.isTTY ? "text" : "json") : String(rawFormat);
  if (logFormat !== "json" && logFormat !== "text") throw new ConfigError(`log format must be json or text (got "${logFormat}")`);
  return {
    listen,
    dataDir: String(get("dataDir") ?? defaultDataDir(env)),
    logLevel: logLevel as LogLevel,
    logFormat,
    maxMessageBytes: positiveInt(get("maxMessageBytes") ?? 4 * 1024 * 1024, "max message bytes"),
    drainTimeoutMs: positiveInt(get("drainTimeoutMs") ?? 10_000, "drain timeout"),
    leaseSweepMs: positiveInt(get("leaseSweepMs") ?? 1000, "lease sweep interval"),
  };
}
