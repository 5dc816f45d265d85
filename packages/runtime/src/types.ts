import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Debounce } from "./debounce.js";
import type { SignatureClaims } from "./verify.js";

/** A QStash duration: `"30s"`, `"5m"`, `"2h"`, `"1d"`. */
export type Duration = `${bigint}${"s" | "m" | "h" | "d"}`;

/** QStash's per-message options; on a job they are defaults that each dispatch can override. */
export interface DispatchOptions {
  /** Deliver after this long: seconds, or a duration such as `"10m"`. */
  delay?: number | Duration;
  /** Deliver no earlier than this moment: unix seconds or a Date. Overrides `delay`. */
  notBefore?: number | Date;
  /** Messages with the same id within QStash's deduplication window are published once. */
  deduplicationId?: string;
  /** Deduplicate on the message's content (destination, body and headers). */
  contentBasedDeduplication?: boolean;
  /** How many times QStash retries a failed delivery (QStash's default: 3). */
  retries?: number;
  /** A QStash retry-delay expression in milliseconds, e.g. `"1000 * pow(2, retried)"`. */
  retryDelay?: string;
  /** How long one delivery may take: seconds, or a duration. */
  timeout?: number | Duration;
  /** URL that QStash calls with the outcome of each delivery attempt. */
  callback?: string;
  /** URL that QStash calls once, when the message has failed for good. */
  failureCallback?: string;
  /** Limit deliveries sharing a key: how many at once and/or how many per period. */
  flowControl?: FlowControl;
  /** A label to filter QStash's logs and dead-letter queue by. */
  label?: string;
  /** Extra headers for the delivery request (forwarded by QStash). */
  headers?: Record<string, string>;
  /** How long the run handle's `token` lets a browser read the run: seconds or a duration. Default 24 h. */
  tokenExpiresIn?: number | Duration;
}

/** At most `parallelism` deliveries at once and/or `rate` per `period` (default one second), per key. */
export type FlowControl = { key: string; period?: number | Duration } & (
  | { parallelism: number; rate?: number }
  | { parallelism?: number; rate: number }
);

/**
 * A run handle: what a dispatch resolves to, and what `getRun`, `waitForRun` and `cancelRun` take. `id` is
 * QStash's message id (also kept as `messageId`); `key` types the run's result.
 */
export interface RunHandle<TKey extends string = string> {
  id: string;
  key: TKey;
  /** The same as `id`: the name dispatch results had before runs. */
  messageId: string;
  /** True when QStash recognised a duplicate and kept the earlier message: the handle is that message's run. */
  deduplicated?: true;
  /**
   * Lets a browser read this one run (`useRun`, `watchRun`) through the jobs route, until it expires (24 h by
   * default, `tokenExpiresIn` per dispatch). Present when the dispatcher has `QJOBS_RUN_TOKEN_SECRET` or the
   * QStash signing keys.
   */
  token?: string;
  /** The jobs route's path (never an origin), where a browser reads the run: `/api/jobs` by default. */
  route?: string;
}

/** What a dispatch resolves to: a run handle. */
export type DispatchResult<TKey extends string = string> = RunHandle<TKey>;

/**
 * What a handler learns about the delivery it is running. Authenticated by the signature: `key` (from the
 * signed URL), the payload (the signed body) and `claims`. Not signed, so only as trustworthy as the network
 * path: `messageId`, `retried`, `scheduleId` and `headers`.
 */
export interface JobContext {
  readonly key: string;
  /** QStash's message id, stable across retries. Not signed: for idempotency, prefer a key inside the payload. */
  readonly messageId: string;
  /** How many times this message was retried before: 0 on the first attempt. Not signed. */
  readonly retried: number;
  /** Set when a QStash schedule produced the message. Not signed. */
  readonly scheduleId?: string;
  /** The delivery request's headers. Not signed. */
  readonly headers: Headers;
  /** The verified signature's claims (`jti` is unique per attempt, `iat` when QStash signed it); absent in `job.run`. */
  readonly claims?: SignatureClaims;
  /**
   * Records a JSON value as the run's latest progress (up to 16 KiB of JSON). Returns nothing and never throws:
   * at most one write is in flight, then only the latest value is sent. Without a run store it does nothing.
   */
  readonly progress: (value: unknown) => void;
}

export type JobHandler<TPayload, TResult> = (payload: TPayload, ctx: JobContext) => TResult | Promise<TResult>;

