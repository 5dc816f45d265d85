import { NonRetryableError } from "../errors.js";

/**
 * The run model, pure: what a run is, where its fields live in the store, and how a reader folds them into a
 * state. No I/O here.
 *
 * One Redis hash per run, found by its id (QStash's message id). Each writer sets only its own fields, terminal
 * ones with HSETNX, and never reads first (no EVAL either): the dispatcher and the route's start create the run
 * with create-only fields; a delivery's start, a failed attempt, progress and the end each have a field of their
 * own. Fields a delivery writes are named after the job key it was signed for (`end:<key>`), and the fold reads
 * only the ones of the run's stored key: a write for another job is inert, so writes bind to what was signed
 * without reading the run first.
 */

export type RunStatus = "queued" | "running" | "retrying" | "succeeded" | "failed" | "cancelled";

/** The statuses a run ends in: after one of them, nothing changes it. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ["succeeded", "failed", "cancelled"];

export const RUN_STATUSES: readonly RunStatus[] = ["queued", "running", "retrying", ...TERMINAL_STATUSES];

/** What went wrong: the thrown error's name and message, or what QStash saw. Never a stack. */
export interface RunError {
  message: string;
  name?: string;
  /** The HTTP status of the failed attempt, when known. */
  status?: number;
  /**
   * The message may be shown to the user: the error was a `NonRetryableError` or set `expose = true`. Any other
   * error reaches a browser only as "The job failed" (its message can hold what the user must not see).
   */
  expose?: true;
}

/** A run: one dispatch followed from `queued` to its end. Times are ISO strings. */
export interface Run<TResult = unknown> {
  /** QStash's message id. */
  id: string;
  key: string;
  status: RunStatus;
  /** The attempt running or last run: 1 for the first, 0 before any. */
  attempt: number;
  result?: TResult;
  /** Set when the handler's result could not be kept (over the cap, or not JSON). */
  resultError?: string;
  error?: RunError;
  progress?: unknown;
  /** Where the answer came from: the run store, or QStash's logs when there is no store. */
  source: "store" | "qstash";
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  /** A cancel was asked for while an attempt was running; that attempt's end closes the run as cancelled. */
  cancelRequested?: boolean;
  /** The run this one retries (a retry from the dead-letter queue gets a new id). */
  retryOf?: string;
  /** The run that retried this one. */
  retriedAs?: string;
  /** Why a cancelled run never ran: `"debounced"`, replaced by a later dispatch with its debounce key. */
  reason?: "debounced";
  /** With reason `"debounced"`: the run that replaced it. */
  replacedBy?: string;
}

/** The largest result kept, in bytes of JSON; a larger one ends the run `succeeded` with `resultError`. */
export const MAX_RESULT_BYTES = 256 * 1024;
/** The largest progress value kept, in bytes of JSON; a larger one is not recorded. */
export const MAX_PROGRESS_BYTES = 16 * 1024;
/** The longest error message kept, in characters. */
export const MAX_ERROR_CHARS = 4 * 1024;

/** The store keys, all under one prefix. `app` is `appHash(...)` of the jobs URL. */
export const runKeys = {
  run: (id: string) => `qjobs:run:${id}`,
  /** Every run of an app, scored by creation time (ms). */
  list: (app: string) => `qjobs:runs:${app}`,
  /** The runs of one job of an app. */
  jobList: (app: string, key: string) => `qjobs:runs:${app}:job:${key}`,
  /** A signature id seen by the route: a delivery whose id was seen before records nothing. */
  // Not `qjobs:jti:`: a replay guard on the same database (the README's example) claims that key before the handler.
  signature: (jti: string) => `qjobs:run-signature:${jti}`,
};

/** The fields of a run's hash. The per-delivery ones carry the signed job key in their name. */
export const runFields = {
  // Create-only (HSETNX): whoever sees the run first writes them.
  key: "key",
  app: "app",
  createdAt: "createdAt",
  /** `{ attempt, at }`: the latest attempt that started. */
  start: (key: string) => `start:${key}`,
  /** `{ attempt, at, error }`: the latest attempt that failed and will be retried. */
  fail: (key: string) => `fail:${key}`,
  /** `{ value, at }`: the latest progress. */
  progress: (key: string) => `progress:${key}`,
  /** `{ status, at, result?, resultError?, error? }`, HSETNX: the first terminal write wins. */
  end: (key: string) => `end:${key}`,
  cancelRequested: "cancelRequested",
  retryOf: "retryOf",
  retriedAs: "retriedAs",
} as const;

