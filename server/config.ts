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
export const DEFAULT_METRICS_LISTEN = "127.0.0.1:9551";

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
  /** Worker threads for model-fitting samplers; 0 runs them on the event loop. Default: cores - 1, 1..4. */
  samplerThreads: number | undefined;
  /** Nice value of the sampler threads (Linux, thread only; 0 leaves them alone). Default 10. */
  samplerNiceness: number;
  /** /metrics, /healthz, /readyz listener HOST:PORT; "" disables it. Default 127.0.0.1:9551. */
  metricsListen: string;
  /** True when metricsListen is the default: failing to bind it is then logged, not fatal. */
  metricsListenDefaulted: boolean;
  /** Study and namespace labels on metrics. Default true. */
  metricsPerStudy: boolean;
  /** HTTPS for the metrics listener. */
  metricsTlsCert?: string | undefined;
  metricsTlsKey?: string | undefined;
  /** none, or token: /metrics needs a bearer token from the tokens file (any role). Default none. */
  metricsAuth: "none" | "token";
  /** TLS for the gRPC port. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** CA bundle for client certificates: mutual TLS required. */
  tlsClientCa?: string | undefined;
  /** Bearer tokens (YAML or JSON, hashed); calls need one. Re-read on SIGHUP. */
  tokensFile?: string | undefined;
  /** gRPC reflection: off, open (no auth) or auth (like a read call). Default auth. */
  reflection: "off" | "open" | "auth";
  /** Allow a non-loopback listener with neither TLS nor authentication. Default false. */
  insecure: boolean;
  /** Unary calls in flight per client before RESOURCE_EXHAUSTED. Default 256. */
  maxPendingPerClient: number;
  /**
   * Shut down (as on SIGTERM) when standard input reaches end-of-file. For a
   * parent that starts a private daemon with a pipe on its stdin (`hpo
   * tune`): the kernel closes the pipe when the parent dies, even by SIGKILL,
   * so the daemon never outlives it. Default false.
   */
  exitWithStdin: boolean;
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
  samplerThreads?: string | number;
  samplerNiceness?: string | number;
  metricsListen?: string;
  metricsPerStudy?: string | number | boolean;
  metricsTlsCert?: string;
  metricsTlsKey?: string;
  metricsAuth?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  tokensFile?: string;
  reflection?: string;
  insecure?: string | number | boolean;
  maxPendingPerClient?: string | number;
  exitWithStdin?: string | number | boolean;
}

