/**
 * The coordinator's handle on its client processes: forks them, hands each
 * its share of the workers, starts them on one common window and collects
 * their samples.
 */
import { fork, type ChildProcess } from "node:child_process";
import type { Assignment, ChildResult, FromChild, ToChild, Window } from "./protocol.js";

const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 5_000;

/** How messages reach a client process and come back: Node IPC (forked grpc-js clients) or JSON lines (Python). */
export interface Transport {
  send(msg: ToChild): void;
  onMessage(cb: (m: FromChild) => void): void;
  /** Whether the process can still be asked to exit politely. */
  canSend(): boolean;
}

export function ipcTransport(proc: ChildProcess): Transport {
  return {
    send: (msg) => proc.send(msg),
    onMessage: (cb) => proc.on("message", (raw: unknown) => cb(raw as FromChild)),
    canSend: () => proc.connected,
  };
}

/** One client process with a queue, so a message that arrives before anyone waits for it is not lost. */
export class Link {
  private readonly queue: FromChild[] = [];
  private waiter: ((m: FromChild | Error) => void) | undefined;
  private gone: Error | undefined;
  readonly exited: Promise<void>;

  constructor(
    readonly proc: ChildProcess,
    private readonly transport: Transport = ipcTransport(proc),
  ) {
    transport.onMessage((m) => this.push(m));
    this.exited = new Promise((res) =>
      proc.once("exit", (code, signal) => {
        this.gone = new Error(`client process ${proc.pid} exited (code ${code}, signal ${signal})`);
        this.waiter?.(this.gone);
        res();
      }),
    );
  }

  send(msg: ToChild): void {
    this.transport.send(msg);
  }

  canSend(): boolean {
    return this.transport.canSend();
  }

  next(timeoutMs: number): Promise<FromChild> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`client process ${this.proc.pid} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
    });
  }

  private push(m: FromChild): void {
    if (this.waiter) this.waiter(m);
    else this.queue.push(m);
  }
}

async function expect<T extends FromChild["type"]>(link: Link, type: T, timeoutMs: number): Promise<Extract<FromChild, { type: T }>> {
  const m = await link.next(timeoutMs);
  if (m.type === "failed") throw new Error(`client process ${link.proc.pid} failed: ${m.error}`);
  if (m.type !== type) throw new Error(`client process ${link.proc.pid}: expected ${type}, got ${m.type}`);
  return m as Extract<FromChild, { type: T }>;
}

export class ClientPool {
  constructor(private readonly links: Link[]) {}

  static start(count: number, script: string): ClientPool {
    // execArgv [] keeps profiler or inspector flags of the coordinator off the clients.
    const links = Array.from({ length: count }, () => new Link(fork(script, ["--child"], { execArgv: [], serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] })));
    return new ClientPool(links);
  }

  get size(): number {
    return this.links.length;
  }

  pids(): number[] {
    return this.links.map((l) => l.proc.pid ?? -1);
  }

  /** Each process gets its own assignment; resolves once all are connected. */
  async prepare(assignments: Assignment[]): Promise<void> {
    this.links.forEach((l, i) => l.send({ type: "prepare", assignment: assignments[i] }));
    await Promise.all(this.links.map((l) => expect(l, "ready", READY_TIMEOUT_MS)));
  }

  async go(window: Window, resultTimeoutMs: number): Promise<ChildResult[]> {
    for (const l of this.links) l.send({ type: "go", window });
    const results = await Promise.all(this.links.map((l) => expect(l, "result", resultTimeoutMs)));
    return results.map((m) => m.result);
  }

  /** Asks politely, then kills whatever is left. */
  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => closeLink(l)));
  }
}

async function closeLink(l: Link): Promise<void> {
  if (l.proc.exitCode !== null || l.proc.signalCode !== null) return;
  if (l.canSend()) l.send({ type: "exit" });
  const timer = setTimeout(() => l.proc.kill("SIGKILL"), EXIT_TIMEOUT_MS);
  await l.exited;
  clearTimeout(timer);
}

/** Splits N worker ids into `parts` contiguous, nearly equal shares. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, j) => items.slice(Math.floor((j * items.length) / parts), Math.floor(((j + 1) * items.length) / parts)));
}
