/**
 * What a CLI command runs with: its streams, output mode, a lazily created
 * client, and a signal aborted on Ctrl-C.
 */
import type { JsonValue } from "@bufbuild/protobuf";

import { HpodClient } from "../hpod-client.js";

/** The process streams a command uses (replaceable in tests). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export class CliContext {
  private clientInstance: HpodClient | undefined;

  constructor(
    readonly io: CliIo,
    readonly address: string,
    /** Print proto3 JSON instead of tables. */
    readonly json: boolean,
    /** Aborted on SIGINT. */
    readonly signal: AbortSignal,
  ) {}

  /** The client, created on first use. */
  client(): HpodClient {
    this.clientInstance ??= new HpodClient({ address: this.address });
    return this.clientInstance;
  }

  close(): void {
    this.clientInstance?.close();
  }

  /** Writes to stdout, resolving once the text is handed to the OS or buffered. */
  out(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.io.stdout.write(text, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Writes a line to stderr. */
  note(text: string): void {
    this.io.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** Prints a JSON value, indented. */
  printJson(value: JsonValue): Promise<void> {
    return this.out(`${JSON.stringify(value, null, 2)}\n`);
  }
}
