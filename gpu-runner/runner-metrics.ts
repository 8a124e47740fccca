/**
 * The runner's Prometheus metrics, on a registry of its own (never the
 * global one), served at `/metrics` on `--metrics-listen`:
 *
 *   hpod_runner_gpu_utilization_ratio{gpu,uuid}    GPU utilisation 0..1 (nvidia-smi utilization.gpu / 100)
 *   hpod_runner_gpu_memory_used_bytes{gpu,uuid}    GPU memory in use
 *   hpod_runner_gpu_memory_total_bytes{gpu,uuid}   GPU memory in all
 *   hpod_runner_slots                              slots of this runner
 *   hpod_runner_trials_running                     trials running now
 *   hpod_runner_trials_started_total               trials started
 *   hpod_runner_trials_finished_total{outcome}     trials ended: complete, pruned, failed, lost
 *   hpod_runner_reports_total{kind}                Report calls sent: intermediate, final, failed
 *
 * The GPU gauges hold the last nvidia-smi reading (every `--gpu-poll-seconds`);
 * `gpu` is nvidia-smi's index. Dashboards rely on the two first names.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { Counter, Gauge, Registry } from "prom-client";

import type { GpuInfo } from "./gpu-discovery.js";

export type TrialOutcomeLabel = "complete" | "pruned" | "failed" | "lost";
export type ReportKind = "intermediate" | "final" | "failed";

export class RunnerMetrics {
  readonly registry = new Registry();
  private readonly gpuUtilization: Gauge<"gpu" | "uuid">;
  private readonly gpuMemoryUsed: Gauge<"gpu" | "uuid">;
  private readonly gpuMemoryTotal: Gauge<"gpu" | "uuid">;
  readonly slots: Gauge;
  readonly running: Gauge;
  readonly started: Counter;
  readonly finished: Counter<"outcome">;
  readonly reports: Counter<"kind">;

  constructor() {
    const registers = [this.registry];
    this.gpuUtilization = new Gauge({
      name: "hpod_runner_gpu_utilization_ratio",
      help: "GPU utilisation as a ratio 0..1 (nvidia-smi utilization.gpu / 100), last reading.",
      labelNames: ["gpu", "uuid"],
      registers,
    });
    this.gpuMemoryUsed = new Gauge({
      name: "hpod_runner_gpu_memory_used_bytes",
      help: "GPU memory in use in bytes (nvidia-smi memory.used), last reading.",
      labelNames: ["gpu", "uuid"],
      registers,
    });
    this.gpuMemoryTotal = new Gauge({
      name: "hpod_runner_gpu_memory_total_bytes",
      help: "GPU memory in all in bytes (nvidia-smi memory.total).",
      labelNames: ["gpu", "uuid"],
      registers,
    });
    this.slots = new Gauge({ name: "hpod_runner_slots", help: "Trial slots of this runner.", registers });
    this.running = new Gauge({ name: "hpod_runner_trials_running", help: "Trials running now.", registers });
    this.started = new Counter({ name: "hpod_runner_trials_started_total", help: "Trials this runner started.", registers });
    this.finished = new Counter({
      name: "hpod_runner_trials_finished_total",
      help: "Trials that ended, by outcome: complete, pruned, failed, lost (the daemon gave the trial up).",
      labelNames: ["outcome"],
      registers,
    });
    this.reports = new Counter({
      name: "hpod_runner_reports_total",
      help: "Report calls the runner sent for its trials, by kind: intermediate, final, failed.",
      labelNames: ["kind"],
      registers,
    });
    for (const outcome of ["complete", "pruned", "failed", "lost"] as const) this.finished.inc({ outcome }, 0);
    for (const kind of ["intermediate", "final", "failed"] as const) this.reports.inc({ kind }, 0);
  }

  /** Replaces the GPU readings (a GPU no longer listed disappears). */
  setGpus(gpus: readonly GpuInfo[]): void {
    this.gpuUtilization.reset();
    this.gpuMemoryUsed.reset();
    this.gpuMemoryTotal.reset();
    for (const g of gpus) {
      const labels = { gpu: g.index, uuid: g.uuid };
      if (g.utilization !== undefined) this.gpuUtilization.set(labels, g.utilization);
      if (g.memoryUsedBytes !== undefined) this.gpuMemoryUsed.set(labels, g.memoryUsedBytes);
      if (g.memoryTotalBytes !== undefined) this.gpuMemoryTotal.set(labels, g.memoryTotalBytes);
    }
  }

  trialFinished(outcome: TrialOutcomeLabel): void {
    this.finished.inc({ outcome });
  }

  reported(kind: ReportKind): void {
    this.reports.inc({ kind });
  }
}

/** Splits `host:port` (`[::1]:9100`, `:9100` for all interfaces). */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--metrics-listen must be HOST:PORT, got "${listen}"`);
  }
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}

/** Serves the registry at /metrics; resolves to the server and its bound `host:port`. */
export async function serveMetrics(registry: Registry, listen: string): Promise<{ server: Server; address: string }> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || (path !== "/metrics" && path !== "/")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shown = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return { server, address: `${shown}:${bound.port}` };
}
