/**
 * GPU discovery: the GPUs of this machine as `nvidia-smi` lists them (index,
 * UUID, memory, utilisation), or an explicit list given with `--gpus`.
 */
import { execFile } from "node:child_process";

/** The query the runner sends to nvidia-smi; a stand-in must answer it. */
export const NVIDIA_SMI_ARGS = [
  "--query-gpu=index,uuid,memory.total,memory.used,utilization.gpu",
  "--format=csv,noheader,nounits",
] as const;

/** One GPU. Readings nvidia-smi does not have ("[N/A]") are undefined. */
export interface GpuInfo {
  /** nvidia-smi's index (PCI bus order), as used in CUDA_VISIBLE_DEVICES. */
  index: string;
  /** `GPU-...`, or "" when unknown (explicit list without nvidia-smi). */
  uuid: string;
  memoryTotalBytes?: number;
  memoryUsedBytes?: number;
  /** 0..1 */
  utilization?: number;
}

/** nvidia-smi is missing, fails, or prints something unreadable. */
export class GpuDiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuDiscoveryError";
  }
}

const MIB = 1024 * 1024;

function reading(field: string, scale: number): number | undefined {
  const value = Number(field);
  return field !== "" && Number.isFinite(value) ? value * scale : undefined;
}

/** Parses `index, uuid, memory.total, memory.used, utilization.gpu` lines (MiB and %). */
export function parseNvidiaSmi(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const [n, raw] of output.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    if (fields.length !== 5 || !/^\d+$/.test(fields[0])) {
      throw new GpuDiscoveryError(`nvidia-smi line ${n + 1} is not "index, uuid, memory.total, memory.used, utilization.gpu": ${JSON.stringify(line)}`);
    }
    const [index, uuid, total, used, util] = fields;
    gpus.push({
      index,
      uuid: uuid.startsWith("[") ? "" : uuid,
      memoryTotalBytes: reading(total, MIB),
      memoryUsedBytes: reading(used, MIB),
      utilization: reading(util, 0.01),
    });
  }
  return gpus;
}

/**
 * Runs nvidia-smi. Resolves to undefined when it is not installed (ENOENT),
 * so "auto" can fall back to CPU slots; rejects when it is there but fails.
 */
export function queryNvidiaSmi(command = "nvidia-smi", timeoutMs = 10_000): Promise<GpuInfo[] | undefined> {
  return new Promise((resolve, reject) => {
    execFile(command, [...NVIDIA_SMI_ARGS], { timeout: timeoutMs, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          resolve(undefined);
          return;
        }
        const detail = stderr.trim() || stdout.trim() || error.message;
        reject(new GpuDiscoveryError(`${command} failed: ${detail}`));
        return;
      }
      try {
        resolve(parseNvidiaSmi(stdout));
      } catch (parseError) {
        reject(parseError);
      }
    });
  });
}

/** Parses `--gpus 0,1,3` (indices or GPU UUIDs); throws on empty or repeated entries. */
export function parseGpuList(text: string): string[] {
  const ids = text.split(",").map((s) => s.trim());
  if (ids.some((id) => id === "")) throw new GpuDiscoveryError(`--gpus "${text}": empty entry`);
  for (const id of ids) {
    if (!/^\d+$/.test(id) && !/^(GPU|MIG)-[A-Za-z0-9-/]+$/.test(id)) {
      throw new GpuDiscoveryError(`--gpus "${text}": "${id}" is neither a GPU index nor a GPU-/MIG- UUID`);
    }
  }
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new GpuDiscoveryError(`--gpus "${text}": "${id}" is listed twice`);
    seen.add(id);
  }
  return ids;
}

/**
 * The GPUs to use: `explicit` ids matched against what nvidia-smi lists (by
 * index or UUID), or all it lists when `explicit` is undefined. Without
 * nvidia-smi, explicit ids are taken as they are (no UUID, no readings).
 */
export function selectGpus(explicit: readonly string[] | undefined, listed: readonly GpuInfo[] | undefined): GpuInfo[] {
  if (explicit === undefined) return [...(listed ?? [])];
  if (listed === undefined) return explicit.map((id) => (id.startsWith("GPU-") || id.startsWith("MIG-") ? { index: id, uuid: id } : { index: id, uuid: "" }));
  return explicit.map((id) => {
    const gpu = listed.find((g) => g.index === id || g.uuid === id);
    if (gpu === undefined) {
      const known = listed.map((g) => `${g.index} (${g.uuid})`).join(", ") || "none";
      throw new GpuDiscoveryError(`--gpus: GPU "${id}" is not listed by nvidia-smi (listed: ${known})`);
    }
    return gpu;
  });
}
