/**
 * Daemon configuration: defaults, flags > env > file precedence, file
 * formats and validation. The environment is always passed explicitly.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ConfigError, DEFAULT_PORT, loadConfig, parseListen, type DaemonConfig } from "../../server/config.js";

const dir = mkdtempSync(join(tmpdir(), "hpod-config-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(ext: string, text: string): string {
  const p = join(dir, `c${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

const KNOWN =
  "listen, data_dir, log_level, log_format, max_message_bytes, drain_timeout_ms, lease_sweep_ms, sampler_threads, sampler_niceness, " +
  "metrics_listen, metrics_per_study, metrics_tls_cert, metrics_tls_key, metrics_auth, tls_cert, tls_key, tls_client_ca, " +
  "tokens_file, reflection, insecure, max_pending_per_client, exit_with_stdin";

/** The operations and security keys' defaults (TLS files and the tokens file are unset). */
const OPS_DEFAULTS: Partial<DaemonConfig> = {
  metricsListen: "127.0.0.1:9551",
  metricsListenDefaulted: true,
  metricsPerStudy: true,
  metricsAuth: "none",
  reflection: "auth",
  insecure: false,
  maxPendingPerClient: 256,
  samplerNiceness: 10,
  exitWithStdin: false,
};

describe("defaults", () => {
  it("with an empty environment", () => {
    expect(DEFAULT_PORT).toBe(50551);
    expect(loadConfig([], {})).toEqual({
      listen: "127.0.0.1:50551",
      dataDir: join(homedir(), ".local", "state", "hpod"),
      logLevel: "info",
      logFormat: process.stderr.isTTY ? "text" : "json",
      maxMessageBytes: 4 * 1024 * 1024,
      drainTimeoutMs: 10_000,
      leaseSweepMs: 1000,
      ...OPS_DEFAULTS,
    });
  });

  it("data dir: $STATE_DIRECTORY (first entry), else $XDG_STATE_HOME/hpod, else ~/.local/state/hpod", () => {
    expect(loadConfig([], { STATE_DIRECTORY: "/var/lib/hpod" }).dataDir).toBe("/var/lib/hpod");
    expect(loadConfig([], { STATE_DIRECTORY: "/var/lib/hpod:/var/lib/other" }).dataDir).toBe("/var/lib/hpod");
    expect(loadConfig([], { STATE_DIRECTORY: "/sd", XDG_STATE_HOME: "/xdg" }).dataDir).toBe("/sd");
    expect(loadConfig([], { XDG_STATE_HOME: "/xdg" }).dataDir).toBe("/xdg/hpod");
    expect(loadConfig([], { STATE_DIRECTORY: "", XDG_STATE_HOME: "/xdg" }).dataDir).toBe("/xdg/hpod");
    expect(loadConfig([], { XDG_STATE_HOME: "" }).dataDir).toBe(join(homedir(), ".local", "state", "hpod"));
  });

  it("the explicit env is used, not process.env", () => {
    const saved = process.env.HPOD_LISTEN;
    process.env.HPOD_LISTEN = "10.0.0.1:1";
    try {
      expect(loadConfig([], {}).listen).toBe("127.0.0.1:50551");
    } finally {
      if (saved === undefined) delete process.env.HPOD_LISTEN;
      else process.env.HPOD_LISTEN = saved;
    }
  });
});

