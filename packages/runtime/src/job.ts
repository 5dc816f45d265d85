import type { StandardSchemaV1 } from "@standard-schema/spec";
import { checkDebounce, type Debounce } from "./debounce.js";
import { dispatchOptions, publishJob, publishJobs } from "./publish.js";
import { validatePayload } from "./schema.js";
import type { DebounceDeclaration, DeclaredOptions } from "./template-types.js";
import type {
  DispatchArgs,
  DispatchOptions,
  FailureHook,
  Job,
  JobContext,
  JobHandler,
  JsonPayloadCheck,
} from "./types.js";

const KEY_PATTERN = /^[A-Za-z0-9._:/-]{1,128}$/;

/** What a job key may be, in the words every error message uses. */
export const JOB_KEY_RULE = "1-128 characters from A-Z a-z 0-9 . _ : / -";

/** Whether `key` is a valid job key: 1-128 characters from `A-Z a-z 0-9 . _ : / -`. */
export function isValidJobKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/**
 * One schedule of a job: `{ cron, timezone?, payload?, name? }`, or a bare cron string (UTC, no payload) for a
 * job that takes none. The payload is type-checked against the job's input; a job that needs one must be given it.
 */
export type ScheduleDeclaration<TInput> =
  | (undefined extends TInput ? string : never)
  | ({ name?: string; cron: string; timezone?: string } & (undefined extends TInput
      ? { payload?: TInput }
      : { payload: TInput }));

/** When a job runs by itself: one schedule or several. `qjobs generate` reads it statically, so use literals. */
export type JobSchedule<TInput> = ScheduleDeclaration<TInput> | readonly ScheduleDeclaration<TInput>[];

// `[S] extends [undefined]` first: without strictNullChecks, `undefined extends StandardSchemaV1` holds.
/** What a job's payload is, as dispatched: the schema's input, or the handler's parameter without a schema. */
type InputOf<S, P> = [S] extends [undefined] ? P : S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : P;
/** What a job's handler gets: the schema's output, or what was dispatched. */
type OutputOf<S, P> = [S] extends [undefined] ? P : S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : P;

/**
 * A job's definition, with a schema or without. One type, and so one signature of `createJob`: with overloads,
 * tsc's first line for a misuse is "No overload matches this call", and what is wrong comes lines later.
 * The schema (not a function) is inferred first, and the handler's parameter is typed from it.
 */
type Definition<
  TSchema,
  TPayload,
  TResult,
  TFlowKey extends string,
  TDeduplicationId extends string,
  TLabel extends string,
  TDebounceKey extends string,
> = DeclaredOptions<InputOf<TSchema, TPayload>, TFlowKey, TDeduplicationId, TLabel> & {
  /** Validates each payload at dispatch and at delivery; its input is what travels, so it must be JSON too. */
  schema?: TSchema;
  /** Dispatches with the same key within `period` run the job once, with the last payload (needs the run store). */
  debounce?: DebounceDeclaration<InputOf<TSchema, TPayload>, TDebounceKey>;
  /** Runs once when QStash gives up on a message of this job (retries exhausted, or 489). At least once: deduplicate on `failure.sourceMessageId`. */
  onFailure?: FailureHook<NoInfer<OutputOf<TSchema, TPayload>>>;
  /** `z.date()` in a schema is refused (its input is a Date); `z.coerce.date()` is fine. */
  handler: JsonPayloadCheck<InputOf<TSchema, TPayload>> & JobHandler<OutputOf<TSchema, TPayload>, TResult>;
  schedule?: JobSchedule<NoInfer<InputOf<TSchema, TPayload>>>;
};

/**
 * The options a job declares: `flowControl.key`, `deduplicationId` and `label` may be templates over the payload
 * (`"tenant:{tenantId}"`), checked by tsc and filled at dispatch time.
 */
export type JobDefinition<
  TPayload,
  TResult,
  TFlowKey extends string = string,
  TDeduplicationId extends string = string,
  TLabel extends string = string,
  TDebounceKey extends string = string,
> = Definition<undefined, TPayload, TResult, TFlowKey, TDeduplicationId, TLabel, TDebounceKey>;

/** A job with a schema: its templates are checked against the schema's input, what is dispatched. */
export type SchemaJobDefinition<
  TSchema extends StandardSchemaV1,
  TResult,
  TFlowKey extends string = string,
  TDeduplicationId extends string = string,
  TLabel extends string = string,
  TDebounceKey extends string = string,
