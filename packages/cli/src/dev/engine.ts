import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { signDelivery } from "@qjobs/runtime/testing";
import { type Cron, parseCron } from "../cron.js";
import { DEFAULT_MAX_DLQ, DEFAULT_MAX_DLQ_BYTES, DEFAULT_MAX_MESSAGES } from "./defaults.js";
import type { Deliver, DeliveryResponse } from "./deliver.js";
import { type Filter, type Filterable, matches } from "./filters.js";
import { BadRequest, type CallbackConfig, type Message, type MessageSpec, newId } from "./message.js";
import { parseRetryDelay } from "./retry-delay.js";
import { type JournalRecord, memoryStore, type Store } from "./store.js";
import { type Clock, parseRetryAfter } from "./time.js";

/** A log entry (`GET /v2/events`), with what QStash's logs carry. */
export interface LogEvent {
  /** Orders entries for paging: later entries have larger numbers. */
  seq: number;
  time: number;
  state: "CREATED" | "ACTIVE" | "DELIVERED" | "ERROR" | "RETRY" | "FAILED" | "CANCELED";
  messageId: string;
  url: string;
  method?: string;
  header?: Record<string, string>;
  body?: string;
  labels: string[];
  topicName?: string;
  endpointName?: string;
  queueName?: string;
  scheduleId?: string;
  flowControlKey?: string;
  callerIp: string;
  nextDeliveryTime?: number;
  error?: string;
  responseStatus?: number;
  responseHeader?: Record<string, string>;
  responseBody?: string;
}

export interface DlqEntry {
  dlqId: string;
  seq: number;
  message: Message;
  response: DeliveryResponse;
  failedAt: number;
}

export interface Schedule {
  scheduleId: string;
  cron: Cron;
  spec: MessageSpec;
  createdAt: number;
  isPaused: boolean;
  lastScheduleTime?: number;
  nextScheduleTime?: number;
  cancelTimer?: () => void;
}

