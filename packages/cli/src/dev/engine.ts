import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { signDelivery } from "@qjobs/runtime/testing";
import { type Cron, parseCron } from "./cron.js";
import { DEFAULT_MAX_DLQ, DEFAULT_MAX_DLQ_BYTES } from "./defaults.js";
import type { Deliver, DeliveryResponse } from "./deliver.js";
import { BadRequest, type CallbackConfig, type Message, type MessageSpec, newId } from "./message.js";
import { parseRetryDelay } from "./retry-delay.js";
import { type Clock, parseRetryAfter } from "./time.js";

/** One line of the event log (`GET /v2/events`). */
export interface LogEvent {
  time: number;
  state: "CREATED" | "ACTIVE" | "DELIVERED" | "ERROR" | "RETRY" | "FAILED" | "CANCELLED";
  messageId: string;
  url: string;
  scheduleId?: string;
  nextDeliveryTime?: number;
  error?: string;
  responseStatus?: number;
  responseBody?: string;
}

export interface DlqEntry {
  dlqId: string;
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
}

const DEDUP_WINDOW_MS = 10 * 60_000;
const MAX_EVENTS = 10_000;
/** A response body in the event log is cut to this many bytes (the DLQ keeps the whole, up to 1 MiB). */
const MAX_EVENT_BODY = 4096;
const MAX_BACKOFF_MS = 86_400_000;
/** How long an attempt may take when the message sets no Upstash-Timeout: QStash's free-plan maximum. */
const DEFAULT_TIMEOUT_MS = 15 * 60_000;

/** What the event log keeps of a response body: its first bytes, as text. */
const eventBody = (response: DeliveryResponse) => response.body.subarray(0, MAX_EVENT_BODY).toString("utf8");

/**
 * The local QStash: a message is a small state machine (CREATED → ACTIVE → DELIVERED, or → RETRY →
 * ACTIVE ..., or → FAILED → DLQ). Time comes from the clock and HTTP from `deliver`, so tests can drive
 * both. The server (server.ts) is only a thin HTTP layer over this class.
 */
export class Engine {
  readonly messages = new Map<string, Message>();
  readonly dlq = new Map<string, DlqEntry>();
  readonly schedules = new Map<string, Schedule>();
  readonly queues = new Map<string, Queue>();
  readonly events: LogEvent[] = [];
  private readonly dedup = new Map<string, { messageId: string; expiresAt: number }>();
  private readonly flowStarts = new Map<string, number[]>();
  private readonly flowActive = new Map<string, number>();
  private readonly queueActive = new Map<string, number>();
  private active = 0;
  private dlqCount = 0;
  private pumpQueued = false;
  private cancelWake?: () => void;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleWaiters: (() => void)[] = [];
  private readonly signingKey: string;

  constructor(private readonly options: EngineOptions) {
    this.signingKey = options.signingKey ?? DEV_CREDENTIALS.currentSigningKey;
  }

  private now(): number {
    return this.options.clock.now();
  }