describe("precedence: flags > env > file > defaults", () => {
  const yaml = () =>
    file(
      "yaml",
      [
        "listen: 0.0.0.0:1111",
        "data_dir: /from/file",
        "log_level: debug",
        "log_format: text",
        "max_message_bytes: 1000",
        "drain_timeout_ms: 5",
        "lease_sweep_ms: 7",
        "",
      ].join("\n"),
    );

  it("file values over defaults (YAML, numbers as numbers)", () => {
    expect(loadConfig(["--config", yaml()], {})).toEqual({
      listen: "0.0.0.0:1111",
      dataDir: "/from/file",
      logLevel: "debug",
      logFormat: "text",
      maxMessageBytes: 1000,
      drainTimeoutMs: 5,
      leaseSweepMs: 7,
      ...OPS_DEFAULTS,
    });
  });

  it("env over file, flags over env", () => {
    const cfg = loadConfig(["--config", yaml(), "--listen", "0.0.0.0:3333", "--lease-sweep-ms=9"], {
      HPOD_LISTEN: "0.0.0.0:2222",
      HPOD_LOG_LEVEL: "warn",
      HPOD_MAX_MESSAGE_BYTES: "2000",
      HPOD_LEASE_SWEEP_MS: "8",
      HPOD_DATA_DIR: "/from/env",
      STATE_DIRECTORY: "/systemd",
    });
    expect(cfg).toEqual({
      listen: "0.0.0.0:3333",
      dataDir: "/from/env",
      logLevel: "warn",
      logFormat: "text",
      maxMessageBytes: 2000,
      drainTimeoutMs: 5,
      leaseSweepMs: 9,
      ...OPS_DEFAULTS,
    });
  });

  it("every flag", () => {
    const cfg = loadConfig(
      [
        "--listen", "[::1]:9",
        "--data-dir", "/d",
        "--log-level", "error",
        "--log-format", "json",
        "--max-message-bytes", "11",
        "--drain-timeout-ms", "12",
        "--lease-sweep-ms", "13",
      ],
      {},
    );
    expect(cfg).toEqual({ listen: "[::1]:9", dataDir: "/d", logLevel: "error", logFormat: "json", maxMessageBytes: 11, drainTimeoutMs: 12, leaseSweepMs: 13, ...OPS_DEFAULTS });
  });

  it("the config file from $HPOD_CONFIG; --config wins over it", () => {
    const a = file("json", JSON.stringify({ listen: "1.1.1.1:1" }));
    const b = file("json", JSON.stringify({ listen: "2.2.2.2:2" }));
    expect(loadConfig([], { HPOD_CONFIG: a }).listen).toBe("1.1.1.1:1");
    expect(loadConfig(["--config", b], { HPOD_CONFIG: a }).listen).toBe("2.2.2.2:2");
  });

  it("JSON files", () => {
    const p = file("json", JSON.stringify({ data_dir: "/j", max_message_bytes: 123, log_level: "debug" }));
    const cfg = loadConfig(["--config", p], {});
    expect(cfg.dataDir).toBe("/j");
    expect(cfg.maxMessageBytes).toBe(123);
    expect(cfg.logLevel).toBe("debug");
    expect(cfg.listen).toBe("127.0.0.1:50551");
  });

  it("an empty file means defaults", () => {
    expect(loadConfig(["--config", file("yaml", "")], {}).listen).toBe("127.0.0.1:50551");
    expect(loadConfig(["--config", file("yaml", "# nothing\n")], {}).leaseSweepMs).toBe(1000);
  });
});

describe("config file errors", () => {
  it("unknown key names the key and the known ones", () => {
    const p = file("yaml", "listen: 127.0.0.1:1\nport: 5\n");
    expect(configError(() => loadConfig(["--config", p], {})).message).toBe(`config file ${p}: unknown key "port" (known: ${KNOWN})`);
    // flag spellings are not file keys
    const q = file("json", JSON.stringify({ "data-dir": "/x" }));
    expect(configError(() => loadConfig(["--config", q], {})).message).toBe(`config file ${q}: unknown key "data-dir" (known: ${KNOWN})`);
  });

  it("values must be strings or numbers", () => {
    const p = file("yaml", "listen:\n  host: a\n");
    expect(configError(() => loadConfig(["--config", p], {})).message).toBe(`config file ${p}: "listen" must be a string or number`);
    const q = file("json", JSON.stringify({ drain_timeout_ms: true }));
    expect(configError(() => loadConfig(["--config", q], {})).message).toBe(`config file ${q}: "drain_timeout_ms" must be a string or number`);
  });

  it("the document must be a mapping", () => {
    for (const text of ["- a\n- b\n", "just a string\n", "42\n"]) {
      const p = file("yaml", text);
      expect(configError(() => loadConfig(["--config", p], {})).message).toBe(`config file ${p} must hold a mapping of keys`);
    }
  });

  it("unreadable and unparsable files", () => {
    const missing = join(dir, "missing.yaml");
    expect(configError(() => loadConfig(["--config", missing], {})).message).toMatch(
      new RegExp(`^cannot read config file ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ENOENT`),
    );
    const bad = file("yaml", "listen: [unclosed\n");
    expect(configError(() => loadConfig(["--config", bad], {})).message).toMatch(/^config file .* is not valid JSON or YAML: /);
  });
});

