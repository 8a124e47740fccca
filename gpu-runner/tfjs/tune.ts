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
import { LrScheduleKind, type ParameterValue } from "../../client/gen/hpod/v1/search_space.js";
import { TrialState } from "../../client/gen/hpod/v1/trial.js";
import { parseGpuList, queryNvidiaSmi, selectGpus } from "../gpu-discovery.js";
import { planCpuSlots, planGpuSlots, type Slot } from "../slots.js";
import { loadTf, type BackendName, type Tf } from "./backend.js";
import { kFolds, loadDataset, splitDataset, strata, take, TuneDataError, type Dataset, type Task } from "./data.js";
import { renderCharts, renderReport, type ReportInput, type ReportTrial, type ScalarParam } from "./report.js";
import { saveModel } from "./save.js";
import { tuneStudyJson } from "./space.js";
import { blend, predictEnsemble, selectEnsemble } from "./ensemble.js";
import { choosePriorWeight, mixWithPrior, type PriorBlendChoice } from "./prior-blend.js";
import { paramsFromTrial, score, solvedExactly, trainFolds, type MlpParams, type TrainData, type TrainedModel } from "./trainable.js";

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
  /** The epoch cap per trial (the lr schedule's horizon); undefined: autoEpochs. */
  epochs?: number;
  /**
   * Refit the chosen configurations on train + validation before the test
   * (default true); false: the trial models themselves are evaluated and saved.
   */
  refit?: boolean;
  /**
   * The final model also averages each chosen trial's own models (its k
   * fold models, or its one model) with the refits (default true).
   */
  bag?: boolean;
  /** Refits per chosen trial, with different initial weights, averaged; default 3 with k folds (small data), 1 with one validation split. */
  refitSeeds?: number;
  /** At most this many distinct trials in the final ensemble (default 5; 1: the best trial only). */
  ensemble?: number;
  /**
   * The portfolio's share of the final ensemble (its completed trials
   * averaged uniformly, the rest from ensemble selection): "auto" (default)
   * chooses 0, 0.25, 0.5, 0.75 or 1 by bootstrap out-of-bag loss
   * (prior-blend.ts); a number fixes it; 0: ensemble selection alone. Only
   * with the built-in space on a new study (the portfolio is enqueued there)
   * and an ensemble of more than 1.
   */
  portfolioWeight?: number | "auto";
  /** k-fold cross-validation on the non-test rows; 1: the train/validation split; undefined or 0: autoFolds. */
  folds?: number;
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
  /** The best trial's validation score (the tuned objective). */
  validationScore: number;
  /** The final model's held-out test score: the refit ensemble (or the trial models with refit off). */
  testScore: number;
  /** 1: a train/validation split; k: k-fold cross-validation on the non-test rows. */
  folds: number;
  /** The epoch cap per trial. */
  epochs: number;
  refit: boolean;
  /** Refits per chosen trial (0 without refit); an exactly solved trial gets one, with their weight (members[].refits). */
  refitSeeds: number;
  /** Whether the final model includes the chosen trials' own (fold) models. */
  bag: boolean;
  /** The trials the final model averages, heaviest first, with their weights and the epochs of their refit. */
  members: Array<{ trial: number; weight: number; validationScore: number; epochs: number; refits: number }>;
  /** The final ensemble's validation score (on the rows it was selected on, so optimistic). */
  ensembleValidationScore: number;
  /**
   * The portfolio trials' share of the final ensemble; with "auto" also the
   * share of lowest mean out-of-bag loss and each share's out-of-bag loss,
   * score and excess over the lowest (the share chosen is the largest within
   * one standard deviation, see prior-blend.ts).
   */
  portfolio: { trials: number[]; weight: number; lowestLossWeight?: number; outOfBag: PriorBlendChoice["outOfBag"] };
  /** BBC-CV's out-of-bag estimate of the final model's score (accuracy or R²; with --portfolio-weight auto), else undefined. */
  outOfBagScore?: number;
  /** Rows each final model was trained on (all non-test rows when refit). */
  finalTrainRows: number;
  /** For comparison only (it chooses nothing): the best trial's own model, trained on the train split, on test. */
  bestTrialModelTestScore: number;
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
  // stdin is a pipe the daemon watches (--exit-with-stdin): if this process
  // dies without stopping it, even by SIGKILL, the daemon shuts down too.
  const proc: ChildProcess = spawn(process.execPath, [main, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--metrics-listen", "off", "--log-format", "json", "--exit-with-stdin"], {
    stdio: ["pipe", "ignore", "pipe"],
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

function makeStudy(o: TuneOptions, dataset: Dataset, name: string, epochs: number): Study {
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
      maxEpochs: epochs,
      image: dataset.imageShape !== undefined,
      features: dataset.featureNames.length,
      algorithm: o.algorithm,
      pruner: o.pruner,
      seed: o.seed,
    }),
  );
}

