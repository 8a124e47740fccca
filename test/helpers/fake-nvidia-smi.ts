/**
 * A stand-in `nvidia-smi` for the runner's GPU tests (no physical GPU can
 * exist here): a shell script on PATH that answers only the runner's query
 *   nvidia-smi --query-gpu=index,uuid,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits
 * with the fake GPUs' readings (MiB and %), and logs every call.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { tempDir } from "./daemon.js";

export interface FakeGpuReading {
  memoryUsedMiB: number;
  utilizationPercent: number;
}

export interface FakeNvidiaSmi {
  /** The directory holding `nvidia-smi`. */
  dir: string;
  /** PATH with the stand-in first. */
  path: string;
  /** The fake GPUs' UUIDs, by index. */
  uuids: string[];
  memoryTotalMiB: number;
  /** Changes what the next call prints. */
  setReadings(readings: readonly FakeGpuReading[]): void;
  /** The argument lists it was called with. */
  calls(): string[];
  remove(): void;
}

const QUERY = "--query-gpu=index,uuid,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits";

export function fakeUuid(index: number): string {
  return `GPU-${String(index).padStart(8, "0")}-fake-4a5b-8c9d-00000000000${index}`;
}

/** Installs the stand-in with `count` GPUs (default 4) in a fresh temp dir. */
export function installFakeNvidiaSmi(count = 4, memoryTotalMiB = 81559): FakeNvidiaSmi {
  const dir = tempDir("hpod-fake-smi-");
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const csv = join(dir, "gpus.csv");
  const log = join(dir, "calls.log");
  const uuids = Array.from({ length: count }, (_, i) => fakeUuid(i));
  const setReadings = (readings: readonly FakeGpuReading[]): void => {
    const lines = uuids.map((uuid, i) => {
      const r = readings[i] ?? { memoryUsedMiB: 0, utilizationPercent: 0 };
      return `${i}, ${uuid}, ${memoryTotalMiB}, ${r.memoryUsedMiB}, ${r.utilizationPercent}`;
    });
    writeFileSync(`${csv}.tmp`, `${lines.join("\n")}\n`);
    renameSync(`${csv}.tmp`, csv); // a call never sees a half-written file
  };
  setReadings(uuids.map((_, i) => ({ memoryUsedMiB: 1000 * (i + 1), utilizationPercent: 10 * (i + 1) })));
  const script = `#!/bin/sh
# stand-in nvidia-smi written by test/helpers/fake-nvidia-smi.ts
echo "$*" >> '${log}'
if [ "$*" != '${QUERY}' ]; then
  echo "fake nvidia-smi: unsupported arguments: $*" >&2
  exit 2
fi
cat '${csv}'
`;
  writeFileSync(join(bin, "nvidia-smi"), script);
  chmodSync(join(bin, "nvidia-smi"), 0o755);
  return {
    dir: bin,
    path: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    uuids,
    memoryTotalMiB,
    setReadings,
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => l !== "") : []),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