/** Why and how a message failed for good, as QStash's failure callback tells it. */
export interface JobFailure {
  /**
   * `"failed"`: the handler failed (retries exhausted, or a 489 / NonRetryableError).
   * `"unreachable"`: no attempt got an answer (the app was down or timed out: `status` is 0), so the handler may
   * never have run.
   * `"invalid_payload"`: the payload itself was the failure (not JSON, or refused by the schema); it is in
   * `rawPayload`, and the hook's payload is undefined.
   */
  readonly reason: "failed" | "unreachable" | "invalid_payload";
  /** The last attempt's HTTP status (0 when there was no answer). */
  readonly status: number;
  /** The last attempt's response body, as text (QStash may cut it short). */
  readonly body: string;
  readonly retried: number;
  readonly maxRetries: number;
  /** The id the failed deliveries carried (`ctx.messageId` in the handler): deduplicate hooks on it. */
  readonly sourceMessageId: string;
  /** The message's id in QStash's dead-letter queue. */
  readonly dlqId?: string;
  /** With reason "invalid_payload": the payload as it was published. */
  readonly rawPayload?: unknown;
}

/**
 * A job's failure hook: the payload as the handler would have had it (undefined when the payload itself was
 * the failure: see `failure.reason`), the failure, and the hook delivery's own context.
 */
export type FailureHook<TPayload> = (
  payload: TPayload | undefined,
  failure: JobFailure,
  ctx: JobContext,
) => unknown | Promise<unknown>;

/** Arguments of a dispatch: the payload may be left out when the job takes none. */
export type DispatchArgs<TInput> = undefined extends TInput
  ? [payload?: TInput, options?: DispatchOptions]
  : [payload: TInput, options?: DispatchOptions];

export interface Job<TInput = unknown, TPayload = TInput, TResult = unknown> {
  readonly key: string;
  readonly schema: StandardSchemaV1<TInput, TPayload> | undefined;
  /** Options applied to every dispatch of this job, under the call's own. */
  readonly defaults: Readonly<DispatchOptions>;
  /** Publish one message through QStash. With a schema the payload is validated first. */
  dispatch(...args: DispatchArgs<TInput>): Promise<DispatchResult>;
  /** Publish one message per payload with QStash's batch endpoint; ids come back in order. */
  dispatchMany(payloads: readonly TInput[], options?: DispatchOptions): Promise<RunHandle[]>;
  /** Run the handler here and now (validating through the schema), for tests and scripts. */
  run(payload: TInput, ctx?: Partial<JobContext>): Promise<Awaited<TResult>>;
  readonly handler: JobHandler<TPayload, TResult>;
  /** Runs once when QStash gives up on one of this job's messages (see `createJob`'s `onFailure`). */
  readonly onFailure?: FailureHook<TPayload>;
  /** Set when dispatches are debounced: the route runs only its key's latest (see `createJob`'s `debounce`). */
  readonly debounce?: Debounce;
}

// biome-ignore lint/suspicious/noExplicitAny: any is what makes every job assignable here.
export type AnyJob = Job<any, any, any>;

/** Loads the job for a key, importing its module only then; undefined for an unknown key. */
export type JobLoader = (key: string) => Promise<AnyJob> | undefined;

/** Jobs for a route: the generated registry's `loadJob`, or a map of keys to lazy loaders. */
export type JobLoaders = JobLoader | Readonly<Record<string, () => Promise<AnyJob>>>;

/**
 * Augmented by the generated registry with `jobs: { [key]: typeof theJob }`, which types
 * `dispatch(key, payload)`. Until then any key and payload are accepted.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface, so that the registry can augment it.
export interface Register {}

type RegisteredJobs = Register extends { jobs: infer TJobs } ? TJobs : Record<string, Job<unknown>>;

export type JobKey = Extract<keyof RegisteredJobs, string>;

// biome-ignore lint/suspicious/noExplicitAny: only the input is inferred; the payload and result may be anything.
export type JobInput<TKey extends JobKey> = RegisteredJobs[TKey] extends Job<infer TInput, any, any> ? TInput : never;

type JsonPrimitive = string | number | boolean | null;

/**
 * Whether the project compiles with strictNullChecks (read in the user's own program). Without it, as under the
 * `"strict": false` that `next build` writes for a new app, every type admits undefined, so "an array that may
 * hold undefined" cannot be told from any array: that one check is skipped there (issue 21).
 */
type StrictNullChecks = undefined extends string ? false : true;

/**
 * The places in a payload type that JSON cannot carry, as `"payload.at is a Date"`-like strings; never when
 * the type is JSON-safe. A payload travels as JSON, so a Date arrives as a string, a Map as `{}`, a bigint
 * not at all: the types refuse them instead of lying. Mapped over keys, so interfaces work as well as type
 * aliases (an interface is not assignable to an index-signature JSON type). `any` and `unknown` pass. Without
 * strictNullChecks, an array that may hold undefined passes (see StrictNullChecks).
 */