interface Candidate {
  id: number;
  value: number;
  loss: number;
  bestEpoch: number;
  params: MlpParams;
  scalar: Record<string, ScalarParam>;
  /** Validation (out-of-fold with k folds) predictions at the best epoch. */
  predictions: number[][];
  /** The trial's fold models (freed once the trial is out of the ensemble pool, unless it is a portfolio trial). */
  models?: TrainedModel[];
}

/** Ensemble selection considers this many best trials. */
const POOL = 20;

/** Best first: higher value, then lower validation loss, then the earlier trial. */
function rankCandidates(a: Candidate, b: Candidate): number {
  return b.value - a.value || a.loss - b.loss || a.id - b.id;
}

/** k for --folds auto: 5-fold cross-validation up to 300 non-test rows, 3-fold up to 1000, a plain validation split above. */
export function autoFolds(nonTestRows: number): number {
  return nonTestRows <= 300 ? 5 : nonTestRows <= 1000 ? 3 : 1;
}

/**
 * The folds of a run: `requested` (--folds; undefined or 0: autoFolds) on
 * the non-test rows `indices`. An explicit count the rows cannot fill is a
 * data error, not silently lowered: more folds than rows, or (stratified
 * classification) than the rarest class's rows, leaves folds without a
 * class to validate on. The automatic count is lowered to the rarest
 * class's rows instead (1, the plain split, below 2).
 */
export function foldCount(dataset: Dataset, indices: readonly number[], requested: number | undefined): number {
  // The smallest stratum: the rarest class, or all rows for regression.
  const sizes = strata(dataset, indices).map((g) => g.length);
  const fewest = Math.min(...sizes);
  if (requested === undefined || requested === 0) {
    const k = Math.min(autoFolds(indices.length), fewest);
    return k < 2 ? 1 : k;
  }
  if (requested > indices.length) throw new TuneDataError(`${indices.length} tuning (non-test) rows, fewer than the ${requested} folds asked for (--folds)`);
  if (requested > fewest) {
    throw new TuneDataError(`class ${dataset.classes[sizes.indexOf(fewest)]} has ${fewest} tuning (non-test) rows, fewer than the ${requested} folds asked for (--folds); use --folds ${Math.max(1, fewest)} or fewer`);
  }
  return Math.max(1, requested);
}

/** The epoch cap for --epochs auto: about 500 batches of 32 rows, within 30..100 epochs. */
export function autoEpochs(trainRows: number): number {
  return Math.min(100, Math.max(30, Math.ceil((500 * 32) / Math.max(1, trainRows))));
}

/**
 * The configurations tried first (enqueued before the sampler's own): a
 * linear / logistic model and two MLPs near common defaults, so that the
 * search always covers the plain baselines (the default-portfolio practice
 * of auto-sklearn and AutoGluon).
 */
