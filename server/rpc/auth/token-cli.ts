/**
 * `hpod token create --name N --role R --namespace NS [--namespace NS2...]
 * [--expires RFC3339]`: prints a new random token once (stdout, first line)
 * and the entry to append to the tokens file (its SHA-256, never the token).
 */
import { parseArgs } from "node:util";
import { entryYaml, hashToken, newToken, parseRfc3339, parseTokensFile, ROLES, type Role, type TokenEntry } from "./tokens.js";

export const TOKEN_USAGE = `usage: hpod token create --name NAME --role read|write|admin --namespace NS [--namespace NS...]
                         [--expires RFC3339]

Prints a new random bearer token once, then the entry to append to the tokens
file (--tokens-file). The file stores only the token's SHA-256: keep the token
itself where the client reads it (e.g. HPOD_TOKEN). --namespace "*" allows all
namespaces. Revoke an entry with "revoked: true" and send the daemon SIGHUP.
`;

export interface TokenCliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export function tokenCommand(argv: string[], io: TokenCliIo, now = new Date()): number {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "help" || sub === "--help" || sub === "-h") {
    io.stdout(TOKEN_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== "create") {
    io.stderr(`hpod token: unknown subcommand "${sub}"\n\n${TOKEN_USAGE}`);
    return 2;
  }
  let values: { name?: string; role?: string; namespace?: string[]; expires?: string; help?: boolean };
  try {
    values = parseArgs({
      args: rest,
      options: {
        name: { type: "string" },
        role: { type: "string" },
        namespace: { type: "string", multiple: true },
        expires: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    io.stderr(`hpod token create: ${(e as Error).message}\n\n${TOKEN_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(TOKEN_USAGE);
    return 0;
  }
  const problems: string[] = [];
  if (!values.name) problems.push("--name is required");
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) problems.push("--role must be read, write or admin");
  if (!values.namespace || values.namespace.length === 0) problems.push('--namespace is required ("*" for all)');
  if (problems.length > 0) {
    io.stderr(`hpod token create: ${problems.join("; ")}\n\n${TOKEN_USAGE}`);
    return 2;
  }
  const token = newToken();
  const entry: TokenEntry = {
    name: values.name as string,
    sha256: hashToken(token),
    role: values.role as Role,
    namespaces: values.namespace as string[],
  };
  try {
    if (values.expires !== undefined) {
      if (parseRfc3339(values.expires, "--expires") <= now.getTime()) throw new Error(`--expires ${values.expires} is in the past`);
      entry.expires = values.expires;
    }
    const yaml = entryYaml(entry, now);
    // The same checks the daemon makes when it reads the file.
    parseTokensFile(`tokens:\n${yaml}`, "the new entry");
    io.stdout(`${token}\n`);
    io.stderr(
      "The line above is the token; it is shown only this once. Append this entry under \"tokens:\" in the tokens file, then send the daemon SIGHUP:\n",
    );
    io.stdout(`\n${yaml}`);
    return 0;
  } catch (e) {
    io.stderr(`hpod token create: ${(e as Error).message}\n`);
    return 2;
  }
}