/** Keys as written in flags, environment variables and config files. */
const KEYS: Array<{ key: keyof Source; flag: string; env: string; file: string; boolean?: true; switch?: true }> = [
  { key: "listen", flag: "listen", env: "HPOD_LISTEN", file: "listen" },
  { key: "dataDir", flag: "data-dir", env: "HPOD_DATA_DIR", file: "data_dir" },
  { key: "logLevel", flag: "log-level", env: "HPOD_LOG_LEVEL", file: "log_level" },
  { key: "logFormat", flag: "log-format", env: "HPOD_LOG_FORMAT", file: "log_format" },
  { key: "maxMessageBytes", flag: "max-message-bytes", env: "HPOD_MAX_MESSAGE_BYTES", file: "max_message_bytes" },
  { key: "drainTimeoutMs", flag: "drain-timeout-ms", env: "HPOD_DRAIN_TIMEOUT_MS", file: "drain_timeout_ms" },
  { key: "leaseSweepMs", flag: "lease-sweep-ms", env: "HPOD_LEASE_SWEEP_MS", file: "lease_sweep_ms" },
  { key: "samplerThreads", flag: "sampler-threads", env: "HPOD_SAMPLER_THREADS", file: "sampler_threads" },
  { key: "samplerNiceness", flag: "sampler-niceness", env: "HPOD_SAMPLER_NICENESS", file: "sampler_niceness" },
  { key: "metricsListen", flag: "metrics-listen", env: "HPOD_METRICS_LISTEN", file: "metrics_listen" },
  { key: "metricsPerStudy", flag: "metrics-per-study", env: "HPOD_METRICS_PER_STUDY", file: "metrics_per_study", boolean: true },
  { key: "metricsTlsCert", flag: "metrics-tls-cert", env: "HPOD_METRICS_TLS_CERT", file: "metrics_tls_cert" },
  { key: "metricsTlsKey", flag: "metrics-tls-key", env: "HPOD_METRICS_TLS_KEY", file: "metrics_tls_key" },
  { key: "metricsAuth", flag: "metrics-auth", env: "HPOD_METRICS_AUTH", file: "metrics_auth" },
  { key: "tlsCert", flag: "tls-cert", env: "HPOD_TLS_CERT", file: "tls_cert" },
  { key: "tlsKey", flag: "tls-key", env: "HPOD_TLS_KEY", file: "tls_key" },
  { key: "tlsClientCa", flag: "tls-client-ca", env: "HPOD_TLS_CLIENT_CA", file: "tls_client_ca" },
  { key: "tokensFile", flag: "tokens-file", env: "HPOD_TOKENS_FILE", file: "tokens_file" },
  { key: "reflection", flag: "reflection", env: "HPOD_REFLECTION", file: "reflection" },
  { key: "insecure", flag: "insecure", env: "HPOD_INSECURE", file: "insecure", boolean: true, switch: true },
  { key: "maxPendingPerClient", flag: "max-pending-per-client", env: "HPOD_MAX_PENDING_PER_CLIENT", file: "max_pending_per_client" },
  { key: "exitWithStdin", flag: "exit-with-stdin", env: "HPOD_EXIT_WITH_STDIN", file: "exit_with_stdin", boolean: true, switch: true },
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
  --sampler-threads N       worker threads for TPE, GP, CMA-ES, ... (0: on the event loop; default cores-1, 1..4)
  --sampler-niceness N      nice value of those threads, 0..19, so RPCs preempt fits (default 10)
  --exit-with-stdin         shut down cleanly when stdin reaches end-of-file (for a parent that
                            starts a private daemon on a pipe, as hpo tune does: it then never
                            outlives its parent, even one killed with SIGKILL)

operations (each also HPOD_<FLAG> in the environment and <flag_with_underscores> in the file):
  --metrics-listen HOST:PORT  /metrics, /healthz, /readyz over HTTP (default ${DEFAULT_METRICS_LISTEN});
                            "" or off disables it
  --metrics-per-study BOOL  study/namespace labels on metrics (default true)
  --metrics-tls-cert FILE, --metrics-tls-key FILE   HTTPS for the metrics listener
  --metrics-auth none|token /metrics needs a bearer token from --tokens-file (default none)
  --max-pending-per-client N  unary calls in flight per client before RESOURCE_EXHAUSTED (default 256)

security:
  --tls-cert FILE, --tls-key FILE   TLS on the gRPC port (PEM)
  --tls-client-ca FILE      require client certificates signed by these CAs (mutual TLS)
  --tokens-file FILE        require bearer tokens (YAML/JSON, SHA-256 hashed; re-read on SIGHUP);
                            create entries with: hpod token create --help
  --reflection off|open|auth  gRPC reflection (default auth: needs what a read call needs)
  --insecure                allow a non-loopback address with neither TLS nor authentication
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
    if (typeof v !== "string" && typeof v !== "number" && !(entry.boolean && typeof v === "boolean")) {
      throw new ConfigError(`config file ${path}: "${k}" must be a ${entry.boolean ? "boolean" : "string or number"}`);
    }
    (out as Record<string, string | number | boolean>)[entry.key] = v;
  }
  return out;
}