export type JsonIssues<T, Path extends string = "payload", Depth extends unknown[] = []> = Depth["length"] extends 10
  ? never
  : 0 extends 1 & T
    ? never
    : unknown extends T
      ? never
      : T extends JsonPrimitive | undefined
        ? never
        : T extends bigint
          ? `${Path} is a bigint`
          : T extends symbol
            ? `${Path} is a symbol`
            : T extends Date
              ? `${Path} is a Date (send a string or a number)`
              : T extends ReadonlyMap<unknown, unknown>
                ? `${Path} is a Map (send an object or an array)`
                : T extends ReadonlySet<unknown>
                  ? `${Path} is a Set (send an array)`
                  : T extends (...args: never[]) => unknown
                    ? `${Path} is a function`
                    : T extends readonly (infer E)[]
                      ?
                          | (StrictNullChecks extends true
                              ? undefined extends E
                                ? `${Path}[] may hold undefined (JSON turns it into null)`
                                : never
                              : never)
                          | JsonIssues<Exclude<E, undefined>, `${Path}[]`, [...Depth, 1]>
                      : T extends object
                        ? {
                            [K in keyof T & string]-?: JsonIssues<
                              Exclude<T[K], undefined>,
                              `${Path}.${K}`,
                              [...Depth, 1]
                            >;
                          }[keyof T & string]
                        : never;

/** What a handler whose payload type JSON cannot carry is asked to be: tsc prints it by name, with the issue. */
export type PayloadIsNotJson<Issue extends string> = { "a payload travels as JSON, which cannot carry": Issue };

/**
 * Nothing when a payload type is JSON-safe; otherwise a requirement no handler meets, naming what is not. It goes
 * first in an intersection, so that tsc's first line names the issue before it cuts a long payload type short.
 */
export type JsonPayloadCheck<T> = [JsonIssues<T>] extends [never] ? unknown : PayloadIsNotJson<JsonIssues<T>>;

/** What JSON drops: from an object it removes the property, in an array or at the top it becomes `null`. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler typed as returning void returns undefined, which JSON drops.
type JsonDropped = undefined | void | symbol | ((...args: never[]) => unknown);

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Whether some member of `T` is dropped by JSON (the property may then be missing). */
type MayDrop<T> = [Extract<T, JsonDropped>] extends [never] ? false : true;

/** What JSON does with property `K` of `T`: drops it, keeps it, or keeps it when it holds something JSON keeps. */
type PropertyFate<T, K extends keyof T> = K extends symbol
  ? "dropped"
  : [Exclude<T[K], JsonDropped>] extends [never]
    ? "dropped"
    : MayDrop<T[K]> extends true
      ? "optional"
      : "required";

type JsonifyObject<T> = Simplify<
  { [K in keyof T as PropertyFate<T, K> extends "required" ? K : never]: Jsonify<T[K]> } & {
    [K in keyof T as PropertyFate<T, K> extends "optional" ? K : never]?: Jsonify<Exclude<T[K], JsonDropped>>;
  }
>;

/**
 * What JSON makes of a `T`: what `JSON.parse(JSON.stringify(value))` gives back. A `Date` (anything with
 * `toJSON`) becomes what `toJSON` returns, functions, symbols and `undefined` properties disappear (in arrays they
 * become `null`), a `Map` or `Set` becomes `{}`. A run's `result` is typed with it, so the type never lies.
 */
export type Jsonify<T> = 0 extends 1 & T
  ? unknown
  : unknown extends T
    ? unknown
    : T extends JsonDropped
      ? null
      : T extends { toJSON(): infer J }
        ? Jsonify<J>
        : T extends JsonPrimitive
          ? T
          : T extends bigint
            ? never
            : T extends ReadonlyMap<unknown, unknown> | ReadonlySet<unknown>
              ? Record<string, never>
              : T extends readonly unknown[]
                ? { [I in keyof T]: Jsonify<T[I]> }
                : T extends object
                  ? JsonifyObject<T>
                  : never;

/** What a job's handler resolves to, read off `run` (inferring through the handler's `T | Promise<T>` widens it). */
type ResultOf<TJob> = TJob extends { run(...args: never[]): Promise<infer TResult> } ? TResult : unknown;

/** The `result` of a run of job `TKey`: what JSON makes of what its handler returns. */
export type JobResult<TKey extends JobKey> = Jsonify<Awaited<ResultOf<RegisteredJobs[TKey]>>>;
