/**
 * End to end: the Python example client (examples/python/) against the real
 * daemon. Generates the Python stubs, runs parallel_study.py with 4 worker
 * threads and a 40-trial budget, then cross-checks its summary with what the
 * daemon reports through the TypeScript client.
 *
 * Needs /usr/bin/python3 with grpcio and protobuf, protoc and
 * grpc_python_plugin (.ci/install-python-deps.sh). Skipped only when
 * /usr/bin/python3 cannot `import grpc`.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { credentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  type GetBestTrialsResponse,
  type GetStudyResponse,
  HpodServiceClient,
  type ListTrialsResponse,
} from "../../client/gen/hpod/v1/hpod_service.js";
import type { ParameterValue } from "../../client/gen/hpod/v1/search_space.js";
import { StudyState } from "../../client/gen/hpod/v1/study.js";
import { type Trial, TrialState } from "../../client/gen/hpod/v1/trial.js";
import { DAEMON_MAIN, ROOT, type Daemon, removeDir, startDaemon, tempDir } from "../helpers/daemon.js";

const PYTHON = "/usr/bin/python3";
const EXAMPLES = join(ROOT, "examples", "python");
const WORKERS = 4;
const TRIALS = 40;
const STUDY = "py-parallel";
const WORKER_PREFIX = "e2e-py";

function pythonGrpcMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ["-c", "import grpc"], { encoding: "utf8" });
  if (r.error) return `${PYTHON} -c 'import grpc' could not run: ${r.error.message}`;
  if (r.status !== 0) return `${PYTHON} cannot import grpc (run .ci/install-python-deps.sh): ${r.stderr.trim()}`;
  return null;
}

const skipReason = pythonGrpcMissing();
// CI installs the Python packages, so there a missing client is a failure, not a skip.
if (skipReason && process.env.HPOD_REQUIRE_PYTHON === "1") throw new Error(`HPOD_REQUIRE_PYTHON=1 but ${skipReason}`);
if (skipReason) console.warn(`python-client e2e skipped: ${skipReason}`);

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} timed out after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Promise form of a grpc-js unary call: `unary((cb) => client.getStudy(req, cb))`. */
function unary<Res>(start: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, res) => (err ? reject(err) : resolve(res)));
  });
}

function plain(v: ParameterValue | undefined): unknown {
  return v?.kind?.value;
}

/** The objective of parallel_study.py, recomputed from the stored params. */
function objective(params: Trial["params"]): number {
  const x = plain(params.x) as number;
  const lr = plain(params.lr) as number;
  const layers = plain(params.layers) as number;
  const act = plain(params.act) as string;
  return (x - 1) ** 2 + (Math.log10(lr) + 2) ** 2 + 0.25 * (layers - 3) ** 2 + (act === "relu" ? 0 : 0.5);
}

interface Summary {
  trials: number;
  complete: number;
  best_value: number | null;
  best_params: Record<string, unknown> | null;
  best_trial_id: number | null;
  distinct_ids: boolean;
  per_worker: Record<string, number>;
  errors: Record<string, string>;
}