  private log(event: Omit<LogEvent, "time">): void {
    this.events.push({ time: this.now(), ...event });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  /** Accepts a message; a duplicate within the window returns the first one's id. */
  publish(spec: MessageSpec): { messageId: string; deduplicated?: true } {
    const now = this.now();
    if (spec.deduplicationId) {
      const seen = this.dedup.get(spec.deduplicationId);
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
    if (spec.deduplicationId)
      this.dedup.set(spec.deduplicationId, { messageId: message.messageId, expiresAt: now + DEDUP_WINDOW_MS });
    this.messages.set(message.messageId, message);
    this.log({ state: "CREATED", messageId: message.messageId, url: message.url, scheduleId: message.scheduleId });
    this.schedulePump();
    return { messageId: message.messageId };
  }

  /** Cancels a message that has not been delivered; returns whether there was one. */
  cancel(messageId: string): boolean {
    const message = this.messages.get(messageId);
    if (!message || message.state === "ACTIVE") return false;
    this.messages.delete(messageId);
    this.log({ state: "CANCELLED", messageId, url: message.url });
    this.settleIfIdle();
    return true;
  }

  /** Publishes a dead-lettered message again, as a new message. */
  retryDlq(dlqId: string): { messageId: string } | undefined {
    const entry = this.dlq.get(dlqId);
    if (!entry) return undefined;
    this.dlq.delete(dlqId);
    const { messageId, createdAt, retryDelayFn, state, retried, dueAt, deduplicationId, ...spec } = entry.message;
    return this.publish({ ...spec, delayMs: 0, notBefore: undefined });
  }

  upsertQueue(name: string, update: { parallelism?: number; paused?: boolean }): Queue {
    const now = this.now();
    const queue = this.queues.get(name) ?? { name, parallelism: 1, paused: false, createdAt: now, updatedAt: now };
    if (update.parallelism !== undefined) queue.parallelism = update.parallelism;
    if (update.paused !== undefined) queue.paused = update.paused;
    queue.updatedAt = now;
    this.queues.set(name, queue);
    this.schedulePump();
    return queue;
  }

  createSchedule(cronText: string, spec: MessageSpec, scheduleId = newId("scd")): Schedule {
    let cron: Cron;
    try {
      cron = parseCron(cronText);
    } catch (error) {
      throw new BadRequest(`invalid cron: ${(error as Error).message}`);
    }
    this.deleteSchedule(scheduleId); // a known id is replaced, as QStash does
    const schedule: Schedule = { scheduleId, cron, spec, createdAt: this.now(), isPaused: false };
    this.schedules.set(scheduleId, schedule);
    this.armSchedule(schedule);
    return schedule;
  }

  deleteSchedule(scheduleId: string): boolean {
    const schedule = this.schedules.get(scheduleId);
    schedule?.cancelTimer?.();
    return this.schedules.delete(scheduleId);
  }

  pauseSchedule(scheduleId: string, paused: boolean): boolean {
    const schedule = this.schedules.get(scheduleId);
    if (!schedule) return false;
    schedule.isPaused = paused;
    return true;
  }

  private armSchedule(schedule: Schedule): void {
    const next = schedule.cron.next(this.now());
    schedule.nextScheduleTime = next;
    if (next === undefined) return;
    schedule.cancelTimer = this.options.clock.schedule(() => {
      if (!this.schedules.has(schedule.scheduleId)) return;
      if (!schedule.isPaused) {
        schedule.lastScheduleTime = this.now();
        this.publish({ ...schedule.spec, scheduleId: schedule.scheduleId });
      }
      this.armSchedule(schedule);
    }, next - this.now());
  }

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
      if (this.active >= (this.options.concurrency ?? 100)) break; // the next delivery to end pumps again
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
      const flow = message.flowControl;
      if (flow) {
        if (flow.parallelism !== undefined && (this.flowActive.get(flow.key) ?? 0) >= flow.parallelism) continue;
        if (flow.rate !== undefined) {
          const starts = (this.flowStarts.get(flow.key) ?? []).filter((at) => at > now - flow.periodMs);
          this.flowStarts.set(flow.key, starts);
          if (starts.length >= flow.rate) {
            nextWake = Math.min(nextWake, (starts[0] as number) + flow.periodMs);
            continue;
          }
          starts.push(now);
        }
        this.flowActive.set(flow.key, (this.flowActive.get(flow.key) ?? 0) + 1);
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
    message.state = "ACTIVE";
    this.active++;
    this.log({ state: "ACTIVE", messageId: message.messageId, url: message.url });
    const headers: Record<string, string> = {
      ...message.headers,
      "user-agent": "Upstash-QStash",
      "upstash-message-id": message.messageId,
      "upstash-retried": String(message.retried),
      "upstash-caller-ip": message.callerIp,
    };
    if (message.scheduleId) headers["upstash-schedule-id"] = message.scheduleId;
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
    if (message.flowControl)
      this.flowActive.set(message.flowControl.key, (this.flowActive.get(message.flowControl.key) ?? 1) - 1);
    try {
      this.settle(message, response);
    } catch (error) {
      // An exception while settling fails this attempt's message for good, never the process (an unhandled
      // rejection would end qjobs dev and every message with it).
      // A fresh response: the one that made settling throw may throw again.
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
    const base = { messageId: message.messageId, url: message.url, responseStatus: status, error: response.error };
    const report = (outcome: AttemptReport["outcome"], retryInMs?: number) => {
      try {
        this.options.onAttempt?.({ message, attempt, response, outcome, retryInMs });
      } catch (error) {
        console.error("qjobs dev: could not report an attempt:", error);
      }
    };

    if (message.callback) this.publishCallback(message, message.callback, response);
    if (status !== undefined && status >= 200 && status < 300) {
      message.state = "DELIVERED";
      this.messages.delete(message.messageId);
      this.log({ ...base, state: "DELIVERED" });
      report("delivered");
      return;
    }
    const nonRetryable = status === 489 && response.headers["upstash-nonretryable-error"] === "true";
    if (!nonRetryable && message.retried < message.maxRetries) {
      const delay = this.retryDelay(message, response);
      message.retried++;
      message.state = "RETRY";
      message.dueAt = this.now() + delay;
      this.log({ ...base, state: "ERROR", responseBody: eventBody(response) });
      this.log({ ...base, state: "RETRY", nextDeliveryTime: message.dueAt });
      report("retry", delay);
      return;
    }
    this.fail(message, response);
    report("failed");
  }

  /** The message failed for good: FAILED, into the dead-letter queue, and its failure callback published. */
  private fail(message: Message, response: DeliveryResponse): void {
    message.state = "FAILED";
    this.messages.delete(message.messageId);
    const dlqId = `${this.now()}-${this.dlqCount++}`;
    // Callbacks are not dead-lettered: their failure has no one left to tell.
    if (!message.sourceMessageId) this.deadLetter({ dlqId, message, response, failedAt: this.now() });
    this.log({
      messageId: message.messageId,
      url: message.url,
      responseStatus: response.status,
      error: response.error,
      state: "FAILED",
      responseBody: eventBody(response),
    });
    if (message.failureCallback) this.publishCallback(message, message.failureCallback, response, dlqId);
  }

  /** Keeps the dead-letter queue within its bounds (count and body bytes): the oldest entries go first. */
  private deadLetter(entry: DlqEntry): void {
    this.dlq.set(entry.dlqId, entry);
    const maxCount = this.options.maxDlq ?? DEFAULT_MAX_DLQ;
    const maxBytes = this.options.maxDlqBytes ?? DEFAULT_MAX_DLQ_BYTES;
    let bytes = 0;
    for (const kept of this.dlq.values()) bytes += kept.message.body.length + kept.response.body.length;
    for (const [dlqId, oldest] of this.dlq) {
      if (this.dlq.size <= maxCount && bytes <= maxBytes) break;
      if (dlqId === entry.dlqId && this.dlq.size === 1) break; // one entry over the byte bound still stays
      bytes -= oldest.message.body.length + oldest.response.body.length;
      this.dlq.delete(dlqId);
    }
  }

  /** Retry-After (or X-RateLimit-Reset*) first, then the message's expression, then QStash's backoff, scaled. */
  private retryDelay(message: Message, response: DeliveryResponse): number {
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
      sourceMessageId: message.messageId,
      callerIp: message.callerIp,
    });
  }
}
