import { signedTarget } from "./binding.js";
import { readBody } from "./body.js";
import { DEBOUNCE_HEADER, type Debounce, fillDebounceKey, supersededBy } from "./debounce.js";
import {
  type Env,
  isLocalUse,
  processEnv,
  type RouteConfig,
  type RunStoreConfig,
  readMaxBodyBytes,
  readRouteConfig,
  readRunStoreConfig,
} from "./env.js";
import {
  ConfigurationError,
  InvalidPayloadError,
  NonRetryableError,
  type PayloadIssue,
  RetryAfterError,
} from "./errors.js";
import { quoteForLog } from "./log-text.js";
import type { ReplayGuard } from "./replay.js";
import { answerRun, type RunAnswerCode, type RunAnswerOptions } from "./runs/answer.js";
import { type RunError, runErrorOf } from "./runs/model.js";
import { type DeliveryFacts, type DeliveryRecorder, startRecording } from "./runs/record.js";
import { storeErrorLogger } from "./runs/store.js";
import { readRunTokenKeys } from "./runs/token.js";
import { validatePayload } from "./schema.js";
import { base64Bytes } from "./sha256.js";
import type { AnyJob, JobContext, JobFailure, JobLoader, JobLoaders } from "./types.js";
import { type SignatureClaims, SignatureError, verifySignature } from "./verify.js";

export interface RouteOptions extends RunAnswerOptions {
  /** Where to read the signing keys and `QJOBS_URL`; defaults to `process.env` at each request. */
  env?: Env | (() => Env);
  /**
   * More absolute URLs this route is reachable under, for an app with several names. A delivery must be
   * signed for `QJOBS_URL` or one of these (scheme, host, port and path; their query parameters too).
   */
  urls?: readonly string[];
  /** The route's path, for the jobs URL of a Vercel preview without `QJOBS_URL`. Default `/api/jobs`. */
  routePath?: string;
  /** Seconds of clock skew tolerated on a signature's expiry. Default 5. */
  clockTolerance?: number;
  /** The largest body read, in bytes; larger ones get 413. Default `QJOBS_MAX_BODY_BYTES`, else 16 MiB. */
  maxBodyBytes?: number;
  /** Refuses a signature seen before (a captured delivery sent again); see `memoryReplayGuard`. */
  replayGuard?: ReplayGuard;
  /** Where failures are logged; defaults to `console`. */
  logger?: Pick<Console, "error" | "warn">;
}

export type RouteHandler = (request: Request) => Promise<Response>;

/** Every `error.code` the route answers with, for matching in logs and tests. */
export type RouteErrorCode =
  | "method_not_allowed"
  | "configuration"
  | "missing_signature"
  | "invalid_signature"
  | "replayed_signature"
  | "payload_too_large"
  | "unknown_job"
  | "invalid_json"
  | "invalid_payload"
  | "non_retryable"
  | "retry_after"
  | "job_failed"
  | "job_load_failed"
  | "registry_stale"
  | RunAnswerCode;

const NON_RETRYABLE_STATUS = 489;

/** `make()` once, its promise kept; a rejection is kept too (a configuration error stays one until the env changes). */
function onceAsync<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    promise ??= make();
    return promise;
  };
}

/**
 * An env that notes each variable read through it, with its value then: the route's cached configuration is
 * parsed again only when one of those changed. So there is no list of variables to keep in step with the readers.
 * Reads go to the latest env the cache was kept for: a variable read later (the run token's secret, on the
 * first run read) is read as it is now, even from an env given as a fresh copy at each request.
 */
function readThrough(env: Env): { env: Env; holdsFor: (next: Env) => boolean } {
  const seen = new Map<string, string | undefined>();
  let latest = env;
  const noting = new Proxy<Env>(
    {},
    {
      get(_target, name) {
        if (typeof name !== "string") return undefined;
        const value = latest[name];
        if (!seen.has(name)) seen.set(name, value);
        return value;
      },
    },
  );
  return {
    env: noting,
    holdsFor(next) {
      for (const [name, value] of seen) if (next[name] !== value) return false;
      latest = next;
      return true;
    },
  };
}

