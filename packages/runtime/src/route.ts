import { type Env, processEnv, readSigningKeys, type SigningKeys } from "./env.js";
import { ConfigurationError, InvalidPayloadError, NonRetryableError, type PayloadIssue, RetryAfterError } from "./errors.js";
import { validatePayload } from "./schema.js";
import type { AnyJob, JobContext, JobLoader, JobLoaders } from "./types.js";
import { SignatureError, verifySignature } from "./verify.js";

export interface RouteOptions {
  /** Where to read the signing keys; defaults to `process.env` at each request. */
  env?: Env | (() => Env);
  /** Seconds of clock skew tolerated on a signature's expiry. Default 5. */
  clockTolerance?: number;
  /** Where failures are logged; defaults to `console`. */
  logger?: Pick<Console, "error" | "warn">;
}

export type RouteHandler = (request: Request) => Promise<Response>;

const NON_RETRYABLE_STATUS = 489;

function failure(status: number, code: string, message: string, extra?: { issues?: readonly PayloadIssue[]; headers?: HeadersInit }): Response {
  const headers = new Headers(extra?.headers);
  if (status === NON_RETRYABLE_STATUS) headers.set("Upstash-NonRetryable-Error", "true");
  const error = extra?.issues ? { code, message, issues: extra.issues } : { code, message };
  return Response.json({ error }, { status, headers });
}

/** The job key a URL names in its `?job=` parameter, or null. */
function jobKeyOf(url: string): string | null {
  try {
    return new URL(url).searchParams.get("job");
  } catch {
    return null;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseBody(body: Uint8Array): unknown {
  if (body.length === 0) return undefined;
  return JSON.parse(utf8.decode(body));
}

const OK_BODY = '{"ok":true}';

function contextOf(key: string, headers: Headers): JobContext {
  const scheduleId = headers.get("upstash-schedule-id");
  return {
    key,
    messageId: headers.get("upstash-message-id") ?? "",
    retried: Number(headers.get("upstash-retried") ?? 0) || 0,
    ...(scheduleId ? { scheduleId } : {}),
    headers,
  };
}

/**
 * The jobs route: `POST(request)` for Next.js App Router and any fetch-style framework.
 * It verifies QStash's signature over the raw body, loads only the delivered job's module,
 * validates the payload, runs the handler, and answers the way QStash expects:
 * 200 done, 489 never retry, 500 retry, 401/404/405 refused.
 */
export function createRouteHandler(jobs: JobLoaders, options: RouteOptions = {}): RouteHandler {
  const loadJob: JobLoader =
    typeof jobs === "function" ? jobs : (key) => (Object.hasOwn(jobs, key) ? (jobs[key] as () => Promise<AnyJob>)() : undefined);
  const logger = options.logger ?? console;
  const readEnv = typeof options.env === "function" ? options.env : () => (options.env as Env | undefined) ?? processEnv();
  const clockTolerance = options.clockTolerance ?? 5;

  return async function POST(request) {
    if (request.method !== "POST") {
      return failure(405, "method_not_allowed", "The jobs route only accepts POST", { headers: { Allow: "POST" } });
    }

    let keys: SigningKeys;
    try {
      keys = readSigningKeys(readEnv());
    } catch (error) {
      if (!(error instanceof ConfigurationError)) throw error;
      logger.error(`[qjobs] ${error.message}`);
      return failure(500, error.code, "The jobs route is not configured to verify QStash signatures; see the server log");
    }

    const signature = request.headers.get("upstash-signature");
    if (!signature) return failure(401, "missing_signature", "The Upstash-Signature header is missing");

    const body = new Uint8Array(await request.arrayBuffer());
    let signedUrl: string;
    try {
      ({ sub: signedUrl } = await verifySignature({ signature, body, keys, clockTolerance }));
    } catch (error) {
      if (error instanceof SignatureError) {
        // Say it in the server log too: a key mismatch is the usual cause, and QStash only shows a 401.
        logger.warn(`[qjobs] Refused a delivery to ${request.url}: ${error.message}`);
        return failure(401, error.code, `Invalid signature: ${error.message}`);
      }
      throw error;
    }

    const key = jobKeyOf(request.url);
    // The signature covers the URL QStash was asked to call; its job key must be this one.
    if (jobKeyOf(signedUrl) !== key) {
      logger.warn(`[qjobs] Refused a delivery to ${request.url}: it was signed for ${signedUrl}`);
      return failure(401, "invalid_signature", "Invalid signature: it was issued for another job");
    }
    let job: AnyJob | undefined;
    try {
      job = key === null ? undefined : await loadJob(key);
    } catch (error) {
      logger.error(`[qjobs] Could not load job "${key}":`, error);
      return failure(500, "job_load_failed", `Could not load job "${key}"`);
    }
    if (key === null || !job) {
      return failure(404, "unknown_job", key === null ? "No job key in the URL (?job=)" : `Unknown job "${key}"`);
    }
    if (job.key !== key) {
      logger.error(`[qjobs] The registry maps "${key}" to a job with key "${job.key}": run \`qjobs generate\`.`);
      return failure(500, "registry_stale", `The registry entry for "${key}" is stale`);
    }

    let payload: unknown;
    try {
      payload = await validatePayload(key, job.schema, parseBody(body));
    } catch (error) {
      if (error instanceof InvalidPayloadError) {
        return failure(NON_RETRYABLE_STATUS, error.code, error.message, { issues: error.issues });
      }
      return failure(NON_RETRYABLE_STATUS, "invalid_json", `The body of job "${key}" is not JSON`);
    }

    const ctx = contextOf(key, request.headers);
    try {
      await job.handler(payload, ctx);
      return new Response(OK_BODY, { status: 200, headers: { "Content-Type": "application/json" } });
    } catch (error) {
      if (error instanceof NonRetryableError) {
        logger.warn(`[qjobs] Job "${key}" (${ctx.messageId}) failed for good: ${error.message}`);
        return failure(NON_RETRYABLE_STATUS, error.code, error.message);
      }
      if (error instanceof RetryAfterError) {
        return failure(500, error.code, error.message, { headers: { "Retry-After": String(error.seconds) } });
      }
      logger.error(`[qjobs] Job "${key}" (${ctx.messageId}, attempt ${ctx.retried + 1}) failed:`, error);
      return failure(500, "job_failed", `Job "${key}" failed; QStash will retry it`);
    }
  };
}
