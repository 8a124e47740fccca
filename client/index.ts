/**
 * The hpod SDK: a client of the hpod daemon, a worker loop (`optimize`) and
 * the API's message types.
 */
export { HpodClient, DEFAULT_ADDRESS, DEFAULT_DEADLINE_MS } from "./hpod-client.js";
export type { HpodClientOptions, CallOptions, MetadataInit } from "./hpod-client.js";
export { HpodClientError, statusName, isServiceError } from "./errors.js";
export { DEFAULT_RETRY, backoffDelayMs, isRetryable } from "./retry.js";
export type { RetryOptions } from "./retry.js";
export { defaultWorkerId, slotWorkerId } from "./worker-id.js";
export { connectionFromEnv, bearerMetadata } from "./connection.js";
export type { EnvConnection } from "./connection.js";
export { TrialParams, ParamError, fromParameterValue, toParameterValue } from "./params.js";
export type { ParamValue } from "./params.js";
export {
  lrAt,
  createScheduler,
  resolveLrSchedule,
  scheduleBaseLr,
  toLrScheduleValue,
  LrScheduleError,
  LR_KINDS,
  LR_KIND_SPECS,
} from "./lr-schedule.js";
export type { LrScheduler, LrScheduleInput, LrScheduleValue, LrKind, HpRule, KindSpec } from "./lr-schedule.js";
export { optimize } from "./optimize.js";
export type { ObjectiveFunction, OptimizeOptions, OptimizeResult, TrialOutcome } from "./optimize.js";
export type { TrialContext, ObjectiveResult, MeasurementExtras } from "./trial-context.js";
export { TrialPruned } from "./trial-pruned.js";
export {
  ProtoJsonError,
  hpodRegistry,
  messageFromJson,
  messageToJson,
  parseStudySpec,
  readStudySpec,
  studyFromJson,
} from "./proto-json.js";

// Generated message types and enums of hpod.v1.
export { status as GrpcStatus, credentials, Metadata } from "@grpc/grpc-js";
export type { ChannelCredentials } from "@grpc/grpc-js";
export {
  Study,
  StudySpec,
  StudyState,
  Direction,
  Objective,
  Constraint,
  AlgorithmSpec,
  PrunerSpec,
  GridOptions,
  GridAxis,
  QuasiRandomOptions,
  TrialCounts,
} from "./gen/hpod/v1/study.js";
export { Trial, TrialState, TrialSource, Decision, Measurement } from "./gen/hpod/v1/trial.js";
export {
  SearchSpace,
  Parameter,
  FloatDomain,
  IntDomain,
  CategoricalDomain,
  ParameterCondition,
  ParameterValue,
  LrSchedule,
  LrScheduleKind,
  LrScheduleDomain,
  LrScheduleOption,
} from "./gen/hpod/v1/search_space.js";
export {
  HpodServiceClient,
  TrialEventKind,
  CreateStudyRequest,
  CreateStudyResponse,
  GetStudyRequest,
  GetStudyResponse,
  ListStudiesRequest,
  ListStudiesResponse,
  UpdateStudyRequest,
  UpdateStudyResponse,
  DeleteStudyRequest,
  DeleteStudyResponse,
  SuggestRequest,
  SuggestResponse,
  ReportRequest,
  ReportResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  GetTrialRequest,
  GetTrialResponse,
  ListTrialsRequest,
  ListTrialsResponse,
  GetBestTrialsRequest,
  GetBestTrialsResponse,
  EnqueueTrialRequest,
  EnqueueTrialResponse,
  AddTrialRequest,
  AddTrialResponse,
  WatchStudyRequest,
  WatchStudyResponse,
} from "./gen/hpod/v1/hpod_service.js";
export type { DeepPartial } from "./gen/hpod/v1/hpod_service.js";
export { Duration } from "./gen/google/protobuf/duration.js";
