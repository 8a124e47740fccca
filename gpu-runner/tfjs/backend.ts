/**
 * One TensorFlow.js object for the whole process. Two copies of tfjs-core
 * have separate engines, so every module of the tune trainable takes `tf`
 * from here. Order: @tensorflow/tfjs-node-gpu (only when nvidia-smi is on
 * PATH), @tensorflow/tfjs-node, then @tensorflow/tfjs with the wasm backend,
 * then its cpu backend.
 *
 * tfjs-node(-gpu) are not dependencies of hpod (their install script
 * downloads libtensorflow, which fails without internet): they are loaded
 * only when installed next to it.
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

import type * as TfModule from "@tensorflow/tfjs";
import { Gauge, type Registry } from "prom-client";

export type Tf = typeof TfModule;
export type BackendName = "tfjs-node-gpu" | "tfjs-node" | "wasm" | "cpu";
/** Every backend, in the order loadTf tries them. */
export const BACKEND_NAMES: readonly BackendName[] = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"];

export interface LoadedTf {
  tf: Tf;
  backend: BackendName;
  /** Why the earlier candidates were not used. */
  skipped: string[];
}

export interface LoadTfOptions {
  /** Force one backend (tests, --backend); undefined: the first that loads. */
  prefer?: BackendName;
  /** Gets `hpod_tune_backend_info{backend}` = 1 when given. */
  registry?: Registry;
  /** Log line sink; default none. */
  log?: (line: string) => void;
}

let loaded: Promise<LoadedTf> | undefined;

function onPath(command: string): boolean {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  return dirs.some((d) => existsSync(join(d, command)));
}

async function importOptional(name: string): Promise<Tf | undefined> {
  try {
    // A variable specifier: these packages are optional and absent from the type graph.
    const specifier: string = name;
    const mod = (await import(specifier)) as unknown as Tf & { default?: Tf };
    return mod.default !== undefined && typeof mod.default.tensor === "function" ? mod.default : mod;
  } catch {
    return undefined;
  }
}

async function loadOnce(prefer: BackendName | undefined): Promise<LoadedTf> {
  const skipped: string[] = [];
  const candidates: readonly BackendName[] = prefer !== undefined ? [prefer] : BACKEND_NAMES;
  for (const name of candidates) {
    if (name === "tfjs-node-gpu" || name === "tfjs-node") {
      if (name === "tfjs-node-gpu" && prefer === undefined && !onPath("nvidia-smi")) {
        skipped.push("tfjs-node-gpu: no nvidia-smi on PATH");
        continue;
      }
      const tf = await importOptional(`@tensorflow/${name}`);
      if (tf === undefined) {
        skipped.push(`${name}: not installed`);
        continue;
      }
      return { tf, backend: name, skipped };
    }
    const tf = await import("@tensorflow/tfjs");
    if (name === "wasm") {
      try {
        await import("@tensorflow/tfjs-backend-wasm");
        if (await tf.setBackend("wasm")) {
          await tf.ready();
          return { tf, backend: "wasm", skipped };
        }
        skipped.push("wasm: setBackend failed");
      } catch (error) {
        skipped.push(`wasm: ${error instanceof Error ? error.message : String(error)}`);
      }
      continue;
    }
    await tf.setBackend("cpu");
    await tf.ready();
    return { tf, backend: "cpu", skipped };
  }
  throw new Error(`no TensorFlow.js backend could be loaded (${skipped.join("; ")})`);
}

/**
 * The process's tf, loaded on first call (later calls return the same one;
 * `prefer` only matters on the first call).
 */
export async function loadTf(options: LoadTfOptions = {}): Promise<LoadedTf> {
  const first = loaded === undefined;
  loaded ??= loadOnce(options.prefer);
  const result = await loaded;
  if (first) {
    options.log?.(`tensorflow.js backend: ${result.backend}${result.skipped.length > 0 ? ` (skipped: ${result.skipped.join("; ")})` : ""}`);
  }
  if (options.registry !== undefined) registerBackendMetric(options.registry, result.backend);
  return result;
}

/** Sets gauge `hpod_tune_backend_info{backend}` to 1 on `registry`. */
export function registerBackendMetric(registry: Registry, backend: BackendName): void {
  const existing = registry.getSingleMetric("hpod_tune_backend_info");
  const gauge =
    existing instanceof Gauge
      ? existing
      : new Gauge({ name: "hpod_tune_backend_info", help: "TensorFlow.js backend used by hpo tune (value 1)", labelNames: ["backend"], registers: [registry] });
  gauge.set({ backend }, 1);
}
