/**
 * A client process: runs its share of the N worker loops against the daemon
 * and sends back the latency samples. Workers live in separate processes
 * because one grpc-js process saturates (~5k calls/s) before the daemon does.
 */
import { performance } from "node:perf_hooks";
import * as grpc from "@grpc/grpc-js";
import { DiagnosticsServiceClient, type EchoResponse } from "../../client/gen/hpod/v1/diagnostics_service.js";
import { HpodServiceClient, type ReportResponse, type SuggestResponse } from "../../client/gen/hpod/v1/hpod_service.js";
import type { ParameterValue } from "../../client/gen/hpod/v1/search_space.js";
import type { Assignment, ChildResult, FromChild, ToChild, Window } from "./protocol.js";

/** A short pause after a failed call so a broken daemon does not turn into a hot loop. */
const ERROR_BACKOFF_MS = 20;
/** Give in-flight calls this long past the window before reporting anyway. */
const DRAIN_GRACE_MS = 5_000;
const CONNECT_TIMEOUT_MS = 10_000;

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;

class Recorder implements ChildResult {
  completed = 0;
  errors = 0;
  firstError = "";
  suggestMs: number[] = [];
  reportMs: number[] = [];
  roundTripMs: number[] = [];
  echoMs: number[] = [];
  stuckLoops = 0;

  constructor(
    readonly phase: Assignment["phase"],
    private readonly window: Window,
  ) {}

  /** Only calls that finish inside the window count, so warm-up and drain are excluded. */
  inWindow(): boolean {
    const now = Date.now();
    return now >= this.window.measureFrom && now < this.window.measureUntil;
  }

  running(): boolean {
    return Date.now() < this.window.measureUntil;
  }

  /** The study new trials go to (see Assignment.rotate). */
  study(a: Assignment): string {
    if (!a.rotate) return a.study;
    const k = Math.floor((Date.now() - this.window.measureFrom) / a.rotate.everyMs);
    return a.rotate.studies[Math.min(a.rotate.studies.length - 1, Math.max(0, k))];
  }

  error(e: unknown): void {
    this.errors++;
    if (!this.firstError) this.firstError = e instanceof Error ? e.message : String(e);
  }

  result(): ChildResult {
    const { phase, completed, errors, firstError, suggestMs, reportMs, roundTripMs, echoMs, stuckLoops } = this;
    return { phase, completed, errors, firstError, suggestMs, reportMs, roundTripMs, echoMs, stuckLoops };
  }
}

function unary<Res>(start: (cb: Callback<Res>) => void): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function callOptions(timeoutMs: number): Partial<grpc.CallOptions> {
  return { deadline: Date.now() + timeoutMs };
}

/** One connection per client: without a local subchannel pool, grpc-js would share one connection across all clients of a process. */
function makeClients<C extends grpc.Client>(
  Ctor: new (address: string, creds: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C,
  a: Assignment,
): C[] {
  const count = Math.ceil(a.workerIds.length / a.workersPerChannel);
  return Array.from({ length: count }, () => new Ctor(a.address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }));
}

function waitReady(client: grpc.Client): Promise<void> {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + CONNECT_TIMEOUT_MS, (err) => (err ? reject(err) : resolve())));
}

function numeric(v: ParameterValue | undefined): number {
  const k = v?.kind;
  return k?.$case === "numberValue" || k?.$case === "intValue" ? k.value : 0;
}

/** A cheap objective, so the measured time is the daemon's and not a fake training step. */
function objective(params: { [key: string]: ParameterValue }): number {
  const x = numeric(params.x);
  const lr = numeric(params.lr);
  const n = numeric(params.n);
  return x * x + (Math.log10(lr > 0 ? lr : 1e-5) + 3) ** 2 + 0.1 * n;
}

