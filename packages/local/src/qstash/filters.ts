import { BadRequest, type Message } from "./message.js";

/**
 * The filters of QStash's list and bulk endpoints, with exactly the query keys `@upstash/qstash` 2.12.0 sends
 * for each (its `buildBulkActionFilterPayload`, `logs` and `dlq.listMessages`): most take several values,
 * matched with OR; separate filters combine with AND. Any other key is a 400, never "everything".
 */
export interface Filter {
  readonly messageIds?: ReadonlySet<string>;
  readonly dlqIds?: ReadonlySet<string>;
  readonly url?: ReadonlySet<string>;
  readonly topicName?: ReadonlySet<string>;
  readonly scheduleId?: ReadonlySet<string>;
  readonly queueName?: ReadonlySet<string>;
  readonly label?: ReadonlySet<string>;
  readonly flowControlKey?: ReadonlySet<string>;
  readonly callerIp?: ReadonlySet<string>;
  readonly host?: ReadonlySet<string>;
  readonly path?: ReadonlySet<string>;
  readonly state?: ReadonlySet<string>;
  readonly responseStatus?: ReadonlySet<string>;
  /** Unix milliseconds, inclusive. */
  readonly fromDate?: number;
  readonly toDate?: number;
}

/** What a filter is matched against: a message, a dead letter or a log entry. */
export interface Filterable {
  messageId: string;
  dlqId?: string;
  url: string;
  topicName?: string;
  scheduleId?: string;
  queueName?: string;
  labels: readonly string[];
  flowControlKey?: string;
  callerIp: string;
  state?: string;
  responseStatus?: number;
  /** Unix milliseconds: when it was created (a log entry: when it happened). */
  time: number;
}

export type Endpoint = "events" | "dlq" | "dlq-action" | "cancel";

const COMMON = [
  "fromDate",
  "toDate",
  "callerIp",
  "label",
  "flowControlKey",
  "url",
  "topicName",
  "scheduleId",
  "queueName",
];
const KEYS: Record<Endpoint, readonly string[]> = {
  // GET /v2/events (logs): host/path and state are log filters; messageId survives as a deprecated filter.
  events: [...COMMON, "host", "path", "state", "messageIds", "messageId", "count", "cursor"],
  // GET /v2/dlq: no host/path (QStash rejects them there).
  dlq: [...COMMON, "responseStatus", "messageId", "dlqIds", "count", "cursor"],
  // DELETE /v2/dlq, POST /v2/dlq/retry: `{ all: true }` sends only count and cursor.
  "dlq-action": [...COMMON, "responseStatus", "messageId", "dlqIds", "count", "cursor"],
  // DELETE /v2/messages: a bulk cancel cancels every match; count is ignored, as QStash ignores it.
  cancel: [...COMMON, "host", "path", "messageIds", "count"],
};
/** Keys that may come with any request and are not filters. */
const TRANSPORT = new Set(["qstash_token"]);
const SINGLE = new Set(["fromDate", "toDate", "count", "cursor", "messageId"]);

export interface ParsedQuery {
  readonly filter: Filter;
  /** Whether any filter was given at all (no filter means every item). */
  readonly filtered: boolean;
  readonly count?: number;
  readonly cursor?: string;
}

function time(name: string, value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new BadRequest(`invalid ${name}: "${value}" is not a unix time in milliseconds`);
  return parsed;
}

/** Reads an endpoint's query string into a filter; any key the endpoint does not take is a 400. */
export function parseQuery(query: URLSearchParams, endpoint: Endpoint, route: string): ParsedQuery {
  const allowed = KEYS[endpoint];
  const sets: Record<string, Set<string>> = {};
  let count: number | undefined;
  let cursor: string | undefined;
  let fromDate: number | undefined;
  let toDate: number | undefined;
  for (const name of new Set(query.keys())) {
    if (TRANSPORT.has(name)) continue;
    if (!allowed.includes(name)) {
      throw new BadRequest(`${route} takes no "${name}" filter (it takes: ${allowed.join(", ")})`);
    }
    const values = query.getAll(name).flatMap((value) => (name.endsWith("Ids") ? value.split(",") : [value]));
    if (SINGLE.has(name) && values.length > 1) throw new BadRequest(`${route}: "${name}" takes one value`);
    const [value = ""] = values;
    if (name === "count") {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new BadRequest(`invalid count: "${value}"`);
      count = Math.min(Number(value), 1000);
    } else if (name === "cursor") cursor = value;
    else if (name === "fromDate") fromDate = time(name, value);
    else if (name === "toDate") toDate = time(name, value);
    else {
      const target = name === "messageId" ? "messageIds" : name;
      const set = sets[target] ?? new Set<string>();
      sets[target] = set;
      for (const item of values) if (item !== "") set.add(item);
      if (set.size === 0) throw new BadRequest(`${route}: "${name}" is empty; an empty filter would match everything`);
    }
  }
  const filter: Filter = { ...sets, fromDate, toDate };
  const filtered = Object.keys(sets).length > 0 || fromDate !== undefined || toDate !== undefined;
  return { filter, filtered, count, cursor };
}

const within = (set: ReadonlySet<string> | undefined, value: string | undefined) =>
  set === undefined || (value !== undefined && set.has(value));

/** Whether an item matches every filter given (OR within one filter's values). */
export function matches(filter: Filter, item: Filterable): boolean {
  if (!within(filter.messageIds, item.messageId)) return false;
  if (!within(filter.dlqIds, item.dlqId)) return false;
  if (!within(filter.url, item.url)) return false;
  if (!within(filter.topicName, item.topicName)) return false;
  if (!within(filter.scheduleId, item.scheduleId)) return false;
  if (!within(filter.queueName, item.queueName)) return false;
  if (!within(filter.flowControlKey, item.flowControlKey)) return false;
  if (!within(filter.callerIp, item.callerIp)) return false;
  if (!within(filter.state, item.state)) return false;
  if (!within(filter.responseStatus, item.responseStatus === undefined ? undefined : String(item.responseStatus))) {
    return false;
  }
  if (filter.label && !item.labels.some((label) => filter.label?.has(label))) return false;
  if (filter.host || filter.path) {
    let url: URL | undefined;
    try {
      url = new URL(item.url);
    } catch {
      return false;
    }
    if (!within(filter.host, url.host) && !within(filter.host, url.hostname)) return false;
    if (!within(filter.path, url.pathname)) return false;
  }
  if (filter.fromDate !== undefined && item.time < filter.fromDate) return false;
  if (filter.toDate !== undefined && item.time > filter.toDate) return false;
  return true;
}

/** The fields filters look at, of a message. */
export function filterable(message: Message, extra: { time?: number; dlqId?: string } = {}): Filterable {
  return {
    messageId: message.messageId,
    dlqId: extra.dlqId,
    url: message.url,
    topicName: message.topicName,
    scheduleId: message.scheduleId,
    queueName: message.queueName,
    labels: message.labels,
    flowControlKey: message.flowControl?.key,
    callerIp: message.callerIp,
    time: extra.time ?? message.createdAt,
  };
}