export function portfolio(epochs: number, trainRows: number, task: Task): Array<Record<string, ParameterValue>> {
  const num = (v: number): ParameterValue => ({ kind: { $case: "numberValue", value: v } });
  const int = (v: number): ParameterValue => ({ kind: { $case: "intValue", value: v } });
  const str = (v: string): ParameterValue => ({ kind: { $case: "stringValue", value: v } });
  const constant: ParameterValue = {
    kind: {
      $case: "lrScheduleValue",
      value: { kind: LrScheduleKind.LR_SCHEDULE_KIND_CONSTANT, values: {}, milestones: [], mode: "", totalSteps: epochs, warmupSteps: 0, warmupStartFactor: 0.1 },
    },
  };
  const common = {
    optimizer: str("adam"),
    schedule: constant,
    batch_size: int(32),
    patience: int(10),
    l1: num(1e-8),
    l2: num(1e-4),
    standardize: { kind: { $case: "boolValue", value: true } } as ParameterValue,
    feature_selection: str("none"),
    augment: str("none"),
  };
  // LogisticRegression's default C = 1 penalises 0.5 |w|^2 against the summed
  // log loss: 1 / (2 n) |w|^2 against the mean loss tfjs minimises; Ridge's
  // default alpha = 1 penalises |w|^2 against the summed squared error: 1 / n.
  const rows = Math.max(1, trainRows);
  const lrL2 = Math.min(1e-2, Math.max(1e-8, task === "regression" ? 1 / rows : 1 / (2 * rows)));
  return [
    { ...common, layers: int(0), lr: num(0.03), l2: num(lrL2) },
    // Near MLPClassifier's defaults: 100 relu units, adam at lr 1e-3, (almost) no penalty.
    { ...common, layers: int(1), units: int(100), activation: str("relu"), dropout: num(0), lr: num(0.001), l2: num(1e-8) },
    { ...common, layers: int(2), units: int(64), activation: str("relu"), dropout: num(0.1), lr: num(0.003) },
  ];
}

/** One final model with its weight in the ensemble. */
export interface FinalPart {
  trial: number;
  weight: number;
  model: TrainedModel;
  scalar: Record<string, ScalarParam>;
}

/**
 * Saves the final model: one part as model.json + weights.bin +
 * preprocess.json in `dir`; several as member-<i>/ (the same files each)
 * and ensemble.json (the weighted mean of their outputs). Returns
 * model.json's or ensemble.json's path.
 */
export async function saveFinal(tf: Tf, parts: readonly FinalPart[], dir: string, extra: Record<string, unknown>): Promise<string> {
  if (parts.length === 1) return saveModel(tf, parts[0].model, dir, { ...extra, trial: parts[0].trial, params: parts[0].scalar });
  const members: Array<{ trial: number; weight: number; model: string; preprocess: string; params: Record<string, ScalarParam> }> = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    await saveModel(tf, p.model, join(dir, `member-${i}`), { ...extra, trial: p.trial, weight: p.weight, params: p.scalar });
    members.push({ trial: p.trial, weight: p.weight, model: `member-${i}/model.json`, preprocess: `member-${i}/preprocess.json`, params: p.scalar });
  }
  const path = join(dir, "ensemble.json");
  const combine = "sum over members of weight x output (class probabilities, or values on the target's scale); each member's preprocess.json maps raw rows to its inputs";
  writeFileSync(path, `${JSON.stringify({ combine, task: parts[0].model.task, ...extra, members }, null, 1)}\n`);
  return path;
}

