/**
 * HpodClient: a promise-based client of hpod.v1.HpodService with per-call
 * deadlines, retries of transient failures and typed errors.
 */
import { ChannelCredentials, Metadata, status as Status, type ClientOptions } from "@grpc/grpc-js";
import { connectionFromEnv } from "./connection.js";

import {
  AddTrialRequest,
  type AddTrialResponse,
  CreateStudyRequest,
  type CreateStudyResponse,
  type DeepPartial,
  DeleteStudyRequest,
  type DeleteStudyResponse,
  GetBestTrialsRequest,
  type GetBestTrialsResponse,
  GetStudyRequest,
  type GetStudyResponse,
  GetTrialRequest,
  type GetTrialResponse,
  HeartbeatRequest,
  type HeartbeatResponse,
  HpodServiceClient,
  HpodServiceService,
  EnqueueTrialRequest,
  type EnqueueTrialResponse,
  ListStudiesRequest,
  type ListStudiesResponse,
  ListTrialsRequest,
  type ListTrialsResponse,
  ReportRequest,
  type ReportResponse,
  SuggestRequest,
  type SuggestResponse,
  UpdateStudyRequest,
  type UpdateStudyResponse,
  WatchStudyRequest,
  type WatchStudyResponse,
} from "./gen/hpod/v1/hpod_service.js";
import type { Study } from "./gen/hpod/v1/study.js";
import type { Trial } from "./gen/hpod/v1/trial.js";
import { HpodClientError } from "./errors.js";
import { resolveRetryOptions, withRetry, type RetryOptions } from "./retry.js";

/** Address used when neither the `address` option nor `HPOD_ADDRESS` is set. */
export const DEFAULT_ADDRESS = "127.0.0.1:50551";
/** Per-call deadline used when `deadlineMs` is not given. */
export const DEFAULT_DEADLINE_MS = 30_000;

/** Metadata as a grpc-js Metadata object or as plain string pairs. */
export type MetadataInit = Metadata | Readonly<Record<string, string>>;

/** Options of {@link HpodClient}. Every field is optional. */
export interface HpodClientOptions {
  /**
   * `host:port` of the daemon (any grpc-js target string works, e.g.
   * `dns:hpod.internal:50551` or `unix:/run/hpod.sock`).
   * @default process.env.HPOD_ADDRESS, else "127.0.0.1:50551"
   */
  address?: string;
  /**
   * Channel credentials, e.g. `credentials.createSsl(ca)`.
   * @default TLS from HPOD_TLS_CA / HPOD_TLS_CERT / HPOD_TLS_KEY (file paths) when set, else insecure
   */
  credentials?: ChannelCredentials;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on every call.
   * @default process.env.HPOD_TOKEN, else the contents of the file named by HPOD_TOKEN_FILE, else none
   */
  token?: string;
  /**
   * Deadline of each attempt of a unary call, in milliseconds. Override per
   * call with {@link CallOptions.deadlineMs}.
   * @default 30000
   */
  deadlineMs?: number;
  /**
   * Retries with exponential backoff. Only UNAVAILABLE is retried for every
   * method, and DEADLINE_EXCEEDED for the idempotent reads (GetStudy,
   * ListStudies, GetTrial, ListTrials, GetBestTrials). Missing fields take
   * the defaults of {@link RetryOptions}; `{ maxAttempts: 1 }` disables it.
   * @default { maxAttempts: 5, initialBackoffMs: 50, maxBackoffMs: 2000, multiplier: 2, jitter: 0.2 }
   */
  retry?: Partial<RetryOptions>;
  /**
   * Metadata sent with every call (e.g. an `authorization` header).
   * @default none
   */
  metadata?: MetadataInit;
  /**
   * Raw grpc-js channel options (keepalive, message sizes, ...).
   * @default {}
   */
  channelOptions?: Partial<ClientOptions>;
}

/** Options of one call. */
export interface CallOptions {
  /**
   * Deadline of each attempt, in milliseconds; for `watchStudy` the deadline
   * of the whole stream.
   * @default the client's `deadlineMs` (none for `watchStudy`)
   */
  deadlineMs?: number;
  /** Cancels the call (and its pending retries) with CANCELLED. */
  signal?: AbortSignal;
  /** Metadata added to the client's metadata for this call. */
  metadata?: MetadataInit;
  /**
   * Overrides of the client's retry policy for this call.
   * @default the client's `retry`
   */
  retry?: Partial<RetryOptions>;
}