describe("validation", () => {
  it("listen must be HOST:PORT with a port <= 65535", () => {
    for (const bad of ["localhost", "localhost:", ":50551", "host:70000", "host:123456", "a b:1", "::1:5", "[::1]", "host:port"]) {
      expect(configError(() => loadConfig(["--listen", bad], {})).message, bad).toBe(`listen must be HOST:PORT (got "${bad}")`);
    }
    expect(configError(() => loadConfig([], { HPOD_LISTEN: "nope" })).message).toBe('listen must be HOST:PORT (got "nope")');
    for (const good of ["[::1]:50551", "0.0.0.0:0", "example.com:65535", "[fe80::1]:1"]) {
      expect(loadConfig(["--listen", good], {}).listen).toBe(good);
    }
  });

  it("parseListen splits host and port", () => {
    expect(parseListen("127.0.0.1:50551")).toEqual({ host: "127.0.0.1", port: 50551 });
    expect(parseListen("[::1]:8080")).toEqual({ host: "[::1]", port: 8080 });
    expect(() => parseListen("x:65536", "--listen")).toThrow(new ConfigError('--listen must be HOST:PORT (got "x:65536")'));
  });

  it("numbers must be positive integers", () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [["--max-message-bytes", "0"], {}, 'max message bytes must be a positive integer (got "0")'],
      [["--max-message-bytes=-1"], {}, 'max message bytes must be a positive integer (got "-1")'],
      [["--max-message-bytes", "abc"], {}, 'max message bytes must be a positive integer (got "abc")'],
      [["--drain-timeout-ms", "1.5"], {}, 'drain timeout must be a positive integer (got "1.5")'],
      [[], { HPOD_DRAIN_TIMEOUT_MS: "soon" }, 'drain timeout must be a positive integer (got "soon")'],
      [["--lease-sweep-ms", "99999999999999999999"], {}, 'lease sweep interval must be a positive integer (got "99999999999999999999")'],
    ];
    for (const [argv, env, message] of cases) {
      expect(configError(() => loadConfig(argv, env)).message, message).toBe(message);
    }
    for (const bad of ["-1", "20", "1.5", "low"]) {
      expect(configError(() => loadConfig([`--sampler-niceness=${bad}`], {})).message).toBe(`sampler niceness must be an integer in [0, 19] (got "${bad}")`);
    }
    expect(loadConfig([], { HPOD_SAMPLER_NICENESS: "0" }).samplerNiceness).toBe(0);
    const p = file("yaml", "lease_sweep_ms: 0\n");
    expect(configError(() => loadConfig(["--config", p], {})).message).toBe('lease sweep interval must be a positive integer (got "0")');
  });

  it("log level and format", () => {
    expect(configError(() => loadConfig(["--log-level", "verbose"], {})).message).toBe(
      'log level must be debug, info, warn or error (got "verbose")',
    );
    expect(configError(() => loadConfig([], { HPOD_LOG_FORMAT: "xml" })).message).toBe('log format must be json or text (got "xml")');
    for (const level of ["debug", "info", "warn", "error"]) expect(loadConfig(["--log-level", level], {}).logLevel).toBe(level);
  });

  it("--help and -h -> ConfigError('help'), before anything else is checked", () => {
    for (const argv of [["--help"], ["-h"], ["--listen", "bad", "--help"], ["--config", join(dir, "nope.yaml"), "-h"]]) {
      const e = configError(() => loadConfig(argv, { HPOD_LISTEN: "also bad" }));
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.name).toBe("ConfigError");
      expect(e.message).toBe("help");
    }
  });

  it("unknown flags, missing flag values and positionals -> ConfigError", () => {
    for (const argv of [["--bogus"], ["serve"], ["--listen"], ["--help=yes"]]) {
      const e = configError(() => loadConfig(argv, {}));
      expect(e.message, argv.join(" ")).not.toBe("help");
      expect(e.message.length).toBeGreaterThan(0);
    }
  });
});

