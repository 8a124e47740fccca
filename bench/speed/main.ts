/**
 * The entry point shared by bench/speed.ts and bench/load.ts: each file is both the coordinator and, with
 * --child, a forked grpc-js client process.
 */
import { runClientProcess } from "./client-proc.js";
import { UsageError } from "./args.js";

export function benchMain<O extends { help: boolean; child: boolean }>(
  name: string,
  usage: string,
  parse: (argv: readonly string[]) => O,
  coordinate: (o: O) => Promise<void>,
): void {
  let o: O;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${name}: ${e.message}\n\n${usage}`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(usage);
    return;
  }
  if (o.child) {
    runClientProcess();
    return;
  }
  // Exit explicitly: a leftover handle (a gRPC channel, a timer) must not keep the benchmark alive.
  coordinate(o).then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
      process.exit(1);
    },
  );
}
