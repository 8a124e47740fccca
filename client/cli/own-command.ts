/**
 * The commands that parse their own flags (`hpo runner`, `hpo tune`,
 * `hpo predict`) are recognised before the CLI's parser: the global flags
 * `--address A` and `--json` may come before the command word.
 */
export interface OwnCommandArgv {
  /** The global flags before the command word, as given. */
  globals: string[];
  /** --json was among them. */
  json: boolean;
  /** The arguments after the command word. */
  args: string[];
}

/** When argv is `[--address A] [--json] <command> ...`, its parts; else undefined. */
export function ownCommandArgv(argv: readonly string[], command: string): OwnCommandArgv | undefined {
  let i = 0;
  let json = false;
  while (i < argv.length) {
    const token = argv[i];
    if (token === "--address") i += 2;
    else if (token.startsWith("--address=")) i += 1;
    else if (token === "--json") {
      json = true;
      i += 1;
    } else break;
  }
  if (argv[i] !== command) return undefined;
  return { globals: argv.slice(0, i), json, args: argv.slice(i + 1) };
}
