/**
 * Slot allocation: how many trials run at once and which GPUs each one owns.
 * The plan is fixed for the runner's life, so a slot's worker id
 * (`<base>/<slot>`) and its GPUs never change, and two slots never share a GPU
 * unless `trialsPerGpu` > 1 asks for packing.
 */
import { slotWorkerId } from "../client/worker-id.js";
import type { GpuInfo } from "./gpu-discovery.js";

export interface Slot {
  /** 0-based. */
  index: number;
  /** `<base>/<index>`: stable across runner restarts with the same base. */
  workerId: string;
  /** The GPUs this slot's trials see; empty for a CPU slot or a Slurm slot. */
  gpus: GpuInfo[];
  /** For Slurm slots: GPUs each job asks Slurm for (Slurm picks them). */
  slurmGpus: number;
  /** CUDA_VISIBLE_DEVICES for local trials ("" hides every GPU); undefined: leave it to the launcher. */
  cudaVisibleDevices: string | undefined;
}

export class SlotPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SlotPlanError";
  }
}

export interface GpuSlotOptions {
  workerIdBase: string;
  gpus: readonly GpuInfo[];
  /** Trials packed on one GPU (>= 1). */
  trialsPerGpu: number;
  /** GPUs per trial (>= 1). Only one of the two may exceed 1. */
  gpusPerTrial: number;
  /** Upper bound on the number of slots, when given. */
  maxSlots?: number;
}

/**
 * GPU slots. With `gpusPerTrial` N: floor(G / N) slots, slot i owns GPUs
 * [i*N, i*N+N). With `trialsPerGpu` K: G*K slots, slot i owns GPU i mod G
 * (consecutive slots land on different GPUs, so a partly used runner spreads
 * its trials).
 */
export function planGpuSlots(o: GpuSlotOptions): Slot[] {
  if (o.gpus.length === 0) throw new SlotPlanError("no GPU to plan slots on");
  if (!Number.isInteger(o.trialsPerGpu) || o.trialsPerGpu < 1) throw new SlotPlanError(`--trials-per-gpu must be an integer >= 1, got ${o.trialsPerGpu}`);
  if (!Number.isInteger(o.gpusPerTrial) || o.gpusPerTrial < 1) throw new SlotPlanError(`--gpus-per-trial must be an integer >= 1, got ${o.gpusPerTrial}`);
  if (o.trialsPerGpu > 1 && o.gpusPerTrial > 1) {
    throw new SlotPlanError("--trials-per-gpu and --gpus-per-trial cannot both be above 1");
  }
  const groups: GpuInfo[][] = [];
  if (o.gpusPerTrial > 1) {
    if (o.gpus.length < o.gpusPerTrial) {
      throw new SlotPlanError(`--gpus-per-trial ${o.gpusPerTrial} needs at least that many GPUs, ${o.gpus.length} available`);
    }
    for (let i = 0; i + o.gpusPerTrial <= o.gpus.length; i += o.gpusPerTrial) groups.push(o.gpus.slice(i, i + o.gpusPerTrial));
  } else {
    for (let k = 0; k < o.trialsPerGpu; k++) for (const gpu of o.gpus) groups.push([gpu]);
  }
  const count = o.maxSlots === undefined ? groups.length : Math.min(groups.length, o.maxSlots);
  return groups.slice(0, count).map((gpus, index) => ({
    index,
    workerId: slotWorkerId(o.workerIdBase, index),
    gpus,
    slurmGpus: 0,
    cudaVisibleDevices: gpus.map((g) => g.index).join(","),
  }));
}

/** CPU slots: no GPU visible to the trials (CUDA_VISIBLE_DEVICES=""). */
export function planCpuSlots(workerIdBase: string, count: number): Slot[] {
  if (!Number.isInteger(count) || count < 1) throw new SlotPlanError(`--slots must be an integer >= 1, got ${count}`);
  return Array.from({ length: count }, (_, index) => ({
    index,
    workerId: slotWorkerId(workerIdBase, index),
    gpus: [],
    slurmGpus: 0,
    cudaVisibleDevices: "",
  }));
}

/** Slurm slots: `count` jobs in flight, each asking for `gpusPerJob` GPUs (Slurm sets CUDA_VISIBLE_DEVICES). */
export function planSlurmSlots(workerIdBase: string, count: number, gpusPerJob: number): Slot[] {
  if (!Number.isInteger(count) || count < 1) throw new SlotPlanError(`--slots must be an integer >= 1, got ${count}`);
  if (!Number.isInteger(gpusPerJob) || gpusPerJob < 0) throw new SlotPlanError(`--gpus-per-trial must be an integer >= 0, got ${gpusPerJob}`);
  return Array.from({ length: count }, (_, index) => ({
    index,
    workerId: slotWorkerId(workerIdBase, index),
    gpus: [],
    slurmGpus: gpusPerJob,
    cudaVisibleDevices: undefined,
  }));
}

/** A short description for logs: `slot 2 (gpu 2)`, `slot 0 (cpu)`, `slot 1 (slurm, 1 gpu)`. */
export function describeSlot(slot: Slot): string {
  if (slot.gpus.length > 0) return `slot ${slot.index} (gpu ${slot.cudaVisibleDevices})`;
  if (slot.cudaVisibleDevices === undefined) return `slot ${slot.index} (slurm, ${slot.slurmGpus} gpu)`;
  return `slot ${slot.index} (cpu)`;
}