async function trialLoop(client: HpodServiceClient, a: Assignment, workerId: string, rec: Recorder): Promise<void> {
  while (rec.running()) {
    try {
      const study = rec.study(a);
      const t0 = performance.now();
      const s = await unary<SuggestResponse>((cb) => client.suggest({ study, count: 1, workerId }, new grpc.Metadata(), callOptions(a.callTimeoutMs), cb));
      const t1 = performance.now();
      const trial = s.trials[0];
      if (!trial) {
        rec.error(new Error(`Suggest handed out no trial (study_done=${s.studyDone}, reason=${s.reason})`));
        await sleep(ERROR_BACKOFF_MS);
        continue;
      }
      const value = objective(trial.params);
      const reportMs: number[] = [];
      let tr = t1;
      // Optional intermediate Reports (steps 0..K-1), then the final one; each Report is one latency sample.
      for (let step = 0; step <= (a.intermediate ?? 0); step++) {
        const final = step === (a.intermediate ?? 0);
        const req = { study, trialId: trial.id, values: [final ? value : value + 1 / (step + 1)], constraintValues: [], metrics: {}, final, failed: false, failureReason: "", workerId, ...(final ? {} : { step }) };
        await unary<ReportResponse>((cb) => client.report(req, new grpc.Metadata(), callOptions(a.callTimeoutMs), cb));
        const now = performance.now();
        reportMs.push(now - tr);
        tr = now;
      }
      const t2 = tr;
      if (rec.inWindow()) {
        rec.completed++;
        rec.suggestMs.push(t1 - t0);
        rec.reportMs.push(...reportMs);
        rec.roundTripMs.push(t2 - t0);
      }
    } catch (e) {
      rec.error(e);
      await sleep(ERROR_BACKOFF_MS);
    }
  }
}

async function echoLoop(client: DiagnosticsServiceClient, a: Assignment, payload: Buffer, rec: Recorder): Promise<void> {
  while (rec.running()) {
    try {
      const t0 = performance.now();
      await unary<EchoResponse>((cb) => client.echo({ payload }, new grpc.Metadata(), callOptions(a.callTimeoutMs), cb));
      const t1 = performance.now();
      if (rec.inWindow()) {
        rec.completed++;
        rec.echoMs.push(t1 - t0);
      }
    } catch (e) {
      rec.error(e);
      await sleep(ERROR_BACKOFF_MS);
    }
  }
}

/** Clients of one phase, connected before the clock starts so connection setup is not measured. */
interface Prepared {
  assignment: Assignment;
  clients: grpc.Client[];
  loops(rec: Recorder): Promise<void>[];
}

async function prepare(a: Assignment): Promise<Prepared> {
  const workerClient = <C>(clients: C[], i: number): C => clients[Math.floor(i / a.workersPerChannel)];
  if (a.phase === "echo") {
    const clients = makeClients(DiagnosticsServiceClient, a);
    const payload = Buffer.alloc(a.payloadBytes, 0x61);
    await Promise.all(clients.map(waitReady));
    return { assignment: a, clients, loops: (rec) => a.workerIds.map((_, i) => echoLoop(workerClient(clients, i), a, payload, rec)) };
  }
  const clients = makeClients(HpodServiceClient, a);
  await Promise.all(clients.map(waitReady));
  return { assignment: a, clients, loops: (rec) => a.workerIds.map((id, i) => trialLoop(workerClient(clients, i), a, id, rec)) };
}

/** Waits for the loops, but never past the window plus the call deadline and a grace period. */
async function run(p: Prepared, window: Window): Promise<ChildResult> {
  const rec = new Recorder(p.assignment.phase, window);
  let pending = 0;
  const loops = p.loops(rec).map((l) => {
    pending++;
    return l.finally(() => pending--);
  });
  const limit = window.measureUntil - Date.now() + p.assignment.callTimeoutMs + DRAIN_GRACE_MS;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(loops), new Promise<void>((r) => (timer = setTimeout(r, limit)))]);
  clearTimeout(timer);
  rec.stuckLoops = pending;
  for (const c of p.clients) c.close();
  return rec.result();
}

function send(msg: FromChild): Promise<void> {
  return new Promise((resolve) => process.send!(msg, undefined, undefined, () => resolve()));
}

/** Entry point of a forked client process: prepare, go, report, repeat until told to exit. */
export function runClientProcess(): void {
  let prepared: Prepared | undefined;
  // An orphaned client process must not outlive a crashed coordinator.
  process.on("disconnect", () => process.exit(0));
  process.on("message", (raw: unknown) => {
    const msg = raw as ToChild;
    void handle(msg).catch((e: unknown) => send({ type: "failed", error: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
  });

  async function handle(msg: ToChild): Promise<void> {
    switch (msg.type) {
      case "prepare":
        prepared = await prepare(msg.assignment);
        await send({ type: "ready" });
        return;
      case "go": {
        if (!prepared) throw new Error("go before prepare");
        const result = await run(prepared, msg.window);
        prepared = undefined;
        await send({ type: "result", result });
        return;
      }
      case "exit":
        process.exit(0);
    }
  }
}
