/** The daemon's version, read from package.json so there is one source. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

function read(): string {
  for (const up of [["..", ".."], [".."]]) {
    try {
      const pkg = JSON.parse(readFileSync(join(import.meta.dirname, ...up, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "hpod" && pkg.version) return pkg.version;
    } catch {
      /* try the next candidate */
    }
  }
  return "unknown";
}

export const VERSION = read();