describe.skipIf(skipReason !== null)(
  `Python client (examples/python) against the daemon${skipReason ? ` [skipped: ${skipReason}]` : ""}`,
  () => {
    let daemon: Daemon | undefined;
    let client: HpodServiceClient | undefined;
    let genDir: string | undefined;

    beforeAll(async () => {
      if (!existsSync(DAEMON_MAIN)) throw new Error(`${DAEMON_MAIN} missing: run \`npm run build\` first`);
      genDir = tempDir("hpod-pygen-");
      const gen = await run("bash", [join(EXAMPLES, "generate.sh"), genDir], {}, 60_000);
      if (gen.code !== 0) throw new Error(`generate.sh failed (${gen.code}):\n${gen.stdout}\n${gen.stderr}`);
      daemon = await startDaemon();
      client = new HpodServiceClient(daemon.address, credentials.createInsecure());
    }, 90_000);

    afterAll(async () => {
      client?.close();
      if (daemon) {
        await daemon.stop();
        removeDir(daemon.dataDir);
      }
      if (genDir) removeDir(genDir);
    });

    it(
      `runs ${TRIALS} trials with ${WORKERS} workers, and the daemon agrees`,
      async () => {
        const res = await run(
          PYTHON,
          [
            join(EXAMPLES, "parallel_study.py"),
            "--address",
            daemon!.address,
            "--study",
            STUDY,
            "--workers",
            String(WORKERS),
            "--trials",
            String(TRIALS),
            "--worker-prefix",
            WORKER_PREFIX,
            "--timeout",
            "100",
          ],
          { HPOD_PY_GEN_DIR: genDir!, PYTHONDONTWRITEBYTECODE: "1" },
          110_000,
        );
        const context = `parallel_study.py exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}\ndaemon log tail:\n${daemon!.logs.slice(-20).join("\n")}`;
        expect(res.code, context).toBe(0);
        const lines = res.stdout.trim().split("\n");
        const summary = JSON.parse(lines[lines.length - 1]) as Summary;

        // The script's own view.
        expect(summary.errors, context).toEqual({});
        expect(summary.trials, context).toBe(TRIALS);
        expect(summary.complete, context).toBe(TRIALS);
        expect(summary.distinct_ids, context).toBe(true);
        expect(Object.keys(summary.per_worker).sort()).toEqual(
          Array.from({ length: WORKERS }, (_, i) => `${WORKER_PREFIX}:w${i}`).sort(),
        );
        expect(typeof summary.best_value).toBe("number");
        expect(Object.keys(summary.best_params ?? {}).sort()).toEqual(["act", "layers", "lr", "x"]);

        // The daemon's view, through the TypeScript client.
        const trials: Trial[] = [];
        let pageToken = "";
        do {
          const req = { study: STUDY, pageSize: 1000, pageToken, states: [], omitIntermediate: false };
          const page = await unary<ListTrialsResponse>((cb) => client!.listTrials(req, cb));
          trials.push(...page.trials);
          pageToken = page.nextPageToken;
        } while (pageToken);

        expect(trials).toHaveLength(TRIALS);
        const ids = trials.map((t) => t.id).sort((a, b) => a - b);
        expect(new Set(ids).size).toBe(TRIALS);
        expect(ids).toEqual(Array.from({ length: TRIALS }, (_, i) => i));

        const workerIds = new Set(Object.keys(summary.per_worker));
        for (const t of trials) {
          const where = `trial ${t.id}: ${JSON.stringify(t)}`;
          expect(t.study, where).toBe(STUDY);
          expect(t.state, where).toBe(TrialState.TRIAL_STATE_COMPLETE);
          expect(workerIds.has(t.workerId), where).toBe(true);

          // Parameter kinds and ranges as declared.
          expect(t.params.x?.kind?.$case, where).toBe("numberValue");
          expect(t.params.lr?.kind?.$case, where).toBe("numberValue");
          expect(t.params.layers?.kind?.$case, where).toBe("intValue");
          expect(t.params.act?.kind?.$case, where).toBe("stringValue");
          const x = plain(t.params.x) as number;
          const lr = plain(t.params.lr) as number;
          const layers = plain(t.params.layers) as number;
          expect(x >= -5 && x <= 5, where).toBe(true);
          expect(lr >= 1e-4 && lr <= 1, where).toBe(true);
          expect(Number.isInteger(layers) && layers >= 1 && layers <= 4, where).toBe(true);
          expect(["relu", "tanh"]).toContain(plain(t.params.act));

          // 3 intermediate measurements (steps 0, 1, 2), then the final one.
          expect(t.intermediate, where).toHaveLength(3);
          expect(t.intermediate.map((m) => m.step), where).toEqual([0, 1, 2]);
          const f = objective(t.params);
          expect(t.finalMeasurement?.values, where).toHaveLength(1);
          expect(t.finalMeasurement!.values[0], where).toBeCloseTo(f, 9);
          expect(t.finalMeasurement!.step, where).toBeUndefined();
          t.intermediate.forEach((m, k) => expect(m.values[0], where).toBeCloseTo(f + 1 / (k + 1), 9));
        }

        const best = await unary<GetBestTrialsResponse>((cb) => client!.getBestTrials({ study: STUDY }, cb));
        expect(best.trials).toHaveLength(1);
        const bestTrial = best.trials[0];
        expect(bestTrial.finalMeasurement?.values[0]).toBe(summary.best_value);
        expect(bestTrial.id).toBe(summary.best_trial_id);
        const minValue = Math.min(...trials.map((t) => t.finalMeasurement!.values[0]));
        expect(summary.best_value).toBe(minValue);
        expect(summary.best_params).toEqual(
          Object.fromEntries(Object.entries(bestTrial.params).map(([k, v]) => [k, plain(v)])),
        );

        const study = await unary<GetStudyResponse>((cb) => client!.getStudy({ name: STUDY }, cb));
        expect(study.study?.trialCounts?.complete).toBe(TRIALS);
        expect(study.study?.state).toBe(StudyState.STUDY_STATE_COMPLETED);
      },
      150_000,
    );
  },
);