interface StartField {
  attempt: number;
  at: number;
}
interface FailField extends StartField {
  error: RunError;
}
interface EndField {
  status: "succeeded" | "failed" | "cancelled";
  at: number;
  result?: unknown;
  resultError?: string;
  error?: RunError;
  reason?: "debounced";
  replacedBy?: string;
}

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A run's state from its stored fields, or undefined when there is no run (or it lacks its create-only
 * fields). Pure: the same fields always fold to the same run, and a later write can only move it forward.
 */
export function foldRun(id: string, fields: Readonly<Record<string, string>> | null | undefined): Run | undefined {
  if (!fields) return undefined;
  const key = fields[runFields.key];
  const createdAt = Number(fields[runFields.createdAt]);
  if (!key || !Number.isFinite(createdAt)) return undefined;
  const start = parse<StartField>(fields[runFields.start(key)]);
  const fail = parse<FailField>(fields[runFields.fail(key)]);
  const progress = parse<{ value: unknown; at: number }>(fields[runFields.progress(key)]);
  const end = parse<EndField>(fields[runFields.end(key)]);
  const cancelAt = Number(fields[runFields.cancelRequested]) || undefined;

  const attempt = Math.max(start?.attempt ?? 0, fail?.attempt ?? 0);
  // A failed attempt counts until a later one starts; a cancel asked for during an attempt closes the run when
  // that attempt ends without success.
  const failedLast = fail !== undefined && fail.attempt >= (start?.attempt ?? 0);
  let status: RunStatus;
  if (end) status = end.status;
  else if (failedLast) status = cancelAt !== undefined ? "cancelled" : "retrying";
  else if (start) status = "running";
  else status = cancelAt !== undefined ? "cancelled" : "queued";

  const times = [createdAt, start?.at, fail?.at, progress?.at, end?.at, cancelAt].filter(
    (time): time is number => typeof time === "number" && Number.isFinite(time),
  );
  const finishedAt = end?.at ?? (status === "cancelled" ? Math.max(cancelAt ?? 0, fail?.at ?? 0) : undefined);
  const error = end ? end.error : failedLast ? fail?.error : undefined;
  return {
    id,
    key,
    status,
    attempt,
    ...(end && "result" in end ? { result: end.result } : {}),
    ...(end?.resultError ? { resultError: end.resultError } : {}),
    ...(error ? { error } : {}),
    ...(progress && "value" in progress ? { progress: progress.value } : {}),
    source: "store",
    createdAt: iso(createdAt),
    ...(start ? { startedAt: iso(start.at) } : {}),
    ...(finishedAt !== undefined ? { finishedAt: iso(finishedAt) } : {}),
    updatedAt: iso(Math.max(...times)),
    ...(cancelAt !== undefined && status !== "cancelled" && !end ? { cancelRequested: true } : {}),
    ...(fields[runFields.retryOf] ? { retryOf: fields[runFields.retryOf] } : {}),
    ...(fields[runFields.retriedAs] ? { retriedAs: fields[runFields.retriedAs] } : {}),
    ...(end?.reason === "debounced" && typeof end.replacedBy === "string"
      ? { reason: end.reason, replacedBy: end.replacedBy }
      : {}),
  };
}

/** Whether a run has ended: nothing will change it any more. */
export function isRunEnded(run: Pick<Run, "status">): boolean {
  return TERMINAL_STATUSES.includes(run.status);
}

/** A thrown value as a run's error: name and message, cut at 4 KiB; never a stack. */
export function runErrorOf(thrown: unknown, status?: number): RunError {
  const name = thrown instanceof Error ? thrown.name : undefined;
  const text = thrown instanceof Error ? thrown.message : typeof thrown === "string" ? thrown : String(thrown);
  const message = text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
  const expose = thrown instanceof NonRetryableError || (thrown as { expose?: unknown } | null)?.expose === true;
  return {
    message,
    ...(name ? { name } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(expose ? { expose: true as const } : {}),
  };
}

const encoder = new TextEncoder();

/** A value as JSON under a cap in bytes, or why it cannot be kept. */
export function jsonUnder(value: unknown, maxBytes: number): { json: string } | { reason: string } {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    return { reason: `not JSON: ${(error as Error).message}` };
  }
  if (json === undefined) return { json: "null" };
  // A UTF-16 unit is at most three UTF-8 bytes: encode only when the length says it may matter.
  if (json.length * 3 > maxBytes) {
    const size = encoder.encode(json).byteLength;
    if (size > maxBytes) return { reason: `${size} bytes of JSON, over the cap of ${maxBytes}` };
  }
  return { json };
}
