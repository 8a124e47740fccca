/**
 * hpod.v1.HpodService handlers: each translates its request to the domain,
 * calls the study service and translates the answer back. Errors are mapped
 * once, in `unary`.
 */
import * as grpc from "@grpc/grpc-js";
import {
  HpodServiceService,
  type HpodServiceServer,
  TrialEventKind,
  type WatchStudyRequest,
  type WatchStudyResponse,
} from "../../client/gen/hpod/v1/hpod_service.js";
import { invalid } from "../core/errors.js";
import { checkLabels, checkStudyName } from "../core/study-spec.js";
import type { Logger } from "../log.js";
import type { StudyService } from "../study-service.js";
import type { WatchEvent } from "../watch-hub.js";
import { decodeFailureMessage, isDecodeFailure, withSafeDeserializers } from "./safe-codec.js";
import { toStatus } from "./status.js";
import {
  decisionToPb,
  durationMs,
  measurementFromPb,
  msToDuration,
  paramsFromPb,
  studyFromPb,
  studyStateFromPb,
  studyToPb,
  trialStateFromPb,
  trialStateToPb,
  trialToPb,
} from "./translate.js";

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/**
 * Error details often quote the request (a parameter name, a map key). The details travel in the HTTP/2 trailers:
 * a 100 KB quote does not fit and the call hangs until the client's deadline, so they are cut.
 */
const MAX_DETAILS = 1024;

function clipDetails(details: string): string {
  return details.length > MAX_DETAILS ? `${details.slice(0, MAX_DETAILS)}… (${details.length} characters in all)` : details;
}

function bounded(st: Partial<grpc.StatusObject>): Partial<grpc.StatusObject> {
  return st.details === undefined ? st : { ...st, details: clipDetails(st.details) };
}

function unary<Req, Res>(log: Logger, method: string, fn: (req: Req) => Promise<Res> | Res): Unary<Req, Res> {
  return (call, callback) => {
    const req: unknown = call.request;
    if (isDecodeFailure(req)) {
      callback(bounded({ code: grpc.status.INVALID_ARGUMENT, details: `request is not a valid ${method} message: ${decodeFailureMessage(req)}` }));
      return;
    }
    let result: Promise<Res>;
    try {
      result = Promise.resolve(fn(req as Req));
    } catch (e) {
      callback(bounded(toStatus(e, log, method)));
      return;
    }
    result.then(
      (res) => callback(null, res),
      (e: unknown) => callback(bounded(toStatus(e, log, method))),
    );
  };
}

function studyName(name: string, field: string): string {
  checkStudyName(name, field);
  return name;
}

function trialId(id: number, field = "trial_id"): number {
  if (!Number.isSafeInteger(id) || id < 0) throw invalid(field, `must be an integer >= 0 (got ${id})`);
  return id;
}

const EVENT_KIND: Record<WatchEvent["kind"], TrialEventKind> = {
  CREATED: TrialEventKind.TRIAL_EVENT_KIND_CREATED,
  STARTED: TrialEventKind.TRIAL_EVENT_KIND_STARTED,
  REPORTED: TrialEventKind.TRIAL_EVENT_KIND_REPORTED,
  FINISHED: TrialEventKind.TRIAL_EVENT_KIND_FINISHED,
  STUDY_UPDATED: TrialEventKind.TRIAL_EVENT_KIND_STUDY_UPDATED,
};

export function hpodServiceDefinition() {
  return withSafeDeserializers(HpodServiceService);
}

