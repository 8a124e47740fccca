/**
 * `hpo admin backup --out DIR`: asks the daemon for an online backup of its
 * store into DIR (a path on the daemon's host, resolved against this shell's
 * directory; it must not exist yet). Restore: `hpod serve --data-dir DIR`.
 *
 * Until the SDK learns TLS and tokens, this command reads them itself from
 * the environment: HPOD_TOKEN (or HPOD_TOKEN_FILE) for a bearer token, and
 * HPOD_TLS_CA, HPOD_TLS_CERT, HPOD_TLS_KEY for (mutual) TLS.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";

import { AdminServiceClient, type BackupResponse } from "../../gen/hpod/v1/admin_service.js";
import { bearerMetadata, connectionFromEnv } from "../../connection.js";
import { HpodClientError } from "../../errors.js";
import type { OptionValues } from "../args.js";
import type { CliContext } from "../context.js";
import { UsageError } from "../usage.js";

/** Channel credentials and call metadata from HPOD_TLS_* and HPOD_TOKEN[_FILE]. */
export function adminConnection(env: NodeJS.ProcessEnv): { credentials: grpc.ChannelCredentials; metadata: grpc.Metadata } {
  const { credentials, token } = connectionFromEnv(env);
  return { credentials, metadata: bearerMetadata(token) };
}

export async function adminBackup(ctx: CliContext, _args: string[], values: OptionValues): Promise<void> {
  if (values.out === undefined || values.out === "") throw new UsageError("admin backup: --out DIR is required");
  const destination = resolve(values.out);
  const { credentials, metadata } = adminConnection(ctx.io.env);
  const client = new AdminServiceClient(ctx.address, credentials);
  try {
    const res = await new Promise<BackupResponse>((ok, fail) => {
      const call = client.backup({ destination }, metadata, (err, r) => (err ? fail(HpodClientError.from(err, "Backup")) : ok(r)));
      ctx.signal.addEventListener("abort", () => call.cancel(), { once: true });
    });
    const seconds = (res.duration?.seconds ?? 0) + (res.duration?.nanos ?? 0) / 1e9;
    if (ctx.json) {
      await ctx.printJson({ destination: res.destination, keys: res.keys, bytes: res.bytes, durationSeconds: seconds });
    } else {
      await ctx.out(`backup written to ${res.destination}: ${res.keys} keys, ${res.bytes} bytes in ${seconds.toFixed(3)} s\n`);
    }
  } finally {
    client.close();
  }
}