interface UnaryMethod<Req, Res> {
  readonly path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

function toMetadata(init: MetadataInit | undefined): Metadata {
  if (init instanceof Metadata) return init.clone();
  const md = new Metadata();
  for (const [key, value] of Object.entries(init ?? {})) md.set(key, value);
  return md;
}

function resolveAddress(address: string | undefined): string {
  if (address !== undefined && address !== "") return address;
  const env = process.env.HPOD_ADDRESS;
  return env !== undefined && env !== "" ? env : DEFAULT_ADDRESS;
}

/**
 * Client of the hpod daemon. One instance holds one channel; share it and
 * call {@link HpodClient.close} when done.
 *
 * ```ts
 * const client = new HpodClient({ address: "127.0.0.1:50551" });
 * const { study } = await client.getStudy({ name: "mnist" });
 * ```
 */
export class HpodClient {
  /** The daemon address this client connects to. */
  readonly address: string;
  /** The deadline of each call attempt, in milliseconds. */
  readonly deadlineMs: number;
  /** The resolved retry policy. */
  readonly retry: Readonly<RetryOptions>;
  /** The underlying generated grpc-js client, for anything not wrapped here. */
  readonly raw: HpodServiceClient;
  private readonly metadata: Metadata;

  constructor(options: HpodClientOptions = {}) {
    this.address = resolveAddress(options.address);
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    if (!(this.deadlineMs > 0)) throw new RangeError(`deadlineMs must be > 0, got ${this.deadlineMs}`);
    this.retry = Object.freeze(resolveRetryOptions(options.retry));
    this.metadata = toMetadata(options.metadata);
    const env = connectionFromEnv();
    const token = options.token ?? env.token;
    if (token) this.metadata.set("authorization", `Bearer ${token}`);
    this.raw = new HpodServiceClient(this.address, options.credentials ?? env.credentials, options.channelOptions ?? {});
  }

  /** Creates a study (or loads an equal one with `loadIfExists`). */
  createStudy(request: DeepPartial<CreateStudyRequest>, options?: CallOptions): Promise<CreateStudyResponse> {
    return this.unary("CreateStudy", HpodServiceService.createStudy, CreateStudyRequest.fromPartial(request), false, options);
  }

  getStudy(request: DeepPartial<GetStudyRequest>, options?: CallOptions): Promise<GetStudyResponse> {
    return this.unary("GetStudy", HpodServiceService.getStudy, GetStudyRequest.fromPartial(request), true, options);
  }

  /** One page of studies; see {@link HpodClient.iterateStudies} for all. */
  listStudies(request: DeepPartial<ListStudiesRequest> = {}, options?: CallOptions): Promise<ListStudiesResponse> {
    return this.unary("ListStudies", HpodServiceService.listStudies, ListStudiesRequest.fromPartial(request), true, options);
  }

  /** Changes a study's state (pause, resume, stop) or trial budget. */
  updateStudy(request: DeepPartial<UpdateStudyRequest>, options?: CallOptions): Promise<UpdateStudyResponse> {
    return this.unary("UpdateStudy", HpodServiceService.updateStudy, UpdateStudyRequest.fromPartial(request), false, options);
  }

  deleteStudy(request: DeepPartial<DeleteStudyRequest>, options?: CallOptions): Promise<DeleteStudyResponse> {
    return this.unary("DeleteStudy", HpodServiceService.deleteStudy, DeleteStudyRequest.fromPartial(request), false, options);
  }

  /**
   * Asks for trials. A worker that holds a RUNNING trial gets it again; with
   * no trial and `studyDone` false, ask again after `retryAfter`.
   */
  suggest(request: DeepPartial<SuggestRequest>, options?: CallOptions): Promise<SuggestResponse> {
    return this.unary("Suggest", HpodServiceService.suggest, SuggestRequest.fromPartial(request), false, options);
  }

  /** Sends an intermediate (with `step`) or final measurement. */
  report(request: DeepPartial<ReportRequest>, options?: CallOptions): Promise<ReportResponse> {
    return this.unary("Report", HpodServiceService.report, ReportRequest.fromPartial(request), false, options);
  }

  /** Keeps a RUNNING trial's lease alive. */
  heartbeat(request: DeepPartial<HeartbeatRequest>, options?: CallOptions): Promise<HeartbeatResponse> {
    return this.unary("Heartbeat", HpodServiceService.heartbeat, HeartbeatRequest.fromPartial(request), false, options);
  }

  getTrial(request: DeepPartial<GetTrialRequest>, options?: CallOptions): Promise<GetTrialResponse> {
    return this.unary("GetTrial", HpodServiceService.getTrial, GetTrialRequest.fromPartial(request), true, options);
  }

  /** One page of trials; see {@link HpodClient.iterateTrials} for all. */
  listTrials(request: DeepPartial<ListTrialsRequest>, options?: CallOptions): Promise<ListTrialsResponse> {
    return this.unary("ListTrials", HpodServiceService.listTrials, ListTrialsRequest.fromPartial(request), true, options);
  }

  /** The best feasible trial, or the Pareto set of a multi-objective study. */
  getBestTrials(request: DeepPartial<GetBestTrialsRequest>, options?: CallOptions): Promise<GetBestTrialsResponse> {
    return this.unary("GetBestTrials", HpodServiceService.getBestTrials, GetBestTrialsRequest.fromPartial(request), true, options);
  }

  /** Queues user-fixed parameters; queued trials are handed out first. */
  enqueueTrial(request: DeepPartial<EnqueueTrialRequest>, options?: CallOptions): Promise<EnqueueTrialResponse> {
    return this.unary("EnqueueTrial", HpodServiceService.enqueueTrial, EnqueueTrialRequest.fromPartial(request), false, options);
  }