export function createHpodHandlers(svc: StudyService, log: Logger): HpodServiceServer {
  const u = <Req, Res>(method: string, fn: (req: Req) => Promise<Res> | Res) => unary<Req, Res>(log, `hpod.v1.HpodService/${method}`, fn);

  const watchStudy: grpc.handleServerStreamingCall<WatchStudyRequest, WatchStudyResponse> = (call) => {
    const req: unknown = call.request;
    // grpc-js turns an 'error' event into the stream's final status.
    const end = (code: grpc.status, details: string): void => {
      call.emit("error", { code, details: clipDetails(details) });
    };
    if (isDecodeFailure(req)) {
      end(grpc.status.INVALID_ARGUMENT, `request is not a valid WatchStudyRequest message: ${decodeFailureMessage(req)}`);
      return;
    }
    const r = req as WatchStudyRequest;
    try {
      const name = studyName(r.study, "study");
      const rt = svc.runtime(name);
      if (r.includeExisting) {
        for (const t of rt.trials) {
          if (t) call.write({ kind: TrialEventKind.TRIAL_EVENT_KIND_EXISTING, trial: trialToPb(t, rt.space) });
        }
      }
      const unsubscribe = svc.watch(name, {
        onEvent: (e) =>
          call.write(
            e.kind === "STUDY_UPDATED"
              ? { kind: EVENT_KIND[e.kind], study: studyToPb(rt) }
              : { kind: EVENT_KIND[e.kind], trial: trialToPb(e.trial, rt.space) },
          ),
        onEnd: (reason) =>
          reason === "deleted"
            ? end(grpc.status.NOT_FOUND, `study "${name}" was deleted`)
            : end(grpc.status.UNAVAILABLE, "the daemon is shutting down"),
      });
      call.on("cancelled", unsubscribe);
      call.on("close", unsubscribe);
    } catch (e) {
      const st = toStatus(e, log, "hpod.v1.HpodService/WatchStudy");
      end(st.code ?? grpc.status.INTERNAL, st.details ?? "");
    }
  };

  return {
    createStudy: u("CreateStudy", async (req) => {
      const study = studyFromPb(req.study, "study");
      const { created } = await svc.createStudy(study, req.loadIfExists);
      return { study: studyToPb(svc.runtime(study.name, "study.name")), created };
    }),
    getStudy: u("GetStudy", (req) => ({ study: studyToPb(svc.runtime(studyName(req.name, "name"), "name")) })),
    listStudies: u("ListStudies", (req) => {
      if (req.namespace !== "") checkStudyName(req.namespace, "namespace");
      const page = svc.listStudies(req.pageSize, req.pageToken, req.namespace);
      return { studies: page.items.map((s) => studyToPb(svc.runtime(s.name))), nextPageToken: page.nextPageToken };
    }),
    updateStudy: u("UpdateStudy", async (req) => {
      const name = studyName(req.name, "name");
      const state = req.state === undefined ? undefined : studyStateFromPb(req.state, "state");
      await svc.updateStudy(name, state, req.maxTrials);
      return { study: studyToPb(svc.runtime(name, "name")) };
    }),
    deleteStudy: u("DeleteStudy", async (req) => {
      await svc.deleteStudy(studyName(req.name, "name"));
      return {};
    }),
    suggest: u("Suggest", async (req) => {
      const name = studyName(req.study, "study");
      const r = await svc.suggest(name, req.count, req.workerId);
      const rt = svc.runtime(name);
      return {
        trials: r.trials.map((t) => trialToPb(t, rt.space)),
        studyDone: r.done,
        retryAfter: r.retryAfterMs > 0 ? msToDuration(r.retryAfterMs) : undefined,
        reason: r.reason,
      };
    }),
    report: u("Report", async (req) => {
      const name = studyName(req.study, "study");
      const input = {
        trialId: trialId(req.trialId),
        values: req.values,
        constraintValues: req.constraintValues,
        metrics: req.metrics,
        final: req.final,
        failed: req.failed,
        failureReason: req.failureReason,
        workerId: req.workerId,
        ...(req.step !== undefined ? { step: req.step } : {}),
        ...(req.elapsed ? { elapsedMs: durationMs(req.elapsed, "elapsed") } : {}),
      };
      const r = await svc.report(name, input);
      return { decision: decisionToPb(r.decision), reason: r.reason, trialState: trialStateToPb(r.state) };
    }),
    heartbeat: u("Heartbeat", async (req) => {
      const r = await svc.heartbeat(studyName(req.study, "study"), trialId(req.trialId), req.workerId);
      return { decision: decisionToPb(r.decision), reason: r.reason, trialState: trialStateToPb(r.state) };
    }),
    getTrial: u("GetTrial", (req) => {
      const name = studyName(req.study, "study");
      const rt = svc.runtime(name);
      return { trial: trialToPb(svc.getTrial(name, trialId(req.trialId)), rt.space) };
    }),
    listTrials: u("ListTrials", (req) => {
      const name = studyName(req.study, "study");
      const states = req.states.map((s, i) => trialStateFromPb(s, `states[${i}]`));
      const page = svc.listTrials(name, req.pageSize, req.pageToken, states);
      const rt = svc.runtime(name);
      return { trials: page.items.map((t) => trialToPb(t, rt.space, req.omitIntermediate)), nextPageToken: page.nextPageToken };
    }),
    getBestTrials: u("GetBestTrials", (req) => {
      const name = studyName(req.study, "study");
      const rt = svc.runtime(name);
      return { trials: svc.bestTrials(name).map((t) => trialToPb(t, rt.space)) };
    }),
    enqueueTrial: u("EnqueueTrial", async (req) => {
      const name = studyName(req.study, "study");
      checkLabels(req.userAttrs, "user_attrs");
      const t = await svc.enqueue(name, paramsFromPb(req.params, "params"), { ...req.userAttrs });
      return { trial: trialToPb(t, svc.runtime(name).space) };
    }),
    addTrial: u("AddTrial", async (req) => {
      const name = studyName(req.study, "study");
      checkLabels(req.userAttrs, "user_attrs");
      const now = Date.now();
      const intermediate = req.intermediate.map((m, i) => measurementFromPb(m, `intermediate[${i}]`, now)!);
      const final = measurementFromPb(req.finalMeasurement, "final_measurement", now);
      const t = await svc.addTrial(name, {
        params: paramsFromPb(req.params, "params"),
        state: req.state === 0 ? (invalidState() as never) : trialStateFromPb(req.state, "state"),
        intermediate,
        ...(final ? { final } : {}),
        stateReason: req.stateReason,
        userAttrs: { ...req.userAttrs },
      });
      return { trial: trialToPb(t, svc.runtime(name).space) };
    }),
    watchStudy,
  };
}

function invalidState(): never {
  throw invalid("state", "is required: COMPLETE, PRUNED or FAILED");
}
