import { REPLAY_OF_FORWARD, REPLAY_OF_HEADER } from "../../local/src/dashboard/endpoints.js";

// Message views built from QStash's logs: QStash has no endpoint that lists messages, so a message is the
// story its log entries tell (newest first, as /v2/events returns them). Pure, so it is tested without a page.

/** A log entry as `GET /v2/events` returns it (headers are lists of values in QStash, strings in older servers). */
export interface LogEntry {
  time: number;
  state: string;
  messageId: string;
  url: string;
  header?: Record<string, string | string[]>;
  body?: string;
  nextDeliveryTime?: number;
  error?: string;
  responseStatus?: number;
  responseBody?: string;
  scheduleId?: string;
}

export const MESSAGE_STATES = ["delivered", "retrying", "failed", "dlq", "scheduled", "cancelled"] as const;
export type MessageState = (typeof MESSAGE_STATES)[number] | "active";

/** What a message's latest log entry says it is. */
export function stateOf(logState: string): MessageState {
  switch (logState) {
    case "DELIVERED":
      return "delivered";
    case "ERROR":
    case "RETRY":
      return "retrying";
    case "FAILED":
      return "failed";
    case "CANCELED":
    case "CANCELLED":
    case "CANCEL_REQUESTED":
      return "cancelled";
    case "ACTIVE":
    case "IN_PROGRESS":
      return "active";
    default:
      return "scheduled";
  }
}

/** The log state a filter pages through: every message has one CREATED entry, so "all" pages by it. */
export function pagingState(state: MessageState | undefined): string | undefined {
  return state === undefined || state === "scheduled"
    ? "CREATED"
    : { delivered: "DELIVERED", retrying: "RETRY", failed: "FAILED", cancelled: "CANCELED", active: "ACTIVE" }[
        state as Exclude<MessageState, "scheduled" | "dlq">
      ];
}

/**
 * Where the page looks for the app's jobs: its jobs URL, and with `anyLoopback` (qjobs dev) the keys it declares,
 * so a delivery to another loopback origin still counts for its job (issue 21: `.env.local` edited after qjobs dev
 * started, and the Jobs view said "0 delivered" for jobs that had just run).
 */
export interface JobRoute {
  readonly jobsUrl?: string;
  readonly anyLoopback?: boolean;
  readonly jobs?: readonly { readonly key: string }[];
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * The job (and hook) a delivery URL names: on the app's jobs route; elsewhere when its `?job=` is a declared key,
 * marked `elsewhere` with that URL. In qjobs dev any loopback URL counts as this app's (the page says it went
 * elsewhere than QJOBS_URL); in qjobs dashboard (a shared QStash: previews, other apps) another origin is `apart`:
 * shown under its key, never counted, never replayed.
 */
export function jobOf(
  url: string,
  route: JobRoute | undefined,
): { key: string; hook?: string; elsewhere?: string; apart?: true } | undefined {
  if (!route?.jobsUrl) return undefined;
  try {
    const target = new URL(url);
    const jobsUrl = new URL(route.jobsUrl);
    const key = target.searchParams.get("job");
    if (!key) return undefined;
    const hook = target.searchParams.get("hook");
    const job = hook ? { key, hook } : { key };
    if (target.origin === jobsUrl.origin && target.pathname === jobsUrl.pathname) return job;
    if (!route.jobs?.some((declared) => declared.key === key)) return undefined;
    const elsewhere = `${target.origin}${target.pathname}`;
    return route.anyLoopback && LOOPBACK.test(target.hostname)
      ? { ...job, elsewhere }
      : { ...job, elsewhere, apart: true };
  } catch {
    return undefined;
  }
}

export interface MessageSummary {
  messageId: string;
  url: string;
  state: MessageState;
  /** When its latest entry happened. */
  time: number;
  /** The status of its latest answer, if any. */
  status?: number;
}

/** One summary per message, from entries newest first: the first entry seen of a message is its latest. */
export function summarize(entries: readonly LogEntry[]): Map<string, MessageSummary> {
  const messages = new Map<string, MessageSummary>();
  for (const entry of entries) {
    const known = messages.get(entry.messageId);
    if (!known) {
      messages.set(entry.messageId, {
        messageId: entry.messageId,
        url: entry.url,
        state: stateOf(entry.state),
        time: entry.time,
        ...(entry.responseStatus ? { status: entry.responseStatus } : {}),
      });
    } else if (known.status === undefined && entry.responseStatus) known.status = entry.responseStatus;
  }
  return messages;
}

export interface Attempt {
  startedAt: number;
  /** Undefined while it runs. */
  endedAt?: number;
  status?: number;
  outcome: "delivered" | "error" | "failed" | "running";
  responseBody?: string;
  error?: string;
}

/**
 * Every delivery attempt of one message (its entries newest first, as /v2/events returns them): an ACTIVE entry
 * and the DELIVERED, ERROR or FAILED one after it.
 */