function positiveInt(v: string | number | boolean, name: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
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
        ...Object.fromEntries(KEYS.map((k) => [k.flag, { type: k.switch ? ("boolean" as const) : ("string" as const) }])),
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
  const pick = (k: (typeof KEYS)[number]): string | number | boolean | undefined =>
    (flags[k.flag] as string | boolean | undefined) ?? (env[k.env] || undefined) ?? file[k.key];
  const get = (key: keyof Source): string | number | boolean | undefined => pick(KEYS.find((k) => k.key === key)!);
  const str = (key: keyof Source): string | undefined => {
    const v = get(key);
    return v === undefined || v === "" ? undefined : String(v);
  };

  const listen = String(get("listen") ?? `127.0.0.1:${DEFAULT_PORT}`);
  parseListen(listen);
  const logLevel = String(get("logLevel") ?? "info");
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new ConfigError(`log level must be debug, info, warn or error (got "${logLevel}")`);
  const rawFormat = get("logFormat");
  const logFormat = rawFormat === undefined ? (process.stderr.isTTY ? "text" : "json") : String(rawFormat);
  if (logFormat !== "json" && logFormat !== "text") throw new ConfigError(`log format must be json or text (got "${logFormat}")`);
  const rawMetrics = get("metricsListen");
  const metricsListen = rawMetrics === undefined ? DEFAULT_METRICS_LISTEN : String(rawMetrics) === "off" ? "" : String(rawMetrics);
  if (metricsListen !== "") parseListen(metricsListen, "metrics listen");
  const both = (a: keyof Source, b: keyof Source, what: string): void => {
    if ((str(a) === undefined) !== (str(b) === undefined)) throw new ConfigError(`${what} needs both a certificate and a key`);
  };
  both("tlsCert", "tlsKey", "TLS (--tls-cert, --tls-key)");
  both("metricsTlsCert", "metricsTlsKey", "metrics TLS (--metrics-tls-cert, --metrics-tls-key)");
  if (str("tlsClientCa") !== undefined && str("tlsCert") === undefined) throw new ConfigError("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key");
  const reflection = String(get("reflection") ?? "auth");
  if (reflection !== "off" && reflection !== "open" && reflection !== "auth") throw new ConfigError(`reflection must be off, open or auth (got "${reflection}")`);
  const metricsAuth = String(get("metricsAuth") ?? "none");
  if (metricsAuth !== "none" && metricsAuth !== "token") throw new ConfigError(`metrics auth must be none or token (got "${metricsAuth}")`);
  if (metricsAuth === "token" && str("tokensFile") === undefined) throw new ConfigError("--metrics-auth token needs --tokens-file");
  return {
    listen,
    dataDir: String(get("dataDir") ?? defaultDataDir(env)),
    logLevel: logLevel as LogLevel,
    logFormat,
    maxMessageBytes: positiveInt(get("maxMessageBytes") ?? 4 * 1024 * 1024, "max message bytes"),
    drainTimeoutMs: positiveInt(get("drainTimeoutMs") ?? 10_000, "drain timeout"),
    leaseSweepMs: positiveInt(get("leaseSweepMs") ?? 1000, "lease sweep interval"),
    samplerThreads: samplerThreads(get("samplerThreads")),
    samplerNiceness: samplerNiceness(get("samplerNiceness") ?? 10),
    metricsListen,
    metricsListenDefaulted: rawMetrics === undefined,
    metricsPerStudy: bool(get("metricsPerStudy") ?? true, "metrics per study"),
    metricsTlsCert: str("metricsTlsCert"),
    metricsTlsKey: str("metricsTlsKey"),
    metricsAuth,
    tlsCert: str("tlsCert"),
    tlsKey: str("tlsKey"),
    tlsClientCa: str("tlsClientCa"),
    tokensFile: str("tokensFile"),
    reflection,
    insecure: bool(get("insecure") ?? false, "insecure"),
    exitWithStdin: bool(get("exitWithStdin") ?? false, "exit-with-stdin"),
    maxPendingPerClient: positiveInt(get("maxPendingPerClient") ?? 256, "max pending per client"),
  };
}

function samplerThreads(v: string | number | boolean | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0 || n > 64) throw new ConfigError(`sampler threads must be an integer in [0, 64] (got "${String(v)}")`);
  return n;
}

function samplerNiceness(v: string | number | boolean): number {
  const n = Number(v);
  if (typeof v === "boolean" || !Number.isSafeInteger(n) || n < 0 || n > 19) throw new ConfigError(`sampler niceness must be an integer in [0, 19] (got "${String(v)}")`);
  return n;
}

function bool(v: string | number | boolean, name: string): boolean {
  if (typeof v === "boolean") return v;
  const s = String(v).toLowerCase();
  if (["true", "1", "yes", "on"].includes(s)) return true;
  if (["false", "0", "no", "off"].includes(s)) return false;
  throw new ConfigError(`${name} must be true or false (got "${v}")`);
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