/** Runs the whole tune; throws TuneDataError / TuneError / HpodClientError. */
export async function runTune(o: TuneOptions): Promise<TuneResult> {
  const started = Date.now();
  const share = o.portfolioWeight;
  if (share !== undefined && share !== "auto" && !(share >= 0 && share <= 1)) throw new TuneError(`portfolioWeight must be "auto" or a number in [0, 1], got ${share}`);
  const dataset = loadDataset(o.data, { target: o.target, ...(o.task !== undefined ? { task: o.task } : {}) });
  const split = splitDataset(dataset, { seed: o.seed });
  const train = take(dataset, split.train);
  const val = take(dataset, split.validation);
  const nonTest = [...split.train, ...split.validation];
  const folds = foldCount(dataset, nonTest, o.folds);
  const base = {
    task: dataset.task,
    classes: dataset.classes.length,
    ...(dataset.imageShape !== undefined ? { imageShape: dataset.imageShape } : {}),
  };
  // Tuning data: the train/validation split, or k folds of all non-test rows.
  let foldData: TrainData[];
  let validationY: number[];
  if (folds <= 1) {
    foldData = [{ ...base, xTrain: train.x, yTrain: train.y, xVal: val.x, yVal: val.y }];
    validationY = val.y;
  } else {
    const valFolds = kFolds(dataset, nonTest, folds, o.seed);
    foldData = valFolds.map((v) => {
      const inVal = new Set(v);
      const tr = take(dataset, nonTest.filter((i) => !inVal.has(i)));
      const va = take(dataset, v);
      return { ...base, xTrain: tr.x, yTrain: tr.y, xVal: va.x, yVal: va.y };
    });
    validationY = foldData.flatMap((f) => f.yVal);
  }
  const fullData: TrainData = { ...base, xTrain: [...train.x, ...val.x], yTrain: [...train.y, ...val.y], xVal: [], yVal: [] };
  const epochs = o.epochs ?? autoEpochs(foldData[0].xTrain.length);
  o.log(
    `data: ${dataset.x.length} rows, ${dataset.featureNames.length} features, ${dataset.task}${dataset.task === "classification" ? ` (${dataset.classes.length} classes)` : ""}${dataset.imageShape !== undefined ? `, ${dataset.imageShape.join("x")} images` : ""}; ` +
      `split ${split.train.length + split.validation.length}/${split.test.length} (tuning/test, seed ${o.seed}); ` +
      `${folds > 1 ? `${folds}-fold cross-validation on the ${nonTest.length} tuning rows` : `${split.train.length} train / ${split.validation.length} validation`}; at most ${epochs} epochs`,
  );
  const { tf, backend } = await loadTf({ ...(o.backend !== undefined ? { prefer: o.backend } : {}), log: o.log });
  const slots = await planTuneSlots(o.gpus, o.slots);
  const daemon = o.address === undefined ? await startEmbeddedDaemon(o.dataDir, o.log) : undefined;
  const client = new HpodClient({ address: o.address ?? daemon!.address });
  const records = new Map<number, ReportTrial>();
  const ensembleSize = Math.max(1, Math.round(o.ensemble ?? 5));
  const refit = o.refit ?? true;
  const refitSeeds = Math.max(1, Math.round(o.refitSeeds ?? (folds > 1 ? 3 : 1)));
  const bag = o.bag ?? true;
  const candidates: Candidate[] = [];
  const portfolioIds: number[] = [];
  let bestCandidate: Candidate | undefined;
  const finalParts: FinalPart[] = [];
  try {
    const name = studyName(o);
    const created = await client.createStudy({ study: makeStudy(o, dataset, name, epochs), loadIfExists: true });
    const study = created.study?.name ?? name;
    const objective = created.study?.spec?.objectives[0]?.name ?? "value";
    if (o.spec === undefined && created.created) {
      for (const params of portfolio(epochs, foldData[0].xTrain.length, dataset.task)) {
        try {
          const queued = await client.enqueueTrial({ study, params });
          if (queued.trial !== undefined) portfolioIds.push(Number(queued.trial.id));
        } catch (error) {
          o.log(`could not enqueue a portfolio configuration: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
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
        const params = paramsFromTrial(ctx.params, epochs);
        const record: ReportTrial = { id: ctx.id, state: "failed", params: scalarParams(ctx.params.toObject()), curve: [] };
        records.set(ctx.id, record);
        try {
          const r = await trainFolds(tf, foldData, params, {
            seed: o.seed * 1000 + ctx.id,
            signal: ctx.signal,
            shouldPrune: () => ctx.shouldPrune,
            onEpoch: async (info) => {
              record.curve.push(info.score);
              return ctx.report(info.epoch, info.score, { metrics: { loss: Number.isFinite(info.loss) ? info.loss : -1, lr: info.lr } });
            },
          });
          record.state = "complete";
          record.value = r.bestScore;
          const c: Candidate = { id: ctx.id, value: r.bestScore, loss: r.bestLoss, bestEpoch: r.bestEpoch, params, scalar: record.params, predictions: r.validationPredictions, models: r.models };
          candidates.push(c);
          if (bestCandidate === undefined || rankCandidates(c, bestCandidate) < 0) bestCandidate = c;
          // Only the ensemble pool (the POOL best trials) and the portfolio can still be chosen: free the other models.
          for (const out of [...candidates].sort(rankCandidates).slice(POOL).filter((x) => !portfolioIds.includes(x.id))) {
            out.models?.forEach((m) => m.model.dispose());
            delete out.models;
          }
          return { values: r.bestScore, metrics: { best_epoch: r.bestEpoch, epochs: r.curve.length } };
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
          const v = r?.value;
          progress(
            `[${finished}/${o.trials}] trial ${outcome.trialId} ${state}${v !== undefined ? ` ${objective}=${v.toFixed(4)}` : ""}${state === "failed" && outcome.error !== undefined ? ` (${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)})` : ""}; best ${bestCandidate !== undefined ? `${bestCandidate.value.toFixed(4)} (trial ${bestCandidate.id})` : "-"}`,
          );
        },
      },
    );
    if (o.isTty) o.write("\n");
    const best = bestCandidate;
    if (best === undefined) throw new TuneError("no trial completed; nothing to save (see the trial errors above)");
    // Ensemble selection on the validation (out-of-fold) predictions of the
    // 20 best trials, then each chosen configuration refit on all non-test
    // rows for the epochs its early stopping chose. Nothing here looks at
    // the test split.
    const pool = [...candidates].sort(rankCandidates).slice(0, POOL);
    const selected =
      ensembleSize === 1 || pool.length === 1
        ? { members: [{ id: best.id, weight: 1 }], score: best.value }
        : selectEnsemble(dataset.task, validationY, pool, { maxMembers: ensembleSize });
    // The portfolio's share: see prior-blend.ts for why and how it is chosen.
    const prior = ensembleSize > 1 ? candidates.filter((c) => portfolioIds.includes(c.id) && c.models !== undefined).map((c) => c.id) : [];
    const fixedShare = typeof o.portfolioWeight === "number" ? o.portfolioWeight : undefined;
    const chosenShare = prior.length > 0 && fixedShare === undefined ? choosePriorWeight(dataset.task, validationY, candidates, prior, { maxMembers: ensembleSize, pool: POOL, seed: o.seed }) : undefined;
    const portfolioChoice = { weight: prior.length === 0 ? 0 : (chosenShare?.weight ?? fixedShare ?? 0), outOfBag: chosenShare?.outOfBag ?? [] };
    const lowestLossWeight = chosenShare?.lowestLossWeight;
    const finalMembers = mixWithPrior(selected.members, prior, portfolioChoice.weight);
    const outOfBagScore = portfolioChoice.outOfBag.find((x) => x.weight === portfolioChoice.weight)?.score;
    const finalValidation = blend(finalMembers.map((m) => ({ predictions: candidates.find((x) => x.id === m.id)!.predictions, weight: m.weight })));
    const choice = { members: finalMembers, score: score(dataset.task, finalValidation, validationY) };
    const portfolioText =
      `${portfolioChoice.weight} of the final model to the portfolio (trials ${prior.join(", ")}, averaged)` +
      (portfolioChoice.outOfBag.length > 0
        ? `; bootstrap out-of-bag ${dataset.task === "classification" ? "log loss" : "squared error"} by share (excess over the lowest ± its SD): ` +
          portfolioChoice.outOfBag.map((x) => `${x.weight}: ${x.loss.toPrecision(4)} (+${x.excess.toPrecision(2)} ± ${x.excessSd.toPrecision(2)})`).join(", ") +
          `; lowest at ${lowestLossWeight}, chosen: the largest share within one SD of it`
        : "");
    if (prior.length > 0) {
      o.log(`portfolio share ${portfolioText}`);
    }
    const members: TuneResult["members"] = [];
    for (const m of choice.members) {
      const c = candidates.find((x) => x.id === m.id)!;
      // The trial's own (fold) models: each early-stopped on its held-out rows.
      const own = bag || !refit ? (c.models ?? []) : [];
      const parts = own.length + (refit ? refitSeeds : 0);
      // An exactly solved trial gives the same model for every seed: one
      // refit carries the weight of refitSeeds.
      const seeds = !refit ? 0 : solvedExactly(dataset.task, c.params) ? 1 : refitSeeds;
      members.push({ trial: c.id, weight: m.weight, validationScore: c.value, epochs: c.bestEpoch + 1, refits: seeds });
      for (const model of own) finalParts.push({ trial: c.id, weight: m.weight / parts, model, scalar: c.scalar });
      if (refit) {
        o.log(
          `refit of trial ${c.id} (validation ${c.value.toFixed(4)}, weight ${m.weight.toFixed(2)}) on the ${fullData.xTrain.length} non-test rows, ${seeds < refitSeeds ? "solved exactly (one refit: every seed gives the same model)" : `${c.bestEpoch + 1} epochs, ${seeds} seed(s)`}`,
        );
        for (let k = 0; k < seeds; k++) {
          const r = await trainFolds(tf, [fullData], c.params, { seed: o.seed * 1000 + c.id + 500_000 + 100_000 * k, fixedEpochs: c.bestEpoch + 1, ...(o.signal !== undefined ? { signal: o.signal } : {}) });
          finalParts.push({ trial: c.id, weight: (m.weight * (refitSeeds / seeds)) / parts, model: r.models[0], scalar: c.scalar });
        }
      }
    }
    const test = take(dataset, split.test);
    const testScore = score(dataset.task, predictEnsemble(tf, finalParts, test.x), test.y);
    const bestModels = best.models ?? [];
    const bestTrialModelTestScore = score(dataset.task, predictEnsemble(tf, bestModels.map((model) => ({ model, weight: 1 })), test.x), test.y);
    const validationScore = best.value;
    mkdirSync(o.out, { recursive: true });
    const modelPath = await saveFinal(tf, finalParts, join(o.out, "model"), {
      featureNames: dataset.featureNames,
      classes: dataset.classes,
      target: dataset.target,
    });
    const trials = [...records.values()].sort((a, b) => a.id - b.id);
    const wallSeconds = (Date.now() - started) / 1000;
    const result: TuneResult = {
      study,
      backend,
      task: dataset.task,
      objective,
      bestTrial: best.id,
      bestParams: best.scalar,
      validationScore,
      testScore,
      folds,
      epochs,
      refit,
      refitSeeds: refit ? refitSeeds : 0,
      bag: bag || !refit,
      members,
      ensembleValidationScore: choice.score,
      portfolio: { trials: prior, weight: portfolioChoice.weight, ...(lowestLossWeight !== undefined ? { lowestLossWeight } : {}), outOfBag: portfolioChoice.outOfBag },
      ...(outOfBagScore !== undefined ? { outOfBagScore } : {}),
      finalTrainRows: refit ? fullData.xTrain.length : foldData[0].xTrain.length,
      bestTrialModelTestScore,
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
        [
          "split",
          `${nonTest.length} tuning / ${split.test.length} test rows, seed ${o.seed}${dataset.task === "classification" ? ", stratified" : ""}; ${folds > 1 ? `${folds}-fold cross-validation` : `${split.train.length} train / ${split.validation.length} validation`}; at most ${epochs} epochs per trial`,
        ],
        ["backend", backend],
        ["trials", `${trials.length} (${trials.filter((t) => t.state === "complete").length} complete, ${trials.filter((t) => t.state === "pruned").length} pruned, ${trials.filter((t) => t.state === "failed").length} failed)`],
        ["best trial", String(best.id)],
        [`${folds > 1 ? "cross-" : ""}validation ${metric} (best trial)`, validationScore.toFixed(4)],
        [`${folds > 1 ? "cross-" : ""}validation ${metric} (the ensemble, chosen on it)`, choice.score.toFixed(4)],
        ...(outOfBagScore !== undefined ? [[`bootstrap out-of-bag ${metric} (BBC-CV: the selection and share redone on resamples, scored on the rows left out)`, outOfBagScore.toFixed(4)] as [string, string]] : []),
        [
          "final model",
          `${refit ? `refit on all ${fullData.xTrain.length} non-test rows (${refitSeeds} seed(s) per trial${members.some((m) => m.refits < refitSeeds) ? "; one for an exactly solved linear trial" : ""})${bag ? `, averaged with the trial's own ${folds > 1 ? `${folds} fold models` : "model"}` : ""}` : "the trial models"}: ${members.length === 1 ? "the best trial" : `weighted mean of ${members.length} trials`} ${members.map((m) => `#${m.trial} (weight ${m.weight.toFixed(2)}, validation ${m.validationScore.toFixed(4)}, ${m.epochs} epochs)`).join(", ")}`,
        ],
        ...(prior.length > 0
          ? [
              [
                "portfolio share",
                portfolioText,
              ] as [string, string],
            ]
          : []),
        [`held-out test ${metric} (final model)`, testScore.toFixed(4)],
        [`held-out test ${metric} (best trial's own model, for comparison)`, bestTrialModelTestScore.toFixed(4)],
        ["best parameters", JSON.stringify(best.scalar)],
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
    const models = new Set([...candidates.flatMap((c) => (c.models ?? []).map((m) => m.model)), ...finalParts.map((p) => p.model.model)]);
    models.forEach((m) => m.dispose());
    client.close();
    await daemon?.stop();
  }
}
