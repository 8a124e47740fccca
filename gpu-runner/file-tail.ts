/**
 * Follows a file another process appends to (a Slurm job's stdout), by
 * offset: each `poll()` reads what was added since the last one.
 */
import { open } from "node:fs/promises";

export class FileTail {
  private offset = 0;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly onData: (chunk: Buffer) => void,
    private readonly chunkBytes = 1 << 16,
  ) {}

  /** Reads everything new; a missing file reads as empty. Calls are serialised. */
  poll(): Promise<void> {
    this.reading = this.reading.then(() => this.readNew());
    return this.reading;
  }

  private async readNew(): Promise<void> {
    let handle;
    try {
      handle = await open(this.path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    try {
      const buffer = Buffer.alloc(this.chunkBytes);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
        if (bytesRead === 0) return;
        this.offset += bytesRead;
        this.onData(Buffer.from(buffer.subarray(0, bytesRead)));
      }
    } finally {
      await handle.close();
    }
  }
}

/** The last `maxBytes` of a file as text (from a line start when possible); "" when missing. */
export async function readFileTail(path: string, maxBytes: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch {
    return "";
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    let text = buffer.toString("utf8");
    if (start > 0) {
      // Drop a partial first character and, when the cut is short of a line, the partial line.
      text = text.replace(/^\uFFFD+/, "");
      const nl = text.indexOf("\n");
      if (nl >= 0 && nl < text.length - 1 && nl < 200) text = text.slice(nl + 1);
    }
    return text.trimEnd();
  } finally {
    await handle.close();
  }
}
