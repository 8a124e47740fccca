/**
 * `hpo study ...`: create, list, get, delete, pause, resume, stop.
 */
import { createInterface } from "node:readline/promises";

import { stringify as toYaml } from "yaml";

import {
  CreateStudyResponse,
  ListStudiesResponse,
} from "../../gen/hpod/v1/hpod_service.js";
import { Study, StudySpec, StudyState } from "../../gen/hpod/v1/study.js";
import type { Parameter } from "../../gen/hpod/v1/search_space.js";
import { messageToJson, ProtoJsonError, readStudySpec } from "../../proto-json.js";
import { intOption, type OptionValues } from "../args.js";
import type { CliContext } from "../context.js";
import { directionName, formatNumber, formatParam, formatTime, studyStateName } from "../display.js";
import { formatFields, formatTable } from "../table.js";
import { UsageError } from "../usage.js";

function studyJson(study: Study | undefined) {
  return messageToJson("hpod.v1.Study", Study, study ?? Study.fromPartial({}));
}

function describeDomain(p: Parameter): string {
  const d = p.domain;
  switch (d?.$case) {
    case undefined:
      return "no domain";
    case "floatDomain": {
      const v = d.value;
      return `float [${formatNumber(v.low)}, ${formatNumber(v.high)}]${v.log ? " log" : ""}${v.step !== undefined ? ` step ${formatNumber(v.step)}` : ""}`;
    }
    case "intDomain": {
      const v = d.value;
      return `int [${v.low}, ${v.high}]${v.log ? " log" : ""}${v.step !== undefined ? ` step ${v.step}` : ""}`;
    }
    case "categoricalDomain":
      return `{${d.value.choices.map((c) => formatParam(c)).join(", ")}}`;
    case "lrScheduleDomain":
      return `lr schedule (${d.value.options.length} kinds)`;
  }
}

function countsLine(study: Study): string {
  const c = study.trialCounts;
  if (c === undefined) return "";
  return `queued ${c.queued}, running ${c.running}, complete ${c.complete}, pruned ${c.pruned}, failed ${c.failed}`;
}

function totalTrials(study: Study): number {
  const c = study.trialCounts;
  return c === undefined ? 0 : c.queued + c.running + c.complete + c.pruned + c.failed;
}

/** The human view of one study: a summary, then the spec as YAML. */
export function describeStudy(study: Study): string {
  const spec = study.spec;
  const algorithm = spec?.algorithm?.name !== undefined && spec.algorithm.name !== "" ? spec.algorithm.name : "auto";
  const fields: Array<[string, string]> = [
    ["name", study.name],
    ["namespace", study.namespace],
    ["state", `${studyStateName(study.state)}${study.stateReason !== "" ? ` (${study.stateReason})` : ""}`],
    ["algorithm", study.resolvedAlgorithm !== "" && study.resolvedAlgorithm !== algorithm ? `${algorithm} (${study.resolvedAlgorithm})` : algorithm],
    ["objectives", (spec?.objectives ?? []).map((o) => `${o.name} (${directionName(o.direction)})`).join(", ")],
    ["max trials", spec === undefined || spec.maxTrials === 0 ? "unlimited" : String(spec.maxTrials)],
    ["trials", countsLine(study)],
    ["created", formatTime(study.createTime)],
    ["updated", formatTime(study.updateTime)],
  ];
  const labels = Object.entries(study.labels);
  if (labels.length > 0) fields.push(["labels", labels.map(([k, v]) => `${k}=${v}`).join(", ")]);
  const params = spec?.searchSpace?.parameters ?? [];
  const paramTable =
    params.length === 0
      ? ""
      : "\nParameters:\n" +
        formatTable(
          ["NAME", "DOMAIN", "CONDITION"],
          params.map((p) => [
            p.name,
            describeDomain(p),
            p.condition === undefined ? "" : `${p.condition.parent} in {${p.condition.values.map((v) => formatParam(v)).join(", ")}}`,
          ]),
        );
  const specYaml = spec === undefined ? "" : `\nSpec:\n${toYaml(messageToJson("hpod.v1.StudySpec", StudySpec, spec))}`;
  return formatFields(fields) + paramTable + specYaml;
}

