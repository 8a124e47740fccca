/**
 * Daemon configuration: defaults, flags > env > file precedence, file
 * formats and validation. The environment is always passed explicitly.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { ConfigError, DEFAULT_PORT, loadConfig, parseListen } from "../../server/config.js";

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

const KNOWN = "listen, data_dir, log_level, log_format, max_message_bytes, drain_timeout_ms, lease_sweep_ms";

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
    expect(cfg).toEqual({ listen: "[::1]:9", dataDir: "/d", logLevel: "error", logFormat: "json", maxMessageBytes: 11, drainTimeoutMs: 12, leaseSweepMs: 13 });
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