  /** Imports a trial finished elsewhere (warm start). */
  addTrial(request: DeepPartial<AddTrialRequest>, options?: CallOptions): Promise<AddTrialResponse> {
    return this.unary("AddTrial", HpodServiceService.addTrial, AddTrialRequest.fromPartial(request), false, options);
  }

  /** Every study, fetching the pages of ListStudies as the iteration goes. */
  async *iterateStudies(request: DeepPartial<ListStudiesRequest> = {}, options?: CallOptions): AsyncGenerator<Study, void, undefined> {
    let pageToken = request.pageToken ?? "";
    do {
      const page = await this.listStudies({ ...request, pageToken }, options);
      yield* page.studies;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }

  /** Every trial of a study, fetching the pages of ListTrials as the iteration goes. */
  async *iterateTrials(request: DeepPartial<ListTrialsRequest>, options?: CallOptions): AsyncGenerator<Trial, void, undefined> {
    let pageToken = request.pageToken ?? "";
    do {
      const page = await this.listTrials({ ...request, pageToken }, options);
      yield* page.trials;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }

  /**
   * Trial events of a study as they happen, as an async iterable. Breaking
   * out of the loop (or aborting `options.signal`) cancels the stream, which
   * then ends quietly. A failed stream throws an {@link HpodClientError}.
   * The stream is not retried.
   */
  watchStudy(request: DeepPartial<WatchStudyRequest>, options: CallOptions = {}): AsyncIterable<WatchStudyResponse> {
    const def = HpodServiceService.watchStudy;
    const metadata = this.callMetadata(options);
    const message = WatchStudyRequest.fromPartial(request);
    const raw = this.raw;
    return {
      [Symbol.asyncIterator](): AsyncIterator<WatchStudyResponse> {
        const callOptions = options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {};
        const stream = raw.makeServerStreamRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          message,
          metadata,
          callOptions,
        );
        const queue: WatchStudyResponse[] = [];
        let ended = false;
        let failure: HpodClientError | undefined;
        let cancelledByUs = false;
        let wake: (() => void) | undefined;
        const notify = (): void => {
          const w = wake;
          wake = undefined;
          w?.();
        };
        const cancel = (): void => {
          if (ended) return;
          cancelledByUs = true;
          stream.cancel();
        };
        const onAbort = (): void => cancel();
        const finish = (): void => {
          ended = true;
          options.signal?.removeEventListener("abort", onAbort);
          notify();
        };
        stream.on("data", (msg: WatchStudyResponse) => {
          queue.push(msg);
          if (queue.length >= 1024) stream.pause();
          notify();
        });
        stream.on("error", (error: unknown) => {
          const wrapped = HpodClientError.from(error, "WatchStudy");
          if (!(cancelledByUs && wrapped.code === Status.CANCELLED)) failure = wrapped;
          finish();
        });
        stream.on("end", finish);
        options.signal?.addEventListener("abort", onAbort, { once: true });
        if (options.signal?.aborted) cancel();
        return {
          async next(): Promise<IteratorResult<WatchStudyResponse>> {
            for (;;) {
              const msg = queue.shift();
              if (msg !== undefined) {
                if (queue.length < 256 && stream.isPaused()) stream.resume();
                return { value: msg, done: false };
              }
              if (failure !== undefined) {
                const error = failure;
                failure = undefined;
                throw error;
              }
              if (ended) return { value: undefined, done: true };
              await new Promise<void>((resolve) => (wake = resolve));
            }
          },
          async return(): Promise<IteratorResult<WatchStudyResponse>> {
            cancel();
            queue.length = 0;
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  /** Closes the channel; calls in flight fail with CANCELLED or UNAVAILABLE. */
  close(): void {
    this.raw.close();
  }

  private callMetadata(options: CallOptions | undefined): Metadata {
    const md = this.metadata.clone();
    if (options?.metadata !== undefined) md.merge(toMetadata(options.metadata));
    return md;
  }

  private unary<Req, Res>(
    name: string,
    def: UnaryMethod<Req, Res>,
    request: Req,
    idempotentRead: boolean,
    options: CallOptions = {},
  ): Promise<Res> {
    const policy = options.retry === undefined ? this.retry : resolveRetryOptions({ ...this.retry, ...options.retry });
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    const signal = options.signal;
    return withRetry({ method: name, idempotentRead, policy, signal }, (attempt) => {
      if (signal?.aborted) {
        return Promise.reject(new HpodClientError(Status.CANCELLED, "aborted by the caller", { method: name, attempts: attempt }));
      }
      return new Promise<Res>((resolve, reject) => {
        const onAbort = (): void => call.cancel();
        const call = this.raw.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          request,
          this.callMetadata(options),
          { deadline: Date.now() + deadlineMs },
          (error, response) => {
            signal?.removeEventListener("abort", onAbort);
            if (error !== null || response === undefined) {
              reject(HpodClientError.from(error ?? new Error("empty response"), name, attempt));
            } else {
              resolve(response);
            }
          },
        );
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    });
  }
}
