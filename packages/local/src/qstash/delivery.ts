import { signDelivery } from "@qjobs/runtime/testing";
import { parseRetryAfter } from "../time.js";
import { publishCallback } from "./callbacks.js";
import type { DeadLetters } from "./dead-letters.js";
import type { DeliveryResponse } from "./deliver.js";
import { logEvent, textOf } from "./events.js";
import { effective } from "./flow-control.js";
import type { Message, MessageSpec } from "./message.js";
import type { QStashState } from "./state.js";
import type { AttemptReport } from "./types.js";

const MAX_BACKOFF_MS = 86_400_000;
/** How long an attempt may take when the message sets no Upstash-Timeout: QStash's free-plan maximum. */
const DEFAULT_TIMEOUT_MS = 15 * 60_000;

const headerRecord = (headers: Record<string, string>) => ({ ...headers });

/**
 * Delivery: starts every due message its queue and flow control allow, signs and sends each attempt, and
 * settles it (delivered, a retry later, or failed into the dead-letter queue). Time comes from the clock,
 * HTTP from the options' `deliver`.
 */
export class Delivery {
  private pumpQueued = false;
  private cancelWake?: () => void;
  private wakeAt = Number.POSITIVE_INFINITY;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly state: QStashState,
    private readonly deadLetters: DeadLetters,
    private readonly publish: (spec: MessageSpec) => { messageId: string },
  ) {}

  /** Resolves once no message is waiting or being delivered. */
  idle(): Promise<void> {
    if (this.state.messages.size === 0 && this.state.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once nothing is being delivered right now (later retries may still be waiting). */
  async settled(): Promise<void> {
    while (this.state.active > 0 || this.pumpQueued) await new Promise((resolve) => setImmediate(resolve));
  }

  stop(): void {
    this.cancelWake?.();
  }

  settleIfIdle(): void {
    if (this.state.messages.size === 0 && this.state.active === 0)
      for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Starts, soon, whatever may go now (after a publish, a resume, a change of a queue or key). */
  schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Starts every due message whose queue and flow control allow it, then sleeps until the next one is due. */
  private pump(): void {
    const now = this.state.now();
    let nextWake = Number.POSITIVE_INFINITY;
    const blockedQueues = new Set<string>();
    // The map keeps insertion order, which is publish order: FIFO without sorting.
    for (const message of this.state.messages.values()) {
      if (message.state !== "CREATED" && message.state !== "RETRY") continue;
      if (this.state.active >= this.state.concurrency) break; // the next delivery to end pumps again
      if (message.dueAt > now) {
        nextWake = Math.min(nextWake, message.dueAt);
        if (message.queueName) blockedQueues.add(message.queueName); // FIFO: nothing overtakes it
        continue;
      }
      const queue = message.queueName ? this.state.queues.get(message.queueName) : undefined;
      if (queue) {
        if (
          blockedQueues.has(queue.name) ||
          queue.paused ||
          (this.state.queueActive.get(queue.name) ?? 0) >= queue.parallelism
        ) {
          blockedQueues.add(queue.name);
          continue;
        }
      }
      if (message.flowControl) {
        const state = this.state.flow(message.flowControl.key);
        const config = effective(state);
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
      if (queue) this.state.queueActive.set(queue.name, (this.state.queueActive.get(queue.name) ?? 0) + 1);
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
    this.cancelWake = this.state.options.clock.schedule(() => {
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.cancelWake = undefined;
      this.pump();
    }, at - this.state.now());
  }

  private async attempt(message: Message): Promise<void> {
    this.state.countWaiting(message, -1);
    message.state = "ACTIVE";
    this.state.active++;
    logEvent(this.state, message, { state: "ACTIVE" });
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
      signingKey: this.state.signingKey,
      url: message.url,
      body: message.body,
      now: Math.floor(this.state.now() / 1000),
    });
    const response = await signature
      .then((signed) =>
        this.state.options.deliver({
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
    this.state.active--;
    if (message.queueName)
      this.state.queueActive.set(message.queueName, (this.state.queueActive.get(message.queueName) ?? 1) - 1);
    if (message.flowControl) this.state.flow(message.flowControl.key).active--;
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
        this.state.options.onAttempt?.({ message, attempt, response, outcome: result, retryInMs });
      } catch (error) {
        console.error("qjobs dev: could not report an attempt:", error);
      }
    };

    if (message.callback) publishCallback(this.publish, message, message.callback, response);
    if (status !== undefined && status >= 200 && status < 300) {
      message.state = "DELIVERED";
      this.state.forget(message);
      logEvent(this.state, message, { state: "DELIVERED", ...outcome });
      report("delivered");
      return;
    }
    const nonRetryable = status === 489 && response.headers["upstash-nonretryable-error"] === "true";
    const failed = { ...outcome, responseHeader: headerRecord(response.headers), responseBody: textOf(response.body) };
    if (!nonRetryable && message.retried < message.maxRetries) {
      const delay = this.retryDelay(message, response);
      message.retried++;
      message.state = "RETRY";
      this.state.countWaiting(message, 1);
      message.dueAt = this.state.now() + delay;
      this.state.saveMessage(message);
      logEvent(this.state, message, { state: "ERROR", ...failed });
      logEvent(this.state, message, { state: "RETRY", nextDeliveryTime: message.dueAt });
      report("retry", delay);
      return;
    }
    this.fail(message, response);
    report("failed");
  }

  /** The message failed for good: FAILED, into the dead-letter queue, and its failure callback published. */
  private fail(message: Message, response: DeliveryResponse): void {
    message.state = "FAILED";
    this.state.forget(message);
    const dlqId = `${this.state.now()}-${this.state.seq + 1}`;
    // Callbacks are not dead-lettered: their failure has no one left to tell.
    if (!message.sourceMessageId)
      this.deadLetters.add({ dlqId, seq: ++this.state.seq, message, response, failedAt: this.state.now() });
    logEvent(this.state, message, {
      state: "FAILED",
      responseStatus: response.status,
      ...(response.error ? { error: response.error } : {}),
      responseHeader: headerRecord(response.headers),
      responseBody: textOf(response.body),
    });
    if (message.failureCallback) publishCallback(this.publish, message, message.failureCallback, response, dlqId);
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
      const ms = parseRetryAfter(headers[name], this.state.now());
      if (ms !== undefined) return ms;
    }
    if (message.retryDelayFn) {
      const ms = message.retryDelayFn(message.retried);
      if (Number.isFinite(ms)) return ms;
    }
    const n = message.retried + 1;
    return Math.min(MAX_BACKOFF_MS, Math.exp(2.5 * n) * 1000) * this.state.options.retryScale;
  }
}