describe("operations and security keys", () => {
  it("every flag, and the same keys from env and file", () => {
    const flags = [
      "--metrics-listen", "0.0.0.0:9000",
      "--metrics-per-study=false",
      "--metrics-tls-cert", "/m.crt",
      "--metrics-tls-key", "/m.key",
      "--metrics-auth", "token",
      "--tls-cert", "/s.crt",
      "--tls-key", "/s.key",
      "--tls-client-ca", "/ca.crt",
      "--tokens-file", "/tokens.yaml",
      "--reflection", "off",
      "--insecure",
      "--max-pending-per-client", "8",
      "--exit-with-stdin",
    ];
    const expected = {
      metricsListen: "0.0.0.0:9000",
      metricsListenDefaulted: false,
      metricsPerStudy: false,
      metricsTlsCert: "/m.crt",
      metricsTlsKey: "/m.key",
      metricsAuth: "token",
      tlsCert: "/s.crt",
      tlsKey: "/s.key",
      tlsClientCa: "/ca.crt",
      tokensFile: "/tokens.yaml",
      reflection: "off",
      insecure: true,
      maxPendingPerClient: 8,
      exitWithStdin: true,
    };
    expect(loadConfig(flags, {})).toMatchObject(expected);
    const env = {
      HPOD_METRICS_LISTEN: "0.0.0.0:9000",
      HPOD_METRICS_PER_STUDY: "false",
      HPOD_METRICS_TLS_CERT: "/m.crt",
      HPOD_METRICS_TLS_KEY: "/m.key",
      HPOD_METRICS_AUTH: "token",
      HPOD_TLS_CERT: "/s.crt",
      HPOD_TLS_KEY: "/s.key",
      HPOD_TLS_CLIENT_CA: "/ca.crt",
      HPOD_TOKENS_FILE: "/tokens.yaml",
      HPOD_REFLECTION: "off",
      HPOD_INSECURE: "1",
      HPOD_MAX_PENDING_PER_CLIENT: "8",
      HPOD_EXIT_WITH_STDIN: "1",
    };
    expect(loadConfig([], env)).toMatchObject(expected);
    const yaml = file(
      "yaml",
      [
        "metrics_listen: 0.0.0.0:9000",
        "metrics_per_study: false",
        "metrics_tls_cert: /m.crt",
        "metrics_tls_key: /m.key",
        "metrics_auth: token",
        "tls_cert: /s.crt",
        "tls_key: /s.key",
        "tls_client_ca: /ca.crt",
        "tokens_file: /tokens.yaml",
        "reflection: 'off'",
        "insecure: true",
        "max_pending_per_client: 8",
        "exit_with_stdin: true",
        "",
      ].join("\n"),
    );
    expect(loadConfig(["--config", yaml], {})).toMatchObject(expected);
    // Flags over env over file, as for every key.
    expect(loadConfig(["--config", yaml, "--max-pending-per-client", "3"], { HPOD_MAX_PENDING_PER_CLIENT: "5" }).maxPendingPerClient).toBe(3);
    expect(loadConfig(["--config", yaml], { HPOD_MAX_PENDING_PER_CLIENT: "5" }).maxPendingPerClient).toBe(5);
  });

  it('metrics listener: "" or off disables it', () => {
    expect(loadConfig(["--metrics-listen", ""], {}).metricsListen).toBe("");
    expect(loadConfig(["--metrics-listen", "off"], {}).metricsListen).toBe("");
    expect(loadConfig([], { HPOD_METRICS_LISTEN: "off" })).toMatchObject({ metricsListen: "", metricsListenDefaulted: false });
    expect(configError(() => loadConfig(["--metrics-listen", "9551"], {})).message).toBe('metrics listen must be HOST:PORT (got "9551")');
  });

  it("inconsistent security settings are refused", () => {
    expect(configError(() => loadConfig(["--tls-cert", "/c"], {})).message).toBe("TLS (--tls-cert, --tls-key) needs both a certificate and a key");
    expect(configError(() => loadConfig(["--metrics-tls-key", "/k"], {})).message).toMatch(/^metrics TLS .* needs both/);
    expect(configError(() => loadConfig(["--tls-client-ca", "/ca"], {})).message).toMatch(/needs --tls-cert and --tls-key/);
    expect(configError(() => loadConfig(["--metrics-auth", "token"], {})).message).toBe("--metrics-auth token needs --tokens-file");
    expect(configError(() => loadConfig(["--reflection", "maybe"], {})).message).toBe('reflection must be off, open or auth (got "maybe")');
    expect(configError(() => loadConfig(["--metrics-per-study", "perhaps"], {})).message).toBe('metrics per study must be true or false (got "perhaps")');
    expect(configError(() => loadConfig(["--max-pending-per-client", "0"], {})).message).toMatch(/max pending per client must be a positive integer/);
    const p = file("json", JSON.stringify({ insecure: "sometimes" }));
    expect(configError(() => loadConfig(["--config", p], {})).message).toBe('insecure must be true or false (got "sometimes")');
    expect(configError(() => loadConfig([], { HPOD_EXIT_WITH_STDIN: "maybe" })).message).toBe('exit-with-stdin must be true or false (got "maybe")');
    const q = file("json", JSON.stringify({ tls_cert: true }));
    expect(configError(() => loadConfig(["--config", q], {})).message).toBe(`config file ${q}: "tls_cert" must be a string or number`);
  });
});
