/**
 * Connection settings from the environment, shared by the SDK and the CLI:
 * HPOD_TLS_CA / HPOD_TLS_CERT / HPOD_TLS_KEY (paths) for TLS or mutual TLS,
 * and HPOD_TOKEN (or a file named by HPOD_TOKEN_FILE) for a bearer token.
 */
import { readFileSync } from "node:fs";
import { credentials as grpcCredentials, Metadata, type ChannelCredentials } from "@grpc/grpc-js";

export interface EnvConnection {
  credentials: ChannelCredentials;
  /** The bearer token, when one is configured. */
  token: string | undefined;
}

export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env): EnvConnection {
  const file = (name: string): Buffer | null => {
    const p = env[name];
    return p ? readFileSync(p) : null;
  };
  const ca = file("HPOD_TLS_CA");
  const cert = file("HPOD_TLS_CERT");
  const key = file("HPOD_TLS_KEY");
  const tls = ca !== null || cert !== null;
  const token = env.HPOD_TOKEN || (env.HPOD_TOKEN_FILE ? readFileSync(env.HPOD_TOKEN_FILE, "utf8").trim() : "");
  return {
    credentials: tls ? grpcCredentials.createSsl(ca, key, cert) : grpcCredentials.createInsecure(),
    token: token || undefined,
  };
}

/** Call metadata carrying a bearer token. */
export function bearerMetadata(token: string | undefined): Metadata {
  const md = new Metadata();
  if (token) md.set("authorization", `Bearer ${token}`);
  return md;
}