> = Definition<TSchema, unknown, TResult, TFlowKey, TDeduplicationId, TLabel, TDebounceKey> & { schema: TSchema };

/**
 * Defines a job. Export it from a `*.job.ts` file and `qjobs generate` registers it.
 *
 * ```ts
 * export const welcomeEmail = createJob("welcome-email", async (payload: { userId: string }, ctx) => {});
 * export const resize = createJob("images/resize", { schema, retries: 5, handler: async (payload) => {} });
 * ```
 */
// The payload's type comes first, so that `createJob<{ userId: string }>(key, async (payload) => …)` reads as it
// did with overloads; the schema's last (it is always inferred from `schema`).
export function createJob<
  TPayload = undefined,
  TResult = unknown,
  TFlowKey extends string = string,
  TDeduplicationId extends string = string,
  TLabel extends string = string,
  TDebounceKey extends string = string,
  TSchema extends StandardSchemaV1 | undefined = undefined,
>(
  key: string,
  // The check goes outside the union: TypeScript 7 may print the definition first and cut the rest short. It
  // checks what travels (the schema's input), not the handler's parameter: a schema job's handler may be typed
  // with the schema's output, and a Date made by the schema after delivery is fine.
  definition: JsonPayloadCheck<InputOf<TSchema, TPayload>> &
    (
      | JobHandler<TPayload, TResult>
      | Definition<TSchema, TPayload, TResult, TFlowKey, TDeduplicationId, TLabel, TDebounceKey>
    ),
): Job<InputOf<TSchema, TPayload>, OutputOf<TSchema, TPayload>, TResult>;
export function createJob(
  key: string,
  definition:
    | JobHandler<unknown, unknown>
    | (DispatchOptions & {
        schema?: StandardSchemaV1;
        handler: JobHandler<unknown, unknown>;
        schedule?: unknown;
        onFailure?: FailureHook<unknown>;
        debounce?: Debounce;
      }),
): Job {
  if (typeof key !== "string" || !isValidJobKey(key)) {
    throw new TypeError(`Invalid job key ${JSON.stringify(key)}: use ${JOB_KEY_RULE}`);
  }
  // The schedule is not a dispatch option: `qjobs generate` reads it, and QStash runs it.
  const {
    handler,
    schema,
    schedule: _schedule,
    onFailure,
    debounce,
    ...defaults
  } = typeof definition === "function" ? { handler: definition } : definition;
  if (typeof handler !== "function") throw new TypeError(`Job "${key}" needs a handler function`);
  if (onFailure !== undefined && typeof onFailure !== "function")
    throw new TypeError(`Job "${key}": onFailure must be a function`);
  if (onFailure && defaults.failureCallback) {
    throw new TypeError(
      `Job "${key}" declares both onFailure and failureCallback: QStash calls one failure callback; keep one`,
    );
  }
  if (debounce !== undefined) checkDebounce(key, debounce);
  const hook = { failureHook: Boolean(onFailure), ...(debounce ? { debounce } : {}) };

  const job: Job = {
    key,
    schema,
    defaults: Object.freeze(defaults),
    handler,
    ...(onFailure ? { onFailure: onFailure as FailureHook<unknown> } : {}),
    ...(debounce ? { debounce } : {}),
    async dispatch(...[payload, options]: DispatchArgs<unknown>) {
      await validatePayload(key, schema, payload);
      // Templates fill from the payload as dispatched; the call's own options are literal and win.
      return publishJob(key, payload, await dispatchOptions(key, defaults, payload, options), undefined, hook);
    },
    async dispatchMany(payloads, options) {
      for (const payload of payloads) await validatePayload(key, schema, payload);
      const each = await Promise.all(payloads.map((payload) => dispatchOptions(key, defaults, payload, options)));
      return publishJobs(key, payloads, each, undefined, hook);
    },
    async run(payload, ctx) {
      const value = await validatePayload(key, schema, payload);
      return handler(value, testContext(key, ctx));
    },
  };
  return Object.freeze(job);
}

function testContext(key: string, ctx: Partial<JobContext> | undefined): JobContext {
  return { messageId: "msg_local", retried: 0, headers: new Headers(), progress: () => {}, ...ctx, key };
}
