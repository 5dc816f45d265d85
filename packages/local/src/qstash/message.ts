import { createHash, randomBytes } from "node:crypto";
import { parseDuration } from "../time.js";
import { parseRetryDelay, type RetryDelay } from "./retry-delay.js";

/** A publish QStash would refuse: answered 400 with its JSON body. */
export class BadRequest extends Error {}

/** A message's state while the engine holds it (a cancelled one is dropped at once; one in flight ends its attempt). */
export type MessageState = "CREATED" | "ACTIVE" | "RETRY" | "DELIVERED" | "FAILED";

export interface FlowControl {
  key: string;
  parallelism?: number;
  rate?: number;
  periodMs: number;
}

export interface Redact {
  body: boolean;
  /** Every header, or these (lower-case) names. */
  headers: true | string[];
}

/** Where and how a callback (or failure callback) is published. */
export interface CallbackConfig {
  url: string;
  method: string;
  retries?: number;
  timeoutMs?: number;
  delayMs?: number;
  retryDelay?: string;
  headers: Record<string, string>;
}

/** What a publish asks for: everything QStash reads from the Upstash-* headers. */
export interface MessageSpec {
  url: string;
  method: string;
  /** Headers delivered to the destination (Upstash-Forward-* with the prefix stripped, Content-Type). */
  headers: Record<string, string>;
  body: Buffer;
  delayMs: number;
  notBefore?: number;
  maxRetries: number;
  retryDelay?: string;
  timeoutMs?: number;
  callback?: CallbackConfig;
  failureCallback?: CallbackConfig;
  deduplicationId?: string;
  flowControl?: FlowControl;
  /** `Upstash-Label: a,b` is two labels; the first is "the" label. */
  labels: string[];
  /** What the logs and views show as REDACTED (`Upstash-Redact-Fields`); deliveries carry the real values. */
  redact?: Redact;
  queueName?: string;
  /** Set on messages published to a URL group: the group, and the endpoint's name if it has one. */
  topicName?: string;
  endpointName?: string;
  /** Set on messages a schedule produced. */
  scheduleId?: string;
  /** Set on callback messages: the message whose outcome they carry. */
  sourceMessageId?: string;
  callerIp: string;
}

export interface Message extends MessageSpec {
  readonly messageId: string;
  readonly createdAt: number;
  readonly retryDelayFn?: RetryDelay;
  state: MessageState;
  /** Failed attempts so far: the next attempt's `Upstash-Retried`. */
  retried: number;
  /** When the next attempt may start (ms). */
  dueAt: number;
  /** Cancelled while an attempt was in flight: when it ends, nothing follows. */
  cancelled?: true;
}

const DEFAULT_RETRIES = 3;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(14).toString("base64url").replace(/[-_]/g, "x")}`;
}

/** A destination must be an absolute http(s) URL; QStash's messages for anything else. */
function checkDestination(destination: string): string {
  if (!/^https?:\/\//i.test(destination)) {
    throw new BadRequest(
      destination === ""
        ? "invalid destination url: empty"
        : `invalid destination url: endpoint has invalid scheme, add http:// or https://`,
    );
  }
  try {
    new URL(destination);
    return destination;
  } catch {
    throw new BadRequest(`invalid destination url: ${destination}`);
  }
}

function integer(headers: Record<string, string>, name: string, min: number): number | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min)
    throw new BadRequest(`invalid ${name} header: "${value}" is not a whole number >= ${min}`);
  return Number(value);
}

function duration(headers: Record<string, string>, name: string): number | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new BadRequest(`invalid ${name} header: "${value}" is not a duration like 10s, 5m, 2h or 1d`);
  return ms;
}

function method(headers: Record<string, string>, name: string): string {
  const value = (headers[name] ?? "POST").toUpperCase();
  if (!METHODS.has(value))
    throw new BadRequest(`invalid ${name} header: "${headers[name]}" (use GET, POST, PUT, PATCH or DELETE)`);
  return value;
}

function retryDelay(headers: Record<string, string>, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  try {
    parseRetryDelay(value);
  } catch (error) {
    throw new BadRequest(`invalid ${name} header: ${(error as Error).message}`);
  }
  return value;
}

function forwarded(headers: Record<string, string>, prefix: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (name.startsWith(prefix)) result[name.slice(prefix.length)] = value;
  return result;
}