/** Progress without a store (or without a signature to bind it to): nowhere to record it. */
const noProgress = () => {};

function failure(
  status: number,
  code: RouteErrorCode,
  message: string,
  extra?: { issues?: readonly PayloadIssue[]; headers?: HeadersInit },
): Response {
  const headers = new Headers(extra?.headers);
  if (status === NON_RETRYABLE_STATUS) headers.set("Upstash-NonRetryable-Error", "true");
  const error = extra?.issues ? { code, message, issues: extra.issues } : { code, message };
  return Response.json({ error }, { status, headers });
}

/** The query of the URL the request arrived at (its qjobs parameters must agree with the signed URL's). */
function requestedParams(url: string): URLSearchParams {
  try {
    return new URL(url).searchParams;
  } catch {
    return new URLSearchParams();
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseBody(body: Uint8Array): unknown {
  if (body.length === 0) return undefined;
  return JSON.parse(utf8.decode(body));
}

/** The answer to a delivery that ran: a constant body, so the hot path builds no JSON. */
const ok = () => new Response('{"ok":true}', { status: 200, headers: { "Content-Type": "application/json" } });

function contextOf(key: string, headers: Headers, claims: SignatureClaims): JobContext {
  const scheduleId = headers.get("upstash-schedule-id");
  return {
    key,
    messageId: headers.get("upstash-message-id") ?? "",
    retried: Number(headers.get("upstash-retried") ?? 0) || 0,
    ...(scheduleId ? { scheduleId } : {}),
    headers,
    claims,
    progress: noProgress,
  };
}

/** A callback's body field (QStash carries bodies in base64) as bytes; none when absent. */
const callbackBytes = (text: unknown): Uint8Array => (typeof text === "string" ? base64Bytes(text) : new Uint8Array(0));

const lenient = new TextDecoder();

/** A failure callback's body as an object, or undefined when it is not one. */
function parseCallback(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(utf8.decode(body));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** What QStash saw fail last: the route's own error message when the answer was one, else the body as text. */
function callbackError(callback: Record<string, unknown>): RunError {
  const status = typeof callback.status === "number" ? callback.status : undefined;
  let text = "";
  try {
    text = lenient.decode(callbackBytes(callback.body));
  } catch {
    text = "";
  }
  let message = text || `The last attempt answered ${status ?? "nothing"}`;
  try {
    const answered = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof answered?.error?.message === "string") message = answered.error.message;
  } catch {
    // Not the route's JSON (a proxy's page, a timeout): the text itself.
  }
  return runErrorOf(message, status);
}

/**
 * A failure callback, QStash's last word on a message (signed and bound to this app like any delivery):
 * runs the job's onFailure with the original payload, validated again, and what failed. A job without a hook
 * (since removed, say) answers 200, so QStash does not retry the callback forever.
 */
async function runFailureHook(
  job: AnyJob,
  key: string,
  body: Uint8Array,
  ctx: JobContext,
  logger: Pick<Console, "error" | "warn">,
  record: (id: string, recordStart: boolean) => DeliveryRecorder | undefined,
): Promise<Response> {
  // QStash gave up on the message: its run ends failed (the first terminal write wins, so a late callback after a
  // success changes nothing). The run's id is the source message id inside the signed body, never a header.
  const recordFailed = async (callback: Record<string, unknown>) => {
    if (typeof callback.sourceMessageId !== "string") return;
    await record(callback.sourceMessageId, false)?.end({ kind: "failed", error: callbackError(callback) });
  };
  if (!job.onFailure) {
    const callback = parseCallback(body);
    if (callback) await recordFailed(callback);
    return Response.json({ ok: true, hook: "none" });
  }
  // Signed is not well-formed: anyone with the account's token can publish any body to the hook's URL. What
  // QStash would only retry (not JSON, not an object, fields that are not base64) is answered 489, never thrown.
  const callback = parseCallback(body);
  let source: Uint8Array;
  let answerBody: Uint8Array;
  try {
    if (!callback) throw new TypeError("not a JSON object");
    source = callbackBytes(callback.sourceBody);
    answerBody = callbackBytes(callback.body);
  } catch {
    return failure(
      NON_RETRYABLE_STATUS,
      "invalid_json",
      `The failure callback of job "${key}" is not a JSON object with base64 bodies`,
    );
  }
  const recorded = recordFailed(callback);
  let payload: unknown;
  let rawPayload: unknown;
  // Status 0: no attempt got an answer (the app was down, or a timeout), which "failed" would hide (issue 21).
  let reason: JobFailure["reason"] = callback.status === 0 ? "unreachable" : "failed";
  try {
    rawPayload = parseBody(source);
    payload = await validatePayload(key, job.schema, rawPayload);
  } catch {
    reason = "invalid_payload";
    rawPayload ??= lenient.decode(source);
  }
  const number = (value: unknown) => (typeof value === "number" ? value : 0);
  const info: JobFailure = {
    reason,
    status: number(callback.status),
    body: lenient.decode(answerBody),
    retried: number(callback.retried),
    maxRetries: number(callback.maxRetries),
    sourceMessageId: typeof callback.sourceMessageId === "string" ? callback.sourceMessageId : "",
    ...(typeof callback.dlqId === "string" ? { dlqId: callback.dlqId } : {}),
    ...(reason === "invalid_payload" ? { rawPayload } : {}),
  };
  try {
    await job.onFailure(reason === "invalid_payload" ? undefined : payload, info, ctx);
    await recorded;
    return ok();
  } catch (error) {
    await recorded;
    logger.error(
      `[qjobs] The onFailure hook of job "${key}" (${quoteForLog(info.sourceMessageId, 64)}) failed:`,
      error,
    );
    return failure(500, "job_failed", `The onFailure hook of job "${key}" failed; QStash will retry it`);
  }
}

/**
 * The run that replaced this delivery, when a later dispatch with the same debounce key did; undefined to run it
 * (its key's latest, a payload that fills no key, or a store that cannot say). The key fills from the signed body.
 */
async function debouncedBy(
  debounce: Debounce,
  store: RunStoreConfig,
  jobsUrl: URL,
  key: string,
  body: Uint8Array,
  ctx: JobContext,
): Promise<string | undefined> {
  let filled: string;
  try {
    filled = await fillDebounceKey(key, debounce, parseBody(body));
  } catch {
    return undefined;
  }
  return supersededBy(store, jobsUrl, key, filled, ctx.messageId);
}

/**
 * The jobs route: `POST(request)` for Next.js App Router and any fetch-style framework, also mounted as `GET`.
 * POST verifies QStash's signature over the raw body and that it was signed for this app's jobs URL,
 * loads only the delivered job's module, validates the payload, runs the handler, and answers the way
 * QStash expects: 200 done, 489 never retry, 500 retry, 401/404/405/413 refused. GET `?run=<id>` with a run's
 * token (`Authorization: Bearer`) answers that run to a browser (see `useRun`).
 */
export function createRouteHandler(jobs: JobLoaders, options: RouteOptions = {}): RouteHandler {
  const loadJob: JobLoader =
    typeof jobs === "function"
      ? jobs
      : (key) => (Object.hasOwn(jobs, key) ? (jobs[key] as () => Promise<AnyJob>)() : undefined);
  const logger = options.logger ?? console;
  const readEnv =
    typeof options.env === "function" ? options.env : () => (options.env as Env | undefined) ?? processEnv();
  const clockTolerance = options.clockTolerance ?? 5;
  let warnedDevKeys = false;

  // The configuration is read at each request (an env can change under tests and reloads), but only
  // parsed again when a variable it read did.
  let cached:
    | {
        read: ReturnType<typeof readThrough>;
        config: RouteConfig;
        maxBodyBytes: number;
        store: RunStoreConfig | undefined;
        local: boolean;
        tokenKeys: () => ReturnType<typeof readRunTokenKeys>;
      }
    | undefined;
  const reportStoreError = storeErrorLogger(logger);
  function configure(current: Env) {
    if (cached?.read.holdsFor(current)) return cached;
    const read = readThrough(current);
    const { env } = read;
    const config = readRouteConfig(env, { urls: options.urls, routePath: options.routePath });
    cached = {
      read,
      config,
      maxBodyBytes: options.maxBodyBytes ?? readMaxBodyBytes(env),
      store: readRunStoreConfig(env),
      local: isLocalUse(env, config.urls),
      tokenKeys: onceAsync(() => readRunTokenKeys(env, config.urls[0] as URL)),
    };
    return cached;
  }

  // Every answer says it came from the qjobs route, so qjobs dev can tell it from a page that answered in its
  // place (a jobs URL pointing at the app's home page answers 200 too): PRODUCT.md's `Qjobs-Route: 1`.
  return async function jobsRoute(request) {
    const response = await respond(request);
    response.headers.set("Qjobs-Route", "1");
    return response;
  };

  async function respond(request: Request): Promise<Response> {
    if (request.method !== "POST" && request.method !== "GET") {
      return failure(405, "method_not_allowed", "The jobs route accepts POST (deliveries) and GET (a run)", {
        headers: { Allow: "GET, POST" },
      });
    }

    let setup: ReturnType<typeof configure>;
    try {
      setup = configure(readEnv());
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      logger.error(`[qjobs] ${error.message}`);
      return failure(
        500,
        "configuration",
        "The jobs route is not configured to verify QStash deliveries; see the server log",
      );
    }
    if (request.method === "GET") {
      const answer = { jobsUrl: setup.config.urls[0] as URL, store: setup.store, logger, reportStoreError };
      return answerRun(request, { ...answer, tokenKeys: setup.tokenKeys }, options, failure);
    }
    if (setup.config.devKeysInProduction && !warnedDevKeys) {
      warnedDevKeys = true;
      logger.warn(
        "[qjobs] Accepting deliveries signed with the public development keys under NODE_ENV=production (local use only).",
      );
    }

    // Refuse the cheap cases before reading a byte of the body.
    const signature = request.headers.get("upstash-signature");
    if (!signature) return failure(401, "missing_signature", "The Upstash-Signature header is missing");
    const body = await readBody(request, setup.maxBodyBytes);
    if (!body) {
      return failure(
        413,
        "payload_too_large",
        `The body is larger than the route's limit of ${setup.maxBodyBytes} bytes`,
      );
    }

    const refuse = (why: string, code: RouteErrorCode = "invalid_signature") => {
      // Say it in the server log too: QStash's console only shows the status. Quoted: the text is the sender's.
      logger.warn(`[qjobs] Refused a delivery to ${quoteForLog(request.url)}: ${why}`);
      return failure(401, code, `Invalid signature: ${why}`);
    };
    let claims: SignatureClaims;
    try {
      claims = await verifySignature({ signature, body, keys: setup.config.keys, clockTolerance });
    } catch (error) {
      if (error instanceof SignatureError) return refuse(error.message);
      throw error;
    }
    const target = signedTarget(claims.sub, setup.config.urls);
    if (!target) return refuse(`it was signed for ${quoteForLog(claims.sub)}, which is not this app's jobs URL`);
    const params = requestedParams(request.url);
    const keys = params.getAll("job");
    if (keys.length > 1 || (keys[0] ?? null) !== target.key) return refuse("it was issued for another job");
    const hooks = params.getAll("hook");
    if (hooks.length > 1 || (hooks[0] ?? null) !== target.hook)
      return refuse("it was issued for another hook of the job");
    if (options.replayGuard) {
      if (typeof claims.jti !== "string" || !(await options.replayGuard.claim(claims.jti, claims.exp))) {
        return refuse("this signature was used before (a replayed delivery)", "replayed_signature");
      }
    }

    const key = target.key;
    let job: AnyJob | undefined;
    try {
      job = key === null ? undefined : await loadJob(key);
    } catch (error) {
      logger.error(`[qjobs] Could not load job ${quoteForLog(String(key))}:`, error);
      return failure(500, "job_load_failed", `Could not load job "${key}"`);
    }
    if (key === null || !job) {
      return failure(
        404,
        "unknown_job",
        key === null ? "No job key in the URL (?job=)" : `Unknown job ${quoteForLog(key)}`,
      );
    }
    if (job.key !== key) {
      logger.error(`[qjobs] The registry maps "${key}" to a job with key "${job.key}": run \`qjobs generate\`.`);
      return failure(500, "registry_stale", `The registry entry for "${key}" is stale`);
    }

    const ctx = contextOf(key, request.headers, claims);
    // Runs are recorded beside the delivery, bound to what was signed: the job key and the signature's id.
    const record = (id: string, recordStart = true): DeliveryRecorder | undefined => {
      if (!setup.store || typeof claims.jti !== "string" || !id) return undefined;
      const facts: DeliveryFacts = {
        id,
        key,
        jobsUrl: setup.config.urls[0] as URL,
        attempt: ctx.retried + 1,
        jti: claims.jti,
        exp: claims.exp,
      };
      return startRecording(setup.store, facts, reportStoreError, { recordStart });
    };
    if (target.hook === "failure") return runFailureHook(job, key, body, ctx, logger, record);
    if (target.hook !== null) return failure(404, "unknown_job", `Unknown hook ${quoteForLog(target.hook)}`);

    // A debounced dispatch runs only if it is its key's latest; schedule ticks and messages published around the
    // debounce carry no mark, and always run (issue 22).
    if (job.debounce && setup.store && ctx.headers.get(DEBOUNCE_HEADER) === "1") {
      const replacedBy = await debouncedBy(job.debounce, setup.store, setup.config.urls[0] as URL, key, body, ctx);
      if (replacedBy) {
        await record(ctx.messageId, false)?.end({ kind: "cancelled", reason: "debounced", replacedBy });
        return Response.json({ ok: true, debounced: true, replacedBy });
      }
    }

    const recorder = record(ctx.messageId);
    const answer = async (outcome: Parameters<DeliveryRecorder["end"]>[0], response: Response) => {
      await recorder?.end(outcome);
      return response;
    };
    let payload: unknown;
    try {
      payload = await validatePayload(key, job.schema, parseBody(body));
    } catch (error) {
      if (error instanceof InvalidPayloadError) {
        return answer(
          { kind: "failed", error: runErrorOf(error, NON_RETRYABLE_STATUS) },
          failure(NON_RETRYABLE_STATUS, "invalid_payload", error.message, { issues: error.issues }),
        );
      }
      const message = `The body of job "${key}" is not JSON`;
      return answer(
        { kind: "failed", error: { message, name: "SyntaxError", status: NON_RETRYABLE_STATUS } },
        failure(NON_RETRYABLE_STATUS, "invalid_json", message),
      );
    }

    try {
      const result = await job.handler(payload, { ...ctx, progress: recorder?.progress ?? noProgress });
      return answer({ kind: "succeeded", result }, ok());
    } catch (error) {
      if (error instanceof NonRetryableError) {
        logger.warn(`[qjobs] Job "${key}" (${quoteForLog(ctx.messageId, 64)}) failed for good: ${error.message}`);
        return answer(
          { kind: "failed", error: runErrorOf(error, NON_RETRYABLE_STATUS) },
          failure(NON_RETRYABLE_STATUS, "non_retryable", error.message),
        );
      }
      if (error instanceof RetryAfterError) {
        return answer(
          { kind: "retrying", error: runErrorOf(error, 500) },
          failure(500, "retry_after", error.message, { headers: { "Retry-After": String(error.seconds) } }),
        );
      }
      logger.error(
        `[qjobs] Job "${key}" (${quoteForLog(ctx.messageId, 64)}, attempt ${ctx.retried + 1}) failed:`,
        error,
      );
      const runError = runErrorOf(error, 500);
      // Locally, the answer carries the real error, so qjobs dev's terminal shows it even without a store.
      // Elsewhere it stays in the server log: an error message can hold what the caller must not see.
      const said = setup.local
        ? `Job "${key}" failed: ${runError.name ? `${runError.name}: ` : ""}${runError.message}`
        : `Job "${key}" failed on attempt ${ctx.retried + 1}; see the server log`;
      return answer({ kind: "retrying", error: runError }, failure(500, "job_failed", said));
    }
  }
}