export async function studyCreate(ctx: CliContext, _args: string[], values: OptionValues): Promise<void> {
  const file = values.file;
  if (file === undefined) throw new UsageError("study create: -f FILE is required");
  let study: Study;
  try {
    study = readStudySpec(file);
  } catch (error) {
    if (error instanceof ProtoJsonError) throw error;
    throw new ProtoJsonError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const response = await ctx.client().createStudy({ study, loadIfExists: values["load-if-exists"] === true });
  if (ctx.json) {
    await ctx.printJson(messageToJson("hpod.v1.CreateStudyResponse", CreateStudyResponse, response));
    return;
  }
  const name = response.study?.name ?? study.name;
  await ctx.out(response.created ? `created study ${name}\n` : `loaded existing study ${name} (equal spec)\n`);
}

export async function studyList(ctx: CliContext, _args: string[], values: OptionValues): Promise<void> {
  const pageSize = intOption("page-size", values["page-size"], 1, 1000) ?? 0;
  const client = ctx.client();
  const studies: Study[] = [];
  let nextPageToken = "";
  if (values.all === true) {
    for await (const s of client.iterateStudies({ pageSize })) studies.push(s);
  } else {
    const page = await client.listStudies({ pageSize });
    studies.push(...page.studies);
    nextPageToken = page.nextPageToken;
  }
  if (ctx.json) {
    await ctx.printJson(messageToJson("hpod.v1.ListStudiesResponse", ListStudiesResponse, { studies, nextPageToken }));
    return;
  }
  const rows = studies.map((s) => [
    s.name,
    s.namespace,
    studyStateName(s.state),
    s.resolvedAlgorithm !== "" ? s.resolvedAlgorithm : (s.spec?.algorithm?.name ?? ""),
    String(totalTrials(s)),
    String(s.trialCounts?.running ?? 0),
    String(s.trialCounts?.complete ?? 0),
    String(s.trialCounts?.pruned ?? 0),
    String(s.trialCounts?.failed ?? 0),
    formatTime(s.createTime),
  ]);
  await ctx.out(
    formatTable(
      [
        "NAME",
        "NAMESPACE",
        "STATE",
        "ALGORITHM",
        { header: "TRIALS", align: "right" },
        { header: "RUNNING", align: "right" },
        { header: "COMPLETE", align: "right" },
        { header: "PRUNED", align: "right" },
        { header: "FAILED", align: "right" },
        "CREATED",
      ],
      rows,
    ),
  );
  if (nextPageToken !== "") ctx.note("(more studies: use --all)");
}

export async function studyGet(ctx: CliContext, args: string[]): Promise<void> {
  const { study } = await ctx.client().getStudy({ name: args[0] });
  if (ctx.json) {
    await ctx.printJson(studyJson(study));
    return;
  }
  await ctx.out(study === undefined ? "" : describeStudy(study));
}

async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  const rl = createInterface({ input: ctx.io.stdin, output: ctx.io.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function studyDelete(ctx: CliContext, args: string[], values: OptionValues): Promise<void> {
  const name = args[0];
  if (values.yes !== true) {
    if (ctx.io.stdin.isTTY !== true) throw new UsageError(`study delete: pass --yes to delete study ${name} (stdin is not a terminal)`);
    if (!(await confirm(ctx, `Delete study ${name} and all its trials? [y/N] `))) {
      ctx.note("not deleted");
      return;
    }
  }
  await ctx.client().deleteStudy({ name });
  if (ctx.json) await ctx.printJson({});
  else await ctx.out(`deleted study ${name}\n`);
}

function stateCommand(state: StudyState) {
  return async (ctx: CliContext, args: string[]): Promise<void> => {
    const { study } = await ctx.client().updateStudy({ name: args[0], state });
    if (ctx.json) {
      await ctx.printJson(studyJson(study));
      return;
    }
    await ctx.out(`study ${study?.name ?? args[0]}: ${studyStateName(study?.state ?? state)}\n`);
  };
}

export const studyPause = stateCommand(StudyState.STUDY_STATE_PAUSED);
export const studyResume = stateCommand(StudyState.STUDY_STATE_ACTIVE);
export const studyStop = stateCommand(StudyState.STUDY_STATE_STOPPED);