function callbackConfig(
  headers: Record<string, string>,
  kind: "callback" | "failure-callback",
): CallbackConfig | undefined {
  const url = headers[`upstash-${kind}`];
  if (url === undefined) return undefined;
  if (!/^https?:\/\//i.test(url))
    throw new BadRequest(`invalid upstash-${kind} header: the url must start with http:// or https://`);
  const prefix = `upstash-${kind}-`;
  return {
    url,
    method: method(headers, `${prefix}method`),
    retries: integer(headers, `${prefix}retries`, 0),
    timeoutMs: duration(headers, `${prefix}timeout`),
    delayMs: duration(headers, `${prefix}delay`),
    retryDelay: retryDelay(headers, `${prefix}retry-delay`),
    headers: forwarded(headers, `${prefix}forward-`),
  };
}

function flowControl(headers: Record<string, string>): FlowControl | undefined {
  const key = headers["upstash-flow-control-key"];
  if (key === undefined) return undefined;
  const control: FlowControl = { key, periodMs: 1000 };
  for (const pair of (headers["upstash-flow-control-value"] ?? "").split(",")) {
    const [name, value] = pair.split("=").map((part) => part.trim()) as [string, string | undefined];
    if (!name) continue;
    if (name === "parallelism" && /^\d+$/.test(value ?? "") && Number(value) > 0) control.parallelism = Number(value);
    else if ((name === "rate" || name === "ratePerSecond") && /^\d+$/.test(value ?? "") && Number(value) > 0)
      control.rate = Number(value);
    else if (name === "period" && value && parseDuration(value)) control.periodMs = parseDuration(value) as number;
    else throw new BadRequest(`invalid upstash-flow-control-value header: "${pair.trim()}"`);
  }
  if (control.parallelism === undefined && control.rate === undefined) {
    throw new BadRequest("invalid upstash-flow-control-value header: set parallelism=N and/or rate=N");
  }
  return control;
}

/**
 * Reads a publish request's headers (lower-case names, as Node gives them) into a message spec,
 * with QStash's 400s for bad values.
 */
export function parsePublish(
  destination: string,
  headers: Record<string, string>,
  body: Buffer,
  callerIp: string,
): MessageSpec {
  const url = checkDestination(destination);
  const delivered: Record<string, string> =
    headers["upstash-header-forward"] === "true"
      ? Object.fromEntries(
          Object.entries(headers).filter(
            ([name]) =>
              !name.startsWith("upstash-") && !["authorization", "host", "content-length", "connection"].includes(name),
          ),
        )
      : {};
  if (headers["content-type"]) delivered["content-type"] = headers["content-type"];
  Object.assign(delivered, forwarded(headers, "upstash-forward-"));
  const notBefore = integer(headers, "upstash-not-before", 0);
  return {
    url,
    method: method(headers, "upstash-method"),
    headers: delivered,
    body,
    delayMs: duration(headers, "upstash-delay") ?? 0,
    notBefore: notBefore === undefined ? undefined : notBefore * 1000,
    maxRetries: integer(headers, "upstash-retries", 0) ?? DEFAULT_RETRIES,
    retryDelay: retryDelay(headers, "upstash-retry-delay"),
    timeoutMs: duration(headers, "upstash-timeout"),
    callback: callbackConfig(headers, "callback"),
    failureCallback: callbackConfig(headers, "failure-callback"),
    deduplicationId:
      headers["upstash-deduplication-id"] ??
      (headers["upstash-content-based-deduplication"] === "true" ? contentId(url, body, delivered) : undefined),
    flowControl: flowControl(headers),
    labels: (headers["upstash-label"] ?? "")
      .split(",")
      .map((label) => label.trim())
      .filter(Boolean),
    redact: redact(headers["upstash-redact-fields"]),
    queueName: headers["upstash-queue-name"],
    callerIp,
  };
}

/** What a retry cannot change: where and what it delivers, and where the message came from. */
type KeptOnRetry =
  | "url"
  | "headers"
  | "body"
  | "topicName"
  | "endpointName"
  | "scheduleId"
  | "sourceMessageId"
  | "callerIp";

/**
 * The configuration header that sets each other setting of a message (a new setting fails to compile until it is
 * here). Content-based deduplication is left out: it would hash the dead letter's body and destination.
 */
const SET_BY: Record<Exclude<keyof MessageSpec, KeptOnRetry>, string> = {
  method: "upstash-method",
  delayMs: "upstash-delay",
  notBefore: "upstash-not-before",
  maxRetries: "upstash-retries",
  retryDelay: "upstash-retry-delay",
  timeoutMs: "upstash-timeout",
  callback: "upstash-callback",
  failureCallback: "upstash-failure-callback",
  deduplicationId: "upstash-deduplication-id",
  flowControl: "upstash-flow-control-key",
  labels: "upstash-label",
  redact: "upstash-redact-fields",
  queueName: "upstash-queue-name",
};

/**
 * What a dead letter's retry changes: QStash takes "all configuration headers" with it, over the dead letter's
 * own (docs, "Retry a DLQ message": `Upstash-Retries: 0` is its example). `Upstash-Forward-*` adds to the
 * delivered headers or replaces one (the docs do not say; qjobs sends none with a retry). Checked as a publish
 * is, with its 400s.
 */
export function retryOverrides(headers: Record<string, string>): Partial<MessageSpec> {
  const spec = parsePublish("http://retry.invalid/", headers, Buffer.alloc(0), "");
  const overrides: Partial<MessageSpec> = {};
  for (const [field, header] of Object.entries(SET_BY))
    if (headers[header] !== undefined) Object.assign(overrides, { [field]: spec[field as keyof MessageSpec] });
  const delivered = forwarded(headers, "upstash-forward-");
  if (Object.keys(delivered).length > 0) overrides.headers = delivered;
  return overrides;
}

/** `Upstash-Redact-Fields: body,header[Authorization]`, or `header` for every header. */
function redact(value: string | undefined): Redact | undefined {
  if (!value) return undefined;
  const result: Redact = { body: false, headers: [] };
  for (const part of value.split(",").map((field) => field.trim())) {
    if (part === "body") result.body = true;
    else if (part === "header") result.headers = true;
    else {
      const match = /^header\[(.+)\]$/.exec(part);
      if (!match)
        throw new BadRequest(`invalid upstash-redact-fields header: "${part}" (use body, header or header[Name])`);
      if (result.headers !== true) result.headers.push((match[1] as string).toLowerCase());
    }
  }
  return result;
}

/** Content-based deduplication: the destination, the body and the delivered headers. */
function contentId(url: string, body: Buffer, headers: Record<string, string>): string {
  const hash = createHash("sha256").update(url).update("\0").update(body);
  for (const name of Object.keys(headers).sort()) hash.update(`\0${name}:${headers[name]}`);
  return `content:${hash.digest("base64url")}`;
}
