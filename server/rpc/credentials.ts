/**
 * Server credentials for the gRPC port: plaintext, TLS (--tls-cert,
 * --tls-key), or mutual TLS (--tls-client-ca as well).
 *
 * Under mutual TLS the handshake asks for a client certificate and verifies
 * it against the client CA, but does not drop the connection when there is
 * none: the auth interceptor then refuses every call except health checks with
 * UNAUTHENTICATED. A client therefore learns why it was refused, and health
 * probes need no certificate. The files are read at start and again on
 * `reload()` (SIGHUP), so certificates can be rotated without a restart.
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** PEM bundle of the CAs that sign client certificates: mutual TLS. */
  clientCaFile?: string;
}

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

/** One provider for both the identity and the client CA (grpc-js asks for each). */
class FilesProvider {
  private ca: Buffer | undefined;
  private cert!: Buffer;
  private key!: Buffer;
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdListener>();

  constructor(private readonly files: TlsFiles) {
    this.read();
  }

  private read(): void {
    const cert = readPem(this.files.certFile, "--tls-cert");
    const key = readPem(this.files.keyFile, "--tls-key");
    const ca = this.files.clientCaFile ? readPem(this.files.clientCaFile, "--tls-client-ca") : undefined;
    this.cert = cert;
    this.key = key;
    this.ca = ca;
  }

  reload(): void {
    this.read();
    for (const l of this.idListeners) l({ certificate: this.cert, privateKey: this.key });
    if (this.ca) for (const l of this.caListeners) l({ caCertificate: this.ca });
  }

  // Listeners hear the current files on the next tick, not during the add:
  // grpc-js registers its own watcher only after adding these listeners, and
  // an update delivered before that would leave the server dropping every
  // connection as "credentials not loaded".
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    queueMicrotask(() => {
      if (this.caListeners.has(l)) l(this.ca ? { caCertificate: this.ca } : null);
    });
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => {
      if (this.idListeners.has(l)) l({ certificate: this.cert, privateKey: this.key });
    });
  }
  removeIdentityCertificateListener(l: IdListener): void {
    this.idListeners.delete(l);
  }
}

function readPem(path: string, flag: string): Buffer {
  try {
    const b = readFileSync(path);
    if (!b.includes("-----BEGIN ")) throw new Error("not a PEM file");
    return b;
  } catch (e) {
    throw new Error(`${flag} ${path}: ${(e as Error).message}`);
  }
}

export interface GrpcCredentials {
  credentials: grpc.ServerCredentials;
  /** Re-reads the certificate files (no-op without TLS). */
  reload(): void;
  mode: "plaintext" | "tls" | "mtls";
}

export function serverCredentials(tls: TlsFiles | undefined): GrpcCredentials {
  if (!tls) return { credentials: grpc.ServerCredentials.createInsecure(), reload: () => undefined, mode: "plaintext" };
  const provider = new FilesProvider(tls);
  // grpc-js 1.14 hands its first argument to the credentials as the identity
  // provider and the second as the CA provider (the declared names say the
  // opposite); one provider serving both keeps mTLS right either way, and the
  // TLS-only case is covered by test/integration/tls.test.ts.
  // requireClientCertificate=false: see the comment at the top.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, tls.clientCaFile ? provider : null, false);
  return { credentials, reload: () => provider.reload(), mode: tls.clientCaFile ? "mtls" : "tls" };
}
