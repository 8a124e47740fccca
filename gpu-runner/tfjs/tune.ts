/**
 * `hpo tune` end to end: load and split the data, load tf, start (or reach)
 * the daemon, create the study, run trials in-process through optimize(),
 * then evaluate the best model on the held-out test split, save it and write
 * the report.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, join, resolve } from "node:path";
import { createInterface } from "node:readline";

import { HpodClient } from "../../client/hpod-client.js";
import { optimize } from "../../client/optimize.js";
import { readStudySpec, studyFromJson } from "../../client/proto-json.js";
import { TrialPruned } from "../../client/trial-pruned.js";
import { toLrScheduleValue } from "../../client/lr-schedule.js";
import type { Study } from "../../client/gen/hpod/v1/study.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { parseGpuList, queryNvidiaSmi, selectGpus } from "../gpu-discovery.js";
import { planCpuSlots, planGpuSlots, type Slot } from "../slots.js";
import { loadTf, type BackendName } from "./backend.js";
import { loadDataset, splitDataset, take, type Dataset, type Task } from "./data.js";
import { renderCharts, renderReport, type ReportInput, type ReportTrial, type ScalarParam } from "./report.js";
import { saveModel } from "./save.js";
import { tuneStudyJson } from "./space.js";
import { paramsFromTrial, predict, score, trainMlp, type TrainData, type TrainedModel } from "./trainable.js";

export interface TuneOptions {
  data: string;
  target: string;
  task?: Task;
  trials: number;
  algorithm: string;
  pruner: string;
  /** "auto" | "none" | "0,1,..." */
  gpus: string;
  /** CPU slots (default 1: one process, one tf engine) or a cap on GPU slots. */
  slots?: number;
  address?: string;
  dataDir?: string;
  out: string;
  seed: number;
  epochs: number;
  spec?: string;
  studyName?: string;
  backend?: BackendName;
  /** Progress output. */
  write: (text: string) => void;
  isTty: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface TuneResult {
  study: string;
  backend: BackendName;
  task: Task;
  objective: string;
  bestTrial: number;
  bestParams: Record<string, ScalarParam>;
  validationScore: number;
  testScore: number;
  trials: ReportTrial[];
  modelPath: string;
  reportPath: string;
  /** plots/*.png written (empty without rsvg-convert). */
  pngs: string[];
  wallSeconds: number;
}

/**
 * Writes the charts as plots/<name>.svg and, when rsvg-convert (Debian
 * librsvg2-bin) is on PATH, plots/<name>.png; returns the PNG paths.
 */
export function writePlots(input: ReportInput, out: string): string[] {
  const dir = join(out, "plots");
  mkdirSync(dir, { recursive: true });
  const rsvg = (process.env.PATH ?? "").split(delimiter).some((d) => d !== "" && existsSync(join(d, "rsvg-convert")));
  const pngs: string[] = [];
  for (const chart of renderCharts(input)) {
    const svg = join(dir, `${chart.name}.svg`);
    writeFileSync(svg, chart.svg);
    if (!rsvg) continue;
    const png = join(dir, `${chart.name}.png`);
    try {
      execFileSync("rsvg-convert", ["-b", "white", svg, "-o", png], { timeout: 30_000, stdio: "ignore" });
      pngs.push(png);
    } catch {
      /* PNG is best effort */
    }
  }
  return pngs;
}

export class TuneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TuneError";
  }
}

export interface EmbeddedDaemon {
  address: string;
  stop(): Promise<void>;
}

/** Starts `node dist/server/main.js serve` on 127.0.0.1:0; resolves on its JSON "listening" line. */
export async function startEmbeddedDaemon(dataDir: string | undefined, log: (line: string) => void): Promise<EmbeddedDaemon> {
  const main = resolve(import.meta.dirname, "..", "..", "server", "main.js");
  const ownDir = dataDir === undefined;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "hpo-tune-"));
  const proc: ChildProcess = spawn(process.execPath, [main, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--metrics-listen", "off", "--log-format", "json"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const lines: string[] = [];
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  const address = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new TuneError(`embedded daemon did not start in 30 s:\n${lines.join("\n")}`)), 30_000);
    const rl = createInterface({ input: proc.stderr! });
    rl.on("line", (line) => {
      if (lines.length < 200) lines.push(line);
      try {
        const rec = JSON.parse(line) as { msg?: unknown; address?: unknown };
        if (rec.msg === "listening" && typeof rec.address === "string") {
          clearTimeout(timer);
          res(rec.address);
        }
      } catch {
        /* not JSON */
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      rej(new TuneError(`embedded daemon exited before listening:\n${lines.join("\n")}`));
    });
  });
  log(`embedded daemon at ${address} (data dir ${dir}${ownDir ? ", removed at exit" : ""})`);
  return {
    address,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The slots trials run in: the runner's plan for --gpus, CPU slots otherwise. */
export async function planTuneSlots(gpus: string, slots: number | undefined): Promise<Slot[]> {
  if (gpus === "none") return planCpuSlots("hpo-tune", slots ?? 1);
  const listed = await queryNvidiaSmi();
  const explicit = gpus === "auto" ? undefined : parseGpuList(gpus);
  const selected = selectGpus(explicit, listed);
  if (selected.length === 0) return planCpuSlots("hpo-tune", slots ?? 1);
  return planGpuSlots({ workerIdBase: "hpo-tune", gpus: selected, trialsPerGpu: 1, gpusPerTrial: 1, ...(slots !== undefined ? { maxSlots: slots } : {}) });
}

function scalarParams(params: Record<string, unknown>): Record<string, ScalarParam> {
  const out: Record<string, ScalarParam> = {};
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[k] = v;
    else if (typeof v === "object" && v !== null && "kind" in v) {
      try {
        out[k] = toLrScheduleValue(v as Parameters<typeof toLrScheduleValue>[0]).kind;
      } catch {
        out[k] = "?";
      }
    }
  }
  return out;
}