export function attemptsOf(entries: readonly LogEntry[]): Attempt[] {
  const attempts: Attempt[] = [];
  let running: Attempt | undefined;
  // Oldest first. Entries come newest first and several may share a millisecond: reversing keeps their order
  // where the (stable) sort by time cannot tell them apart.
  for (const entry of [...entries].reverse().sort((a, b) => a.time - b.time)) {
    if (entry.state === "ACTIVE" || entry.state === "IN_PROGRESS") {
      running = { startedAt: entry.time, outcome: "running" };
      attempts.push(running);
      continue;
    }
    const outcome = ({ DELIVERED: "delivered", ERROR: "error", FAILED: "failed" } as const)[
      entry.state as "DELIVERED" | "ERROR" | "FAILED"
    ];
    if (!outcome) continue;
    // A FAILED entry right after an ERROR one ends the same attempt (QStash logs both when retries run out).
    const attempt = running ?? (outcome === "failed" ? attempts[attempts.length - 1] : undefined);
    const ended: Attempt = {
      startedAt: attempt?.startedAt ?? entry.time,
      endedAt: entry.time,
      outcome,
      ...(entry.responseStatus ? { status: entry.responseStatus } : {}),
      ...(entry.responseBody !== undefined ? { responseBody: entry.responseBody } : {}),
      ...(entry.error ? { error: entry.error } : {}),
    };
    if (attempt) Object.assign(attempt, ended);
    else attempts.push(ended);
    running = undefined;
  }
  return attempts;
}

export type Outcome = "delivered" | "retrying" | "failed";
export type Counts = Record<Outcome, number>;

/** Per job: its messages by latest state, over the entries given (newest first). */
export function countsByJob(entries: readonly LogEntry[], route: JobRoute | undefined): Map<string, Counts> {
  const counts = new Map<string, Counts>();
  for (const message of summarize(entries).values()) {
    const job = jobOf(message.url, route);
    if (!job || job.hook || job.apart || !(message.state in { delivered: 1, retrying: 1, failed: 1 })) continue;
    const own = counts.get(job.key) ?? { delivered: 0, retrying: 0, failed: 0 };
    own[message.state as Outcome]++;
    counts.set(job.key, own);
  }
  return counts;
}

export interface Bucket {
  from: number;
  counts: Counts;
}

/** The URLs other than QJOBS_URL that messages of declared jobs went to (qjobs dev's loopback matching). */
export function elsewhereUrls(entries: readonly LogEntry[], route: JobRoute | undefined): string[] {
  const urls = new Set<string>();
  for (const entry of entries) {
    const job = jobOf(entry.url, route);
    if (job?.elsewhere && !job.apart) urls.add(job.elsewhere);
  }
  return [...urls].sort();
}

/** Per job: delivery outcomes (DELIVERED, ERROR, FAILED entries) in `buckets` equal slices of [from, to]. */
export function outcomesOverTime(
  entries: readonly LogEntry[],
  route: JobRoute | undefined,
  range: { from: number; to: number; buckets: number },
): Map<string, Bucket[]> {
  const width = Math.max(1, (range.to - range.from) / range.buckets);
  const byJob = new Map<string, Bucket[]>();
  for (const entry of entries) {
    const outcome = ({ DELIVERED: "delivered", ERROR: "retrying", FAILED: "failed" } as const)[
      entry.state as "DELIVERED" | "ERROR" | "FAILED"
    ];
    const job = outcome && jobOf(entry.url, route);
    if (!job || job.hook || job.apart || entry.time < range.from || entry.time > range.to) continue;
    let buckets = byJob.get(job.key);
    if (!buckets) {
      buckets = Array.from({ length: range.buckets }, (_, index) => ({
        from: range.from + index * width,
        counts: { delivered: 0, retrying: 0, failed: 0 },
      }));
      byJob.set(job.key, buckets);
    }
    const index = Math.min(range.buckets - 1, Math.floor((entry.time - range.from) / width));
    (buckets[index] as Bucket).counts[outcome]++;
  }
  return byJob;
}

/** A header's value whether QStash lists it (`["a"]`) or gives it as text. */
export const headerValue = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(", ") : value);

/**
 * An answer as a person reads it: the route's `{ "error": { "code", "message" } }` as `code: message`, a plain
 * `{ "error": "..." }` as its text, anything else as it is (issue 21: the page showed escaped raw JSON).
 */
export function answerText(body: string | undefined): string {
  if (!body) return "";
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } | string };
    if (typeof parsed.error === "string") return parsed.error;
    const { code, message } = parsed.error ?? {};
    if (typeof message === "string") return typeof code === "string" ? `${code}: ${message}` : message;
  } catch {
    // not JSON: the text itself
  }
  return body;
}

/** A payload in one short line, for a table (the whole of it is on the message's page). */
export function payloadPreview(body: string | undefined, max = 80): string {
  if (!body) return "";
  let text = body;
  try {
    text = JSON.stringify(JSON.parse(body));
  } catch {
    // not JSON: the text itself
  }
  text = text.replace(/\s+/g, " ");
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A body shown as pretty JSON when it is JSON, else as it is. */
export function prettyBody(body: string | undefined): string {
  if (body === undefined || body === "") return "";
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The message a CREATED entry says it replays (QStash lists the header forwarded, older servers as sent). */
export function replayOf(created: LogEntry | undefined): string | undefined {
  for (const [name, value] of Object.entries(created?.header ?? {})) {
    const lower = name.toLowerCase();
    if (lower === REPLAY_OF_HEADER || lower === REPLAY_OF_FORWARD) return headerValue(value)?.trim() || undefined;
  }
  return undefined;
}

/** The replays of `messageId` among CREATED entries (newest first), oldest first as they were made. */
export function replaysOf(messageId: string, entries: readonly LogEntry[]): string[] {
  const replays = entries.filter((entry) => entry.state === "CREATED" && replayOf(entry) === messageId);
  return [...new Set(replays.reverse().map((entry) => entry.messageId))];
}