export interface Queue {
  name: string;
  parallelism: number;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface UrlGroup {
  name: string;
  createdAt: number;
  updatedAt: number;
  endpoints: { name?: string; url: string }[];
}

/** A flow-control key's state: what the API can pause or pin, and what deliveries use right now. */
export interface FlowState {
  key: string;
  paused: boolean;
  /** A pinned configuration overrides the one messages bring. */
  pinned?: { parallelism?: number; rate?: number; periodMs?: number };
  /** The configuration of the latest message with this key. */
  config: { parallelism?: number; rate?: number; periodMs: number };
  active: number;
  /** Start times of deliveries in the current rate period. */
  starts: number[];
  periodStart: number;
}

/** What the server prints for each attempt. */
export interface AttemptReport {
  message: Message;
  attempt: number;
  response: DeliveryResponse;
  outcome: "delivered" | "retry" | "failed";
  retryInMs?: number;
}

export interface EngineOptions {
  clock: Clock;
  deliver: Deliver;
  /** QStash's default backoff (e^(2.5n) seconds) is multiplied by this; delays and Retry-After are exact. */
  retryScale: number;
  signingKey?: string;
  onAttempt?: (report: AttemptReport) => void;
  /** At most this many deliveries at once, over all messages (QStash's global parallelism). Default 100. */
  concurrency?: number;
  /** The dead-letter queue keeps at most this many entries and body bytes; the oldest go first. */
  maxDlq?: number;
  maxDlqBytes?: number;
  /** At most this many messages are waiting or in flight; a publish beyond it is refused (429). */
  maxMessages?: number;
  /** Where state is kept across restarts; in memory only by default. */
  store?: Store;
  /** The records a store held at start: the engine resumes from them. */
  restore?: readonly JournalRecord[];
}

/** One page of a newest-first list, and the cursor of the next page when there is one. */
export interface Page<T> {
  items: T[];
  cursor?: string;
}

const DEDUP_WINDOW_MS = 10 * 60_000;
const MAX_EVENTS = 10_000;
/** A body in the event log is cut to this many bytes (the DLQ keeps a response's whole, up to 1 MiB). */
const MAX_EVENT_BODY = 4096;
const MAX_BACKOFF_MS = 86_400_000;
/** How long an attempt may take when the message sets no Upstash-Timeout: QStash's free-plan maximum. */
const DEFAULT_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_PAGE = 100;

const textOf = (body: Buffer) => body.subarray(0, MAX_EVENT_BODY).toString("utf8");
const headerRecord = (headers: Record<string, string>) => ({ ...headers });

/** A message as it was published, in the journal: the body as base64, no parsed retry-delay function. */
function serializeMessage(message: Message) {
  const { retryDelayFn: _, body, ...rest } = message;
  return { ...rest, body: body.toString("base64") };
}

function restoreMessage(stored: Record<string, unknown>): Message {
  const message = { ...(stored as unknown as Message), body: Buffer.from(String(stored.body ?? ""), "base64") };
  return { ...message, retryDelayFn: message.retryDelay ? parseRetryDelay(message.retryDelay) : undefined };
}

function serializeResponse(response: DeliveryResponse) {
  return { ...response, body: response.body.toString("base64") };
}

function restoreResponse(stored: Record<string, unknown>): DeliveryResponse {
  return { ...(stored as unknown as DeliveryResponse), body: Buffer.from(String(stored.body ?? ""), "base64") };
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

/** Newest first, from a cursor (the `seq` below which the page starts), `count` at most. */
function page<T extends { seq: number }>(
  items: Iterable<T>,
  accept: (item: T) => boolean,
  count = DEFAULT_PAGE,
  cursor?: string,
): Page<T> {
  const before = cursor === undefined || cursor === "" ? Number.POSITIVE_INFINITY : Number(cursor);
  if (Number.isNaN(before)) throw new BadRequest(`invalid cursor: "${cursor}"`);
  const chosen: T[] = [];
  for (const item of items) {
    if (item.seq >= before || !accept(item)) continue;
    if (chosen.length === count) return { items: chosen, cursor: String((chosen.at(-1) as T).seq) };
    chosen.push(item);
  }
  return { items: chosen };
}

/** A Map's values, newest first (insertion order is oldest first). */
const newestFirst = <T>(map: Map<string, T>) => [...map.values()].reverse();

/**
 * The local QStash: a message is a small state machine (CREATED → ACTIVE → DELIVERED, or → RETRY →
 * ACTIVE ..., or → FAILED → DLQ). Time comes from the clock, HTTP from `deliver` and persistence from the
 * store, so tests can drive each. The HTTP layer (server.ts) calls the methods below and shapes views;
 * it never reaches into the state.
 */
export class Engine {
  /** Messages not yet delivered or failed, in publish order. Read-only outside the engine. */
  readonly messages = new Map<string, Message>();
  readonly dlq = new Map<string, DlqEntry>();
  readonly schedules = new Map<string, Schedule>();
  readonly queues = new Map<string, Queue>();
  readonly groups = new Map<string, UrlGroup>();
  readonly events: LogEvent[] = [];
  private readonly flows = new Map<string, FlowState>();
  private readonly dedup = new Map<string, { messageId: string; expiresAt: number }>();
  private readonly queueActive = new Map<string, number>();
  /** Messages waiting (not in flight) per queue and per flow-control key: counted, never walked for. */
  private readonly waitingInQueue = new Map<string, number>();
  private readonly waitingForFlow = new Map<string, number>();
  private readonly store: Store;
  private seq = 0;
  private active = 0;
  private pumpQueued = false;
  private cancelWake?: () => void;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleWaiters: (() => void)[] = [];
  private readonly signingKey: string;

  constructor(private readonly options: EngineOptions) {
    this.signingKey = options.signingKey ?? DEV_CREDENTIALS.currentSigningKey;
    this.store = options.store ?? memoryStore();
    if (options.restore?.length) this.resume(options.restore);
  }

  private now(): number {
    return this.options.clock.now();
  }

  get concurrency(): number {
    return this.options.concurrency ?? 100;
  }

  // ---- persistence -------------------------------------------------------------------------------

  /** Applies a journal: the state it describes becomes this engine's, and whatever is overdue goes out. */
  private resume(records: readonly JournalRecord[]): void {
    for (const record of records) {
      switch (record.k) {
        case "msg": {
          const message = restoreMessage(record.m as Record<string, unknown>);
          // A message in flight at the crash is delivered again: at least once, as QStash.
          if (message.state === "ACTIVE") message.state = message.retried > 0 ? "RETRY" : "CREATED";
          this.messages.set(message.messageId, message);
          break;
        }
        case "gone":
          this.messages.delete(record.id as string);
          break;
        case "dlq": {
          const stored = record.e as Record<string, unknown>;
          const entry: DlqEntry = {
            dlqId: stored.dlqId as string,
            seq: stored.seq as number,
            failedAt: stored.failedAt as number,
            message: restoreMessage(stored.message as Record<string, unknown>),
            response: restoreResponse(stored.response as Record<string, unknown>),
          };
          this.dlq.set(entry.dlqId, entry);
          break;
        }
        case "undlq":
          this.dlq.delete(record.id as string);
          break;
        case "event":
          this.events.push(record.e as LogEvent);
          break;
        case "queue":
          this.queues.set((record.q as Queue).name, record.q as Queue);
          break;
        case "unqueue":
          this.queues.delete(record.name as string);
          break;
        case "group":
          this.groups.set((record.g as UrlGroup).name, record.g as UrlGroup);
          break;
        case "ungroup":
          this.groups.delete(record.name as string);
          break;
        case "flow": {
          const stored = record.f as Pick<FlowState, "key" | "paused" | "pinned">;
          Object.assign(this.flow(stored.key), { paused: stored.paused, pinned: stored.pinned });
          break;
        }
        case "schedule": {
          const stored = record.s as Record<string, unknown>;
          const spec = restoreMessage(stored.spec as Record<string, unknown>);
          this.schedules.set(stored.scheduleId as string, {
            scheduleId: stored.scheduleId as string,
            cron: parseCron(stored.cron as string),
            spec,
            createdAt: stored.createdAt as number,
            isPaused: stored.isPaused as boolean,
            lastScheduleTime: stored.lastScheduleTime as number | undefined,
          });
          break;
        }
        case "unschedule":
          this.schedules.delete(record.id as string);
          break;
        case "dedup":
          this.dedup.set(record.id as string, {
            messageId: record.messageId as string,
            expiresAt: record.expiresAt as number,
          });
          break;
      }
    }
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.seq = Math.max(
      0,
      ...this.events.map((event) => event.seq),
      ...[...this.dlq.values()].map((entry) => entry.seq),
    );
    for (const message of this.messages.values()) this.countWaiting(message, 1);
    // Missed cron ticks are not caught up: each schedule waits for its next tick from now.
    for (const schedule of this.schedules.values()) this.armSchedule(schedule);
    this.compact();
    this.schedulePump();
  }

  /** The live state as journal records: what a compacted journal holds. */
  private *liveRecords(): Generator<JournalRecord> {
    const now = this.now();
    for (const queue of this.queues.values()) yield { k: "queue", q: queue };
    for (const group of this.groups.values()) yield { k: "group", g: group };
    for (const flow of this.flows.values()) {
      if (flow.paused || flow.pinned)
        yield { k: "flow", f: { key: flow.key, paused: flow.paused, pinned: flow.pinned } };
    }
    for (const schedule of this.schedules.values()) yield this.scheduleRecord(schedule);
    for (const [id, seen] of this.dedup) if (seen.expiresAt > now) yield { k: "dedup", id, ...seen };
    for (const event of this.events) yield { k: "event", e: event };
    for (const entry of this.dlq.values()) yield this.dlqRecord(entry);
    for (const message of this.messages.values()) yield { k: "msg", m: serializeMessage(message) };
  }

  private scheduleRecord(schedule: Schedule): JournalRecord {
    const { scheduleId, cron, spec, createdAt, isPaused, lastScheduleTime } = schedule;
    const stored = { ...spec, messageId: "", createdAt, state: "CREATED", retried: 0, dueAt: 0 } as Message;
    return {
      k: "schedule",
      s: { scheduleId, cron: cron.source, spec: serializeMessage(stored), createdAt, isPaused, lastScheduleTime },
    };
  }

  private dlqRecord(entry: DlqEntry): JournalRecord {
    const { message, response, ...rest } = entry;
    return { k: "dlq", e: { ...rest, message: serializeMessage(message), response: serializeResponse(response) } };
  }

  /** Rewrites the journal once it holds far more records than the live state. */
  private compactIfDue(): void {
    const live = this.messages.size + this.dlq.size + this.events.length + this.schedules.size + this.dedup.size;
    if (this.store.size > 2 * live + 10_000) this.compact();
  }

  private compact(): void {
    this.store.compact(this.liveRecords());
  }

  /** Hands every change so far to the operating system: the server calls it before each answer. */
  flush(): void {
    this.store.flush();
  }

  /** Keeps the per-queue and per-key counts of waiting messages as a message starts or stops waiting. */
  private countWaiting(message: Message, delta: 1 | -1): void {
    const add = (counts: Map<string, number>, key: string) => {
      const next = (counts.get(key) ?? 0) + delta;
      if (next > 0) counts.set(key, next);
      else counts.delete(key);
    };
    if (message.queueName) add(this.waitingInQueue, message.queueName);
    if (message.flowControl) add(this.waitingForFlow, message.flowControl.key);
  }

  private saveMessage(message: Message): void {
    this.store.append({ k: "msg", m: serializeMessage(message) });
  }

  private forget(message: Message): void {
    if (!this.messages.delete(message.messageId)) return;
    if (message.state === "CREATED" || message.state === "RETRY") this.countWaiting(message, -1);
    this.store.append({ k: "gone", id: message.messageId });
    this.compactIfDue();
  }

  private log(message: Message, event: Partial<LogEvent> & Pick<LogEvent, "state">): void {
    const redact = message.redact;
    const header =
      event.state === "CREATED"
        ? Object.fromEntries(
            Object.entries(message.headers).map(([name, value]) => [
              name,
              redact && (redact.headers === true || redact.headers.includes(name)) ? "REDACTED" : value,
            ]),
          )
        : undefined;
    const entry: LogEvent = {
      seq: ++this.seq,
      time: this.now(),
      messageId: message.messageId,
      url: message.url,
      labels: message.labels,
      callerIp: message.callerIp,
      ...(message.topicName ? { topicName: message.topicName } : {}),
      ...(message.endpointName ? { endpointName: message.endpointName } : {}),
      ...(message.queueName ? { queueName: message.queueName } : {}),
      ...(message.scheduleId ? { scheduleId: message.scheduleId } : {}),
      ...(message.flowControl ? { flowControlKey: message.flowControl.key } : {}),
      ...(event.state === "CREATED"
        ? {
            method: message.method,
            header,
            ...(message.body.length > 0 ? { body: redact?.body ? "REDACTED" : textOf(message.body) } : {}),
          }
        : {}),
      ...event,
    };
    this.events.push(entry);
    this.store.append({ k: "event", e: entry });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  // ---- publishing --------------------------------------------------------------------------------

  /** Accepts a message; a duplicate within the window returns the first one's id. */
  publish(spec: MessageSpec, dedupScope = ""): { messageId: string; deduplicated?: true } {
    const now = this.now();
    const dedupKey = spec.deduplicationId === undefined ? undefined : `${spec.deduplicationId}${dedupScope}`;
    if (dedupKey) {
      const seen = this.dedup.get(dedupKey);
      if (seen && seen.expiresAt > now) return { messageId: seen.messageId, deduplicated: true };
    }
    if (spec.queueName && !this.queues.has(spec.queueName)) this.upsertQueue(spec.queueName, {});
    const message: Message = {
      ...spec,
      messageId: newId("msg"),
      createdAt: now,
      retryDelayFn: spec.retryDelay ? parseRetryDelay(spec.retryDelay) : undefined,
      state: "CREATED",
      retried: 0,
      dueAt: spec.notBefore ?? now + spec.delayMs,
    };
    if (this.dedup.size > 10_000) for (const [id, seen] of this.dedup) if (seen.expiresAt <= now) this.dedup.delete(id);
    if (dedupKey) {
      const seen = { messageId: message.messageId, expiresAt: now + DEDUP_WINDOW_MS };
      this.dedup.set(dedupKey, seen);
      this.store.append({ k: "dedup", id: dedupKey, ...seen });
    }
    if (spec.flowControl) this.flow(spec.flowControl.key).config = { ...spec.flowControl };
    this.messages.set(message.messageId, message);
    this.countWaiting(message, 1);
    this.saveMessage(message);
    // A delayed message says when it is due, as QStash's logs do (the dashboard shows it).
    this.log(message, { state: "CREATED", ...(message.dueAt > now ? { nextDeliveryTime: message.dueAt } : {}) });
    this.schedulePump();
    return { messageId: message.messageId };
  }

  /**
   * Refuses, before anything is accepted, a publish of `count` messages that would hold more than the
   * live-message cap (issue 20, item 12: one request could otherwise fill the memory).
   */
  ensureRoom(count: number): void {
    const max = this.options.maxMessages ?? DEFAULT_MAX_MESSAGES;
    if (this.messages.size + count > max)
      throw new LimitReached(
        `too many messages: qjobs dev holds at most ${max} waiting or in-flight messages (${this.messages.size} now, ${count} more asked); cancel some or wait for deliveries`,
        max,
        Math.max(0, max - this.messages.size),
      );
  }

  /** How many messages a publish to a URL group makes: one per endpoint. */
  groupSize(name: string): number {
    return this.groups.get(name)?.endpoints.length ?? 0;
  }

  /** Publishes one message per endpoint of a URL group, each with its own retries and dead letter. */
  publishToGroup(name: string, spec: MessageSpec): { messageId: string; url: string; deduplicated?: true }[] {
    const group = this.groups.get(name);
    if (!group || group.endpoints.length === 0) throw new NotFound(`url group "${name}"`);
    return group.endpoints.map((endpoint) => ({
      ...this.publish(
        { ...spec, url: endpoint.url, topicName: name, endpointName: endpoint.name },
        `\n${endpoint.url}`,
      ),
      url: endpoint.url,
    }));
  }

  // ---- messages ----------------------------------------------------------------------------------

  getMessage(messageId: string): Message | undefined {
    return this.messages.get(messageId);
  }

  /**
   * Cancels a message; returns whether there was one. One being delivered right now is cancelled as QStash
   * does: that attempt ends, and no other follows it (no retry, no dead letter, no callback).
   */
  cancel(messageId: string): boolean {
    const message = this.messages.get(messageId);
    if (!message) return false;
    if (message.state === "ACTIVE") message.cancelled = true;
    this.forget(message);
    this.log(message, { state: "CANCELED" });
    this.settleIfIdle();
    return true;
  }

  /** Cancels every message that matches, in flight too (a filter that matches nothing cancels nothing). */
  cancelMatching(filter: Filter): number {
    const matching = [...this.messages.values()].filter((message) => matches(filter, filterable(message)));
    return matching.filter((message) => this.cancel(message.messageId)).length;
  }

  // ---- the event log -----------------------------------------------------------------------------

  listEvents(filter: Filter, count?: number, cursor?: string): Page<LogEvent> {
    const events = [...this.events].reverse();
    return page(events, (event) => matches(filter, { ...event, time: event.time }), count, cursor);
  }

  // ---- the dead-letter queue ---------------------------------------------------------------------

  listDlq(filter: Filter, count?: number, cursor?: string): Page<DlqEntry> {
    return page(newestFirst(this.dlq), (entry) => matches(filter, this.dlqFilterable(entry)), count, cursor);
  }

  private dlqFilterable(entry: DlqEntry): Filterable {
    return {
      ...filterable(entry.message, { dlqId: entry.dlqId }),
      responseStatus: entry.response.status,
    };
  }

  getDlq(dlqId: string): DlqEntry | undefined {
    return this.dlq.get(dlqId);
  }

  deleteDlq(dlqId: string): boolean {
    if (!this.dlq.delete(dlqId)) return false;
    this.store.append({ k: "undlq", id: dlqId });
    return true;
  }

  /** Deletes a page of matching dead letters; the cursor says there are more. */
  deleteDlqMatching(filter: Filter, count?: number, cursor?: string): { deleted: number; cursor?: string } {
    const chosen = this.listDlq(filter, count, cursor);
    for (const entry of chosen.items) this.deleteDlq(entry.dlqId);
    return { deleted: chosen.items.length, ...(chosen.cursor ? { cursor: chosen.cursor } : {}) };
  }

  /** Publishes a dead letter again, as a new message, and takes it out of the queue. */
  retryDlq(dlqId: string): { messageId: string } | undefined {
    const entry = this.dlq.get(dlqId);
    if (!entry) return undefined;
    this.deleteDlq(dlqId);
    const { messageId, createdAt, retryDelayFn, state, retried, dueAt, deduplicationId, ...spec } = entry.message;
    return this.publish({ ...spec, delayMs: 0, notBefore: undefined });
  }

  retryDlqMatching(
    filter: Filter,
    count?: number,
    cursor?: string,
  ): { responses: { messageId: string }[]; cursor?: string } {
    const chosen = this.listDlq(filter, count, cursor);
    const responses = chosen.items.flatMap((entry) => this.retryDlq(entry.dlqId) ?? []);
    return { responses, ...(chosen.cursor ? { cursor: chosen.cursor } : {}) };
  }

  // ---- queues ------------------------------------------------------------------------------------

  listQueues(): Queue[] {
    return [...this.queues.values()];
  }

  getQueue(name: string): Queue | undefined {
    return this.queues.get(name);
  }

  upsertQueue(name: string, update: { parallelism?: number; paused?: boolean }): Queue {
    const now = this.now();
    const queue = this.queues.get(name) ?? { name, parallelism: 1, paused: false, createdAt: now, updatedAt: now };
    if (update.parallelism !== undefined) queue.parallelism = update.parallelism;
    if (update.paused !== undefined) queue.paused = update.paused;
    queue.updatedAt = now;
    this.queues.set(name, queue);
    this.store.append({ k: "queue", q: queue });
    this.schedulePump();
    return queue;
  }

  deleteQueue(name: string): boolean {
    if (!this.queues.delete(name)) return false;
    this.store.append({ k: "unqueue", name });
    return true;
  }

  /** How many of a queue's messages wait (not being delivered). */
  queueLag(name: string): number {
    return this.waitingInQueue.get(name) ?? 0;
  }

  // ---- URL groups --------------------------------------------------------------------------------

  listGroups(): UrlGroup[] {
    return [...this.groups.values()];
  }

  getGroup(name: string): UrlGroup | undefined {
    return this.groups.get(name);
  }

  /** Adds endpoints to a group (creating it); an endpoint with a known name or URL is replaced. */
  addEndpoints(name: string, endpoints: { name?: string; url: string }[]): UrlGroup {
    const now = this.now();
    const group = this.groups.get(name) ?? { name, createdAt: now, updatedAt: now, endpoints: [] };
    for (const endpoint of endpoints) {
      group.endpoints = group.endpoints.filter(
        (known) => known.url !== endpoint.url && (endpoint.name === undefined || known.name !== endpoint.name),
      );
      group.endpoints.push(
        endpoint.name === undefined ? { url: endpoint.url } : { name: endpoint.name, url: endpoint.url },
      );
    }
    group.updatedAt = now;
    this.groups.set(name, group);
    this.store.append({ k: "group", g: group });
    return group;
  }

  /** Removes the endpoints named by name or URL; returns false for an unknown group. */
  removeEndpoints(name: string, endpoints: { name?: string; url?: string }[]): boolean {
    const group = this.groups.get(name);
    if (!group) return false;
    group.endpoints = group.endpoints.filter(
      (known) =>
        !endpoints.some(
          (gone) =>
            (gone.url !== undefined && gone.url === known.url) || (gone.name !== undefined && gone.name === known.name),
        ),
    );
    group.updatedAt = this.now();
    this.store.append({ k: "group", g: group });
    return true;
  }

  deleteGroup(name: string): boolean {
    if (!this.groups.delete(name)) return false;
    this.store.append({ k: "ungroup", name });
    return true;
  }

  // ---- flow control ------------------------------------------------------------------------------

  private flow(key: string): FlowState {
    let state = this.flows.get(key);
    if (!state) {
      state = { key, paused: false, config: { periodMs: 1000 }, active: 0, starts: [], periodStart: this.now() };
      this.flows.set(key, state);
    }
    return state;
  }

  /** The configuration deliveries of a key obey now: a pinned one, else the latest message's. */
  private effective(state: FlowState): { parallelism?: number; rate?: number; periodMs: number } {
    return {
      ...state.config,
      ...Object.fromEntries(Object.entries(state.pinned ?? {}).filter(([, value]) => value !== undefined)),
    };
  }

  /** What QStash's `GET /v2/flowControl/{key}` tells, or undefined for a key never seen. */
  flowControlInfo(key: string) {
    const state = this.flows.get(key);
    if (!state) return undefined;
    const config = this.effective(state);
    const now = this.now();
    const starts = state.starts.filter((at) => at > now - config.periodMs);
    return {
      flowControlKey: key,
      waitListSize: this.waitingForFlow.get(key) ?? 0,
      parallelismMax: config.parallelism ?? 0,
      parallelismCount: state.active,
      rateMax: config.rate ?? 0,
      rateCount: starts.length,
      ratePeriod: config.periodMs / 1000,
      ratePeriodStart: starts[0] ?? state.periodStart,
      isPaused: state.paused,
      isPinnedParallelism: state.pinned?.parallelism !== undefined,
      isPinnedRate: state.pinned?.rate !== undefined,
    };
  }

  flowControlKeys(): string[] {
    return [...this.flows.keys()];
  }

  /** Pauses, resumes, pins, unpins or resets a key's rate; false for a key never seen. */
  updateFlow(
    key: string,
    action: "pause" | "resume" | "pin" | "unpin" | "resetRate",
    values: { parallelism?: number; rate?: number; periodMs?: number } = {},
  ): boolean {
    const state = this.flows.get(key);
    if (!state) return false;
    if (action === "pause" || action === "resume") state.paused = action === "pause";
    // Pinning one setting leaves the other's pin as it was: each is unpinned on its own.
    else if (action === "pin")
      state.pinned = {
        ...state.pinned,
        ...Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)),
      };
    else if (action === "unpin") {
      const pinned = { ...state.pinned };
      if (values.parallelism !== undefined || (values.parallelism === undefined && values.rate === undefined))
        delete pinned.parallelism;
      if (values.rate !== undefined || (values.parallelism === undefined && values.rate === undefined)) {
        delete pinned.rate;
        delete pinned.periodMs;
      }
      state.pinned = Object.keys(pinned).length > 0 ? pinned : undefined;
    } else {
      state.starts = [];
      state.periodStart = this.now();
    }
    this.store.append({ k: "flow", f: { key, paused: state.paused, pinned: state.pinned } });
    this.schedulePump();
    return true;
  }

  /** QStash's `GET /v2/globalParallelism`: how many deliveries may run at once, and how many do. */
  globalParallelism(): { parallelismMax: number; parallelismCount: number } {
    return { parallelismMax: this.concurrency, parallelismCount: this.active };
  }

  // ---- schedules ---------------------------------------------------------------------------------

  listSchedules(): Schedule[] {
    return [...this.schedules.values()];
  }

  getSchedule(scheduleId: string): Schedule | undefined {
    return this.schedules.get(scheduleId);
  }

  createSchedule(cronText: string, spec: MessageSpec, scheduleId = newId("scd")): Schedule {
    let cron: Cron;
    try {
      cron = parseCron(cronText);
    } catch (error) {
      throw new BadRequest(`invalid cron: ${(error as Error).message}`);
    }
    this.schedules.get(scheduleId)?.cancelTimer?.(); // a known id is replaced, as QStash does
    const schedule: Schedule = { scheduleId, cron, spec, createdAt: this.now(), isPaused: false };
    this.schedules.set(scheduleId, schedule);
    this.store.append(this.scheduleRecord(schedule));
    this.armSchedule(schedule);
    return schedule;
  }

  deleteSchedule(scheduleId: string): boolean {
    const schedule = this.schedules.get(scheduleId);
    if (!schedule) return false;
    schedule.cancelTimer?.();
    this.schedules.delete(scheduleId);
    this.store.append({ k: "unschedule", id: scheduleId });
    return true;
  }

  /** Publishes a schedule's message once, now (QStash has no such endpoint; the dashboard's "Trigger now"). */
  triggerSchedule(scheduleId: string): { messageId: string } | undefined {
    const schedule = this.schedules.get(scheduleId);
    if (!schedule) return undefined;
    return this.publish({ ...schedule.spec, scheduleId });
  }

  pauseSchedule(scheduleId: string, paused: boolean): boolean {
    const schedule = this.schedules.get(scheduleId);
    if (!schedule) return false;
    schedule.isPaused = paused;
    this.store.append(this.scheduleRecord(schedule));
    return true;
  }

  private armSchedule(schedule: Schedule): void {
    const next = schedule.cron.next(this.now());
    schedule.nextScheduleTime = next;
    if (next === undefined) return;
    schedule.cancelTimer = this.options.clock.schedule(() => {
      if (this.schedules.get(schedule.scheduleId) !== schedule) return;
      if (!schedule.isPaused) {
        schedule.lastScheduleTime = this.now();
        this.store.append(this.scheduleRecord(schedule));
        this.publish({ ...schedule.spec, scheduleId: schedule.scheduleId });
      }
      this.armSchedule(schedule);
    }, next - this.now());
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** Resolves once no message is waiting or being delivered. */
  idle(): Promise<void> {
    if (this.messages.size === 0 && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once nothing is being delivered right now (later retries may still be waiting). */
  async settled(): Promise<void> {
    while (this.active > 0 || this.pumpQueued) await new Promise((resolve) => setImmediate(resolve));
  }

  stop(): void {
    this.cancelWake?.();
    for (const schedule of this.schedules.values()) schedule.cancelTimer?.();
    this.store.close();
  }

  private settleIfIdle(): void {
    if (this.messages.size === 0 && this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Starts every due message whose queue and flow control allow it, then sleeps until the next one is due. */
  private pump(): void {
    const now = this.now();
    let nextWake = Number.POSITIVE_INFINITY;
    const blockedQueues = new Set<string>();
    // The map keeps insertion order, which is publish order: FIFO without sorting.
    for (const message of this.messages.values()) {
      if (message.state !== "CREATED" && message.state !== "RETRY") continue;
      if (this.active >= this.concurrency) break; // the next delivery to end pumps again
      if (message.dueAt > now) {
        nextWake = Math.min(nextWake, message.dueAt);
        if (message.queueName) blockedQueues.add(message.queueName); // FIFO: nothing overtakes it
        continue;
      }
      const queue = message.queueName ? this.queues.get(message.queueName) : undefined;
      if (queue) {
        if (
          blockedQueues.has(queue.name) ||
          queue.paused ||
          (this.queueActive.get(queue.name) ?? 0) >= queue.parallelism
        ) {
          blockedQueues.add(queue.name);
          continue;
        }
      }
      if (message.flowControl) {
        const state = this.flow(message.flowControl.key);
        const config = this.effective(state);
        if (state.paused) continue;
        if (config.parallelism !== undefined && state.active >= config.parallelism) continue;
        if (config.rate !== undefined) {
          state.starts = state.starts.filter((at) => at > now - config.periodMs);
          if (state.starts.length >= config.rate) {
            nextWake = Math.min(nextWake, (state.starts[0] as number) + config.periodMs);
            continue;
          }
          if (state.starts.length === 0) state.periodStart = now;
          state.starts.push(now);
        }
        state.active++;
      }
      if (queue) this.queueActive.set(queue.name, (this.queueActive.get(queue.name) ?? 0) + 1);
      void this.attempt(message);
    }
    this.sleepUntil(nextWake);
  }

  private sleepUntil(at: number): void {
    if (at === this.wakeAt) return;
    this.cancelWake?.();
    this.cancelWake = undefined;
    this.wakeAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.cancelWake = this.options.clock.schedule(() => {
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.cancelWake = undefined;
      this.pump();
    }, at - this.now());
  }

  private async attempt(message: Message): Promise<void> {
    this.countWaiting(message, -1);
    message.state = "ACTIVE";
    this.active++;
    this.log(message, { state: "ACTIVE" });
    const headers: Record<string, string> = {
      ...message.headers,
      "user-agent": "Upstash-QStash",
      "upstash-message-id": message.messageId,
      "upstash-retried": String(message.retried),
      "upstash-caller-ip": message.callerIp,
    };
    if (message.scheduleId) headers["upstash-schedule-id"] = message.scheduleId;
    if (message.topicName) headers["upstash-topic-name"] = message.topicName;
    // A fresh signature per attempt, whose `sub` is the exact URL called.
    const signature = signDelivery({
      signingKey: this.signingKey,
      url: message.url,
      body: message.body,
      now: Math.floor(this.now() / 1000),
    });
    const response = await signature
      .then((signed) =>
        this.options.deliver({
          url: message.url,
          method: message.method,
          headers: { ...headers, "upstash-signature": signed },
          body: message.method === "GET" ? Buffer.alloc(0) : message.body,
          timeoutMs: message.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        }),
      )
      // Signing or a delivery function that throws is a failed attempt, never a message stuck in ACTIVE.
      .catch(
        (error: unknown): DeliveryResponse => ({
          headers: {},
          body: Buffer.alloc(0),
          error: String(error),
          durationMs: 0,
        }),
      );
    this.active--;
    if (message.queueName) this.queueActive.set(message.queueName, (this.queueActive.get(message.queueName) ?? 1) - 1);
    if (message.flowControl) this.flow(message.flowControl.key).active--;
    try {
      // Cancelled while in flight: the attempt is over, and nothing follows it.
      if (!message.cancelled) this.settle(message, response);
    } catch (error) {
      // An exception while settling fails this attempt's message for good, never the process (an unhandled
      // rejection would end qjobs dev and every message with it). A fresh response: the one that made
      // settling throw may throw again.
      const reason = `qjobs dev could not settle the attempt: ${String(error)}`;
      if (message.state === "ACTIVE")
        this.fail(message, { headers: {}, body: Buffer.alloc(0), durationMs: 0, error: reason });
    }
    this.schedulePump();
    this.settleIfIdle();
  }

  private settle(message: Message, response: DeliveryResponse): void {
    const attempt = message.retried + 1;
    const status = response.status;
    const outcome = { responseStatus: status, ...(response.error ? { error: response.error } : {}) };
    const report = (result: AttemptReport["outcome"], retryInMs?: number) => {
      try {
        this.options.onAttempt?.({ message, attempt, response, outcome: result, retryInMs });
      } catch (error) {
        console.error("qjobs dev: could not report an attempt:", error);
      }
    };

    if (message.callback) this.publishCallback(message, message.callback, response);
    if (status !== undefined && status >= 200 && status < 300) {
      message.state = "DELIVERED";
      this.forget(message);
      this.log(message, { state: "DELIVERED", ...outcome });
      report("delivered");
      return;
    }
    const nonRetryable = status === 489 && response.headers["upstash-nonretryable-error"] === "true";
    const failed = { ...outcome, responseHeader: headerRecord(response.headers), responseBody: textOf(response.body) };
    if (!nonRetryable && message.retried < message.maxRetries) {
      const delay = this.retryDelay(message, response);
      message.retried++;
      message.state = "RETRY";
      this.countWaiting(message, 1);
      message.dueAt = this.now() + delay;
      this.saveMessage(message);
      this.log(message, { state: "ERROR", ...failed });
      this.log(message, { state: "RETRY", nextDeliveryTime: message.dueAt });
      report("retry", delay);
      return;
    }
    this.fail(message, response);
    report("failed");
  }

  /** The message failed for good: FAILED, into the dead-letter queue, and its failure callback published. */
  private fail(message: Message, response: DeliveryResponse): void {
    message.state = "FAILED";
    this.forget(message);
    const dlqId = `${this.now()}-${this.seq + 1}`;
    // Callbacks are not dead-lettered: their failure has no one left to tell.
    if (!message.sourceMessageId) this.deadLetter({ dlqId, seq: ++this.seq, message, response, failedAt: this.now() });
    this.log(message, {
      state: "FAILED",
      responseStatus: response.status,
      ...(response.error ? { error: response.error } : {}),
      responseHeader: headerRecord(response.headers),
      responseBody: textOf(response.body),
    });
    if (message.failureCallback) this.publishCallback(message, message.failureCallback, response, dlqId);
  }

  /** Keeps the dead-letter queue within its bounds (count and body bytes): the oldest entries go first. */
  private deadLetter(entry: DlqEntry): void {
    this.dlq.set(entry.dlqId, entry);
    this.store.append(this.dlqRecord(entry));
    const maxCount = this.options.maxDlq ?? DEFAULT_MAX_DLQ;
    const maxBytes = this.options.maxDlqBytes ?? DEFAULT_MAX_DLQ_BYTES;
    let bytes = 0;
    for (const kept of this.dlq.values()) bytes += kept.message.body.length + kept.response.body.length;
    for (const [dlqId, oldest] of this.dlq) {
      if (this.dlq.size <= maxCount && bytes <= maxBytes) break;
      if (dlqId === entry.dlqId && this.dlq.size === 1) break; // one entry over the byte bound still stays
      bytes -= oldest.message.body.length + oldest.response.body.length;
      this.deleteDlq(dlqId);
    }
  }

  /**
   * Retry-After (or X-RateLimit-Reset*) first, then the message's expression, then QStash's backoff, scaled;
   * in whole milliseconds, as every time QStash reports is (a scaled backoff or `1.5s` would be fractional).
   */
  private retryDelay(message: Message, response: DeliveryResponse): number {
    return Math.round(this.unroundedRetryDelay(message, response));
  }

  private unroundedRetryDelay(message: Message, response: DeliveryResponse): number {
    const { headers } = response;
    for (const name of ["retry-after", "x-ratelimit-reset", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]) {
      const ms = parseRetryAfter(headers[name], this.now());
      if (ms !== undefined) return ms;
    }
    if (message.retryDelayFn) {
      const ms = message.retryDelayFn(message.retried);
      if (Number.isFinite(ms)) return ms;
    }
    const n = message.retried + 1;
    return Math.min(MAX_BACKOFF_MS, Math.exp(2.5 * n) * 1000) * this.options.retryScale;
  }

  /** QStash's callback body (features/callbacks), published as a new signed message to the callback URL. */
  private publishCallback(message: Message, config: CallbackConfig, response: DeliveryResponse, dlqId?: string): void {
    const header: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(response.headers)) header[name] = [value];
    const body = {
      status: response.status ?? 0,
      header,
      body: response.body.toString("base64"),
      retried: message.retried,
      maxRetries: message.maxRetries,
      ...(dlqId ? { dlqId } : {}),
      sourceMessageId: message.messageId,
      url: message.url,
      method: message.method,
      sourceHeader: Object.fromEntries(Object.entries(message.headers).map(([name, value]) => [name, [value]])),
      sourceBody: message.body.toString("base64"),
      notBefore: message.notBefore ?? message.createdAt + message.delayMs,
      createdAt: message.createdAt,
      ...(message.scheduleId ? { scheduleId: message.scheduleId } : {}),
      callerIP: message.callerIp,
      ...(response.error ? { error: response.error } : {}),
    };
    this.publish({
      url: config.url,
      method: config.method,
      headers: { "content-type": "application/json", ...config.headers },
      body: Buffer.from(JSON.stringify(body)),
      delayMs: config.delayMs ?? 0,
      maxRetries: config.retries ?? message.maxRetries,
      retryDelay: config.retryDelay,
      timeoutMs: config.timeoutMs,
      labels: message.labels,
      sourceMessageId: message.messageId,
      callerIp: message.callerIp,
    });
  }
}

/**
 * A publish over qjobs dev's live-message cap: answered 429 with the RateLimit-* headers of QStash's quota
 * errors, so the SDK throws its QstashDailyRatelimitError with the limit in it.
 */
export class LimitReached extends Error {
  constructor(
    message: string,
    readonly limit: number,
    readonly remaining: number,
  ) {
    super(message);
  }
}

/** Something the API names does not exist: 404 with QStash's wording. */
export class NotFound extends Error {
  constructor(what: string) {
    super(`${what} not found`);
  }
}