function studyName(o: TuneOptions): string {
  if (o.studyName !== undefined) return o.studyName;
  const base = basename(o.data).replace(/\.(csv|txt)(\.gz)?$/i, "").replace(/[^A-Za-z0-9_.-]/g, "_");
  return `tune-${base}-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "")}`;
}

function makeStudy(o: TuneOptions, dataset: Dataset, name: string): Study {
  if (o.spec !== undefined) {
    const study = readStudySpec(o.spec);
    if (study.name === "") study.name = name;
    return study;
  }
  return studyFromJson(
    tuneStudyJson({
      name,
      task: dataset.task,
      trials: o.trials,
      maxEpochs: o.epochs,
      image: dataset.imageShape !== undefined,
      features: dataset.featureNames.length,
      algorithm: o.algorithm,
      pruner: o.pruner,
      seed: o.seed,
    }),
  );
}

/** Runs the whole tune; throws TuneDataError / TuneError / HpodClientError. */
export async function runTune(o: TuneOptions): Promise<TuneResult> {
  const started = Date.now();
  const dataset = loadDataset(o.data, { target: o.target, ...(o.task !== undefined ? { task: o.task } : {}) });
  const split = splitDataset(dataset, { seed: o.seed });
  const train = take(dataset, split.train);
  const val = take(dataset, split.validation);
  o.log(
    `data: ${dataset.x.length} rows, ${dataset.featureNames.length} features, ${dataset.task}${dataset.task === "classification" ? ` (${dataset.classes.length} classes)` : ""}${dataset.imageShape !== undefined ? `, ${dataset.imageShape.join("x")} images` : ""}; split ${split.train.length}/${split.validation.length}/${split.test.length} (train/validation/test, seed ${o.seed})`,
  );
  const { tf, backend } = await loadTf({ ...(o.backend !== undefined ? { prefer: o.backend } : {}), log: o.log });
  const slots = await planTuneSlots(o.gpus, o.slots);
  const daemon = o.address === undefined ? await startEmbeddedDaemon(o.dataDir, o.log) : undefined;
  const client = new HpodClient({ address: o.address ?? daemon!.address });
  const trainData: TrainData = {
    task: dataset.task,
    classes: dataset.classes.length,
    xTrain: train.x,
    yTrain: train.y,
    xVal: val.x,
    yVal: val.y,
    ...(dataset.imageShape !== undefined ? { imageShape: dataset.imageShape } : {}),
  };
  const records = new Map<number, ReportTrial>();
  let best: { id: number; model: TrainedModel; params: Record<string, ScalarParam> } | undefined;
  try {
    const name = studyName(o);
    const created = await client.createStudy({ study: makeStudy(o, dataset, name), loadIfExists: true });
    const study = created.study?.name ?? name;
    const objective = created.study?.spec?.objectives[0]?.name ?? "value";
    o.log(`study ${study}: ${o.trials} trials, ${slots.length} slot(s)${slots.some((s) => s.gpus.length > 0) ? ` on GPUs ${slots.map((s) => s.cudaVisibleDevices).join(" ")}` : " (CPU)"}, backend ${backend}`);
    let finished = 0;
    const progress = (text: string): void => {
      if (o.isTty) o.write(`\r\x1b[2K${text}`);
      else o.write(`${text}\n`);
    };
    await optimize(
      client,
      study,
      async (ctx) => {
        const params = paramsFromTrial(ctx.params, o.epochs);
        const record: ReportTrial = { id: ctx.id, state: "failed", params: scalarParams(ctx.params.toObject()), curve: [] };
        records.set(ctx.id, record);
        try {
          const trained = await trainMlp(tf, trainData, params, {
            seed: o.seed * 1000 + ctx.id,
            signal: ctx.signal,
            shouldPrune: () => ctx.shouldPrune,
            onEpoch: async (info) => {
              record.curve.push(info.score);
              return ctx.report(info.epoch, info.score, { metrics: { loss: Number.isFinite(info.loss) ? info.loss : -1, lr: info.lr } });
            },
          });
          record.state = "complete";
          record.value = trained.bestScore;
          if (best === undefined || trained.bestScore > (records.get(best.id)?.value ?? -Infinity)) {
            best?.model.model.dispose();
            best = { id: ctx.id, model: trained, params: record.params };
          } else {
            trained.model.dispose();
          }
          return { values: trained.bestScore, metrics: { best_epoch: trained.bestEpoch, epochs: trained.curve.length } };
        } catch (error) {
          if (error instanceof TrialPruned) {
            record.state = "pruned";
            record.value = record.curve.length > 0 ? Math.max(...record.curve) : undefined;
          }
          throw error;
        }
      },
      {
        trials: o.trials,
        concurrency: slots.length,
        workerId: `hpo-tune-${process.pid}`,
        ...(o.signal !== undefined ? { signal: o.signal } : {}),
        onTrialFinished: (outcome) => {
          finished++;
          const r = records.get(outcome.trialId);
          const state = outcome.state === TrialState.TRIAL_STATE_COMPLETE ? "complete" : outcome.state === TrialState.TRIAL_STATE_PRUNED ? "pruned" : "failed";
          if (r !== undefined && state === "failed") r.state = "failed";
          const bestValue = best !== undefined ? records.get(best.id)?.value : undefined;
          const v = r?.value;
          progress(
            `[${finished}/${o.trials}] trial ${outcome.trialId} ${state}${v !== undefined ? ` ${objective}=${v.toFixed(4)}` : ""}${state === "failed" && outcome.error !== undefined ? ` (${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)})` : ""}; best ${bestValue !== undefined ? `${bestValue.toFixed(4)} (trial ${best!.id})` : "-"}`,
          );
        },
      },
    );
    if (o.isTty) o.write("\n");
    if (best === undefined) throw new TuneError("no trial completed; nothing to save (see the trial errors above)");
    const test = take(dataset, split.test);
    const testScore = score(dataset.task, predict(tf, best.model, test.x), test.y);
    const validationScore = records.get(best.id)?.value ?? NaN;
    mkdirSync(o.out, { recursive: true });
    const modelPath = await saveModel(tf, best.model, join(o.out, "model"), {
      featureNames: dataset.featureNames,
      classes: dataset.classes,
      target: dataset.target,
      params: best.params,
    });
    const trials = [...records.values()].sort((a, b) => a.id - b.id);
    const wallSeconds = (Date.now() - started) / 1000;
    const result: TuneResult = {
      study,
      backend,
      task: dataset.task,
      objective,
      bestTrial: best.id,
      bestParams: best.params,
      validationScore,
      testScore,
      trials,
      modelPath,
      reportPath: join(o.out, "report.html"),
      pngs: [],
      wallSeconds,
    };
    const metric = dataset.task === "classification" ? "accuracy" : "R²";
    const reportInput: ReportInput = {
      title: `hpo tune: ${basename(o.data)} (${study})`,
      objective,
      trials,
      summary: [
        ["data", `${o.data}: ${dataset.x.length} rows, ${dataset.featureNames.length} features, target ${dataset.target} (${dataset.task})`],
        ["split", `${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test, seed ${o.seed}${dataset.task === "classification" ? ", stratified" : ""}`],
        ["backend", backend],
        ["trials", `${trials.length} (${trials.filter((t) => t.state === "complete").length} complete, ${trials.filter((t) => t.state === "pruned").length} pruned, ${trials.filter((t) => t.state === "failed").length} failed)`],
        ["best trial", String(best.id)],
        [`validation ${metric}`, validationScore.toFixed(4)],
        [`held-out test ${metric}`, testScore.toFixed(4)],
        ["best parameters", JSON.stringify(best.params)],
        ["model", modelPath],
        ["wall time", `${wallSeconds.toFixed(1)} s`],
      ],
    };
    result.pngs = writePlots(reportInput, o.out);
    const png = result.pngs.length > 0 ? `${result.pngs.length} in ${join(o.out, "plots")}` : "not produced: rsvg-convert (Debian librsvg2-bin) is not installed; SVGs in plots/";
    reportInput.summary.push(["PNG plots", png]);
    writeFileSync(result.reportPath, renderReport(reportInput));
    writeFileSync(join(o.out, "result.json"), `${JSON.stringify(result, null, 1)}\n`);
    return result;
  } finally {
    best?.model.model.dispose();
    client.close();
    await daemon?.stop();
  }
}
