import type { JournalRecord } from "../storage/journal.js";
import { DeadLetters } from "./dead-letters.js";
import { DEFAULT_MAX_MESSAGES } from "./defaults.js";
import { Delivery } from "./delivery.js";
import { LimitReached, NotFound } from "./errors.js";
import { listEvents, logEvent } from "./events.js";
import { type Filter, filterable, matches } from "./filters.js";
import { FlowControl } from "./flow-control.js";
import { type Message, type MessageSpec, newId } from "./message.js";
import { Queues } from "./queues.js";
import { liveRecords, replay } from "./records.js";
import { parseRetryDelay } from "./retry-delay.js";
import { Schedules } from "./schedules.js";
import { QStashState } from "./state.js";
import type { DlqEntry, EngineOptions, LogEvent, Page, Queue, Schedule, UrlGroup } from "./types.js";
import { UrlGroups } from "./url-groups.js";

export { LimitReached, NotFound } from "./errors.js";
export type {
  AttemptReport,
  DlqEntry,
  EngineOptions,
  FlowState,
  LogEvent,
  Page,
  Queue,
  Schedule,
  UrlGroup,
} from "./types.js";

const DEDUP_WINDOW_MS = 10 * 60_000;

/**
 * The local QStash: a message is a small state machine (CREATED → ACTIVE → DELIVERED, or → RETRY →
 * ACTIVE ..., or → FAILED → DLQ). This is the one API its router (server.ts) calls; behind it each concern
 * is its own part over one shared state: publishing and messages here, delivery, the dead-letter queue,
 * schedules, queues, flow control, URL groups and the journal's replay beside. Time comes from the clock,
 * HTTP from `deliver` and persistence from the store, so tests can drive each.
 */
export class Engine {
  private readonly state: QStashState;
  private readonly delivery: Delivery;
  private readonly deadLetters: DeadLetters;
  private readonly scheduleList: Schedules;
  private readonly queueList: Queues;
  private readonly flowControl: FlowControl;
  private readonly urlGroups: UrlGroups;

  constructor(options: EngineOptions) {
    this.state = new QStashState(options);
    const publish = (spec: MessageSpec) => this.publish(spec);
    this.deadLetters = new DeadLetters(this.state);
    this.delivery = new Delivery(this.state, this.deadLetters, publish);
    const wake = () => this.delivery.schedulePump();
    this.scheduleList = new Schedules(this.state, publish);
    this.queueList = new Queues(this.state, wake);
    this.flowControl = new FlowControl(this.state, wake);
    this.urlGroups = new UrlGroups(this.state);
    if (options.restore?.length) {
      replay(this.state, options.restore);
      // Missed cron ticks are not caught up: each schedule waits for its next tick from now.
      for (const schedule of this.state.schedules.values()) this.scheduleList.arm(schedule);
      this.state.compact();
      this.delivery.schedulePump();
    }
  }

  /** Messages not yet delivered or failed, in publish order. Read-only outside the engine. */
  get messages(): ReadonlyMap<string, Message> {
    return this.state.messages;
  }

  get dlq(): ReadonlyMap<string, DlqEntry> {
    return this.state.dlq;
  }

  get events(): readonly LogEvent[] {
    return this.state.events;
  }

  get concurrency(): number {
    return this.state.concurrency;
  }

  /** The live state as journal records: what a compacted journal holds (a journal shared with other services asks). */
  journalRecords(): Iterable<JournalRecord> {
    return liveRecords(this.state);
  }

  /** Hands every change so far to the operating system: the server calls it before each answer. */
  flush(): void {
    this.state.store.flush();
  }

  // ---- publishing and messages -------------------------------------------------------------------

  /** Accepts a message; a duplicate within the window returns the first one's id. */
  publish(spec: MessageSpec, dedupScope = ""): { messageId: string; deduplicated?: true } {
    const now = this.state.now();
    const dedupKey = spec.deduplicationId === undefined ? undefined : `${spec.deduplicationId}${dedupScope}`;
    if (dedupKey) {
      const seen = this.state.dedup.get(dedupKey);
      if (seen && seen.expiresAt > now) return { messageId: seen.messageId, deduplicated: true };
    }
    if (spec.queueName && !this.state.queues.has(spec.queueName)) this.queueList.upsertQueue(spec.queueName, {});
    const message: Message = {
      ...spec,
      messageId: newId("msg"),
      createdAt: now,
      retryDelayFn: spec.retryDelay ? parseRetryDelay(spec.retryDelay) : undefined,
      state: "CREATED",
      retried: 0,
      dueAt: spec.notBefore ?? now + spec.delayMs,
    };
    if (this.state.dedup.size > 10_000)
      for (const [id, seen] of this.state.dedup) if (seen.expiresAt <= now) this.state.dedup.delete(id);
    if (dedupKey) {
      const seen = { messageId: message.messageId, expiresAt: now + DEDUP_WINDOW_MS };
      this.state.dedup.set(dedupKey, seen);
      this.state.store.append({ k: "dedup", id: dedupKey, ...seen });
    }
    if (spec.flowControl) this.state.flow(spec.flowControl.key).config = { ...spec.flowControl };
    this.state.messages.set(message.messageId, message);
    this.state.countWaiting(message, 1);
    this.state.saveMessage(message);
    // A delayed message says when it is due, as QStash's logs do (the dashboard shows it).
    logEvent(this.state, message, {
      state: "CREATED",
      ...(message.dueAt > now ? { nextDeliveryTime: message.dueAt } : {}),
    });
    this.delivery.schedulePump();
    return { messageId: message.messageId };
  }

  /**
   * Refuses, before anything is accepted, a publish of `count` messages that would hold more than the
   * live-message cap (issue 20, item 12: one request could otherwise fill the memory).
   */
  ensureRoom(count: number): void {
    const max = this.state.options.maxMessages ?? DEFAULT_MAX_MESSAGES;
    if (this.state.messages.size + count > max)
      throw new LimitReached(
        `too many messages: qjobs dev holds at most ${max} waiting or in-flight messages (${this.state.messages.size} now, ${count} more asked); cancel some or wait for deliveries`,
        max,
        Math.max(0, max - this.state.messages.size),
      );
  }

  /** How many messages a publish to a URL group makes: one per endpoint. */
  groupSize(name: string): number {
    return this.urlGroups.size(name);
  }

  /** Publishes one message per endpoint of a URL group, each with its own retries and dead letter. */
  publishToGroup(name: string, spec: MessageSpec): { messageId: string; url: string; deduplicated?: true }[] {
    const group = this.state.groups.get(name);
    if (!group || group.endpoints.length === 0) throw new NotFound(`url group "${name}"`);
    return group.endpoints.map((endpoint) => ({
      ...this.publish(
        { ...spec, url: endpoint.url, topicName: name, endpointName: endpoint.name },
        `\n${endpoint.url}`,
      ),
      url: endpoint.url,
    }));
  }

  getMessage(messageId: string): Message | undefined {
    return this.state.messages.get(messageId);
  }

  /**
   * Cancels a message; returns whether there was one. One being delivered right now is cancelled as QStash
   * does: that attempt ends, and no other follows it (no retry, no dead letter, no callback).
   */
  cancel(messageId: string): boolean {
    const message = this.state.messages.get(messageId);
    if (!message) return false;
    if (message.state === "ACTIVE") message.cancelled = true;
    this.state.forget(message);
    logEvent(this.state, message, { state: "CANCELED" });
    this.delivery.settleIfIdle();
    return true;
  }

  /** Cancels every message that matches, in flight too (a filter that matches nothing cancels nothing). */
  cancelMatching(filter: Filter): number {
    const matching = [...this.state.messages.values()].filter((message) => matches(filter, filterable(message)));
    return matching.filter((message) => this.cancel(message.messageId)).length;
  }

  listEvents(filter: Filter, count?: number, cursor?: string): Page<LogEvent> {
    return listEvents(this.state, filter, count, cursor);
  }

  // ---- the dead-letter queue ---------------------------------------------------------------------

  listDlq(filter: Filter, count?: number, cursor?: string): Page<DlqEntry> {
    return this.deadLetters.list(filter, count, cursor);
  }

  getDlq(dlqId: string): DlqEntry | undefined {
    return this.deadLetters.get(dlqId);
  }

  deleteDlq(dlqId: string): boolean {
    return this.deadLetters.delete(dlqId);
  }

  deleteDlqMatching(filter: Filter, count?: number, cursor?: string): { deleted: number; cursor?: string } {
    return this.deadLetters.deleteMatching(filter, count, cursor);
  }

  /**
   * Publishes a dead letter again, as a new message, and takes it out of the queue. The retry's configuration
   * headers (`retryOverrides`) override the dead letter's settings.
   */
  retryDlq(dlqId: string, overrides: Partial<MessageSpec> = {}): { messageId: string } | undefined {
    const entry = this.state.dlq.get(dlqId);
    if (!entry) return undefined;
    this.ensureRoom(1); // a retry is a new message: past the cap, the dead letter stays
    this.deadLetters.delete(dlqId);
    const { messageId, createdAt, retryDelayFn, state, retried, dueAt, deduplicationId, ...spec } = entry.message;
    return this.publish({
      ...spec,
      delayMs: 0,
      notBefore: undefined,
      ...overrides,
      headers: { ...spec.headers, ...overrides.headers },
    });
  }

  retryDlqMatching(
    filter: Filter,
    overrides: Partial<MessageSpec>,
    count?: number,
    cursor?: string,
  ): { responses: { messageId: string }[]; cursor?: string } {
    const chosen = this.deadLetters.list(filter, count, cursor);
    this.ensureRoom(chosen.items.length); // all or nothing, as a batch
    const responses = chosen.items.flatMap((entry) => this.retryDlq(entry.dlqId, overrides) ?? []);
    return { responses, ...(chosen.cursor ? { cursor: chosen.cursor } : {}) };
  }

  // ---- queues, flow control, URL groups, schedules: each its own part ------------------------------

  listQueues(): Queue[] {
    return this.queueList.listQueues();
  }

  getQueue(name: string): Queue | undefined {
    return this.queueList.getQueue(name);
  }

  upsertQueue(name: string, update: { parallelism?: number; paused?: boolean }): Queue {
    return this.queueList.upsertQueue(name, update);
  }

  deleteQueue(name: string): boolean {
    return this.queueList.deleteQueue(name);
  }

  queueLag(name: string): number {
    return this.queueList.queueLag(name);
  }

  flowControlInfo(key: string) {
    return this.flowControl.flowControlInfo(key);
  }

  flowControlKeys(): string[] {
    return this.flowControl.flowControlKeys();
  }

  updateFlow(...args: Parameters<FlowControl["updateFlow"]>): boolean {
    return this.flowControl.updateFlow(...args);
  }

  globalParallelism(): { parallelismMax: number; parallelismCount: number } {
    return this.flowControl.globalParallelism();
  }

  listGroups(): UrlGroup[] {
    return this.urlGroups.list();
  }

  getGroup(name: string): UrlGroup | undefined {
    return this.urlGroups.get(name);
  }

  addEndpoints(name: string, endpoints: { name?: string; url: string }[]): UrlGroup {
    return this.urlGroups.add(name, endpoints);
  }

  removeEndpoints(name: string, endpoints: { name?: string; url?: string }[]): boolean {
    return this.urlGroups.remove(name, endpoints);
  }

  deleteGroup(name: string): boolean {
    return this.urlGroups.delete(name);
  }

  listSchedules(): Schedule[] {
    return this.scheduleList.list();
  }

  getSchedule(scheduleId: string): Schedule | undefined {
    return this.scheduleList.get(scheduleId);
  }

  createSchedule(cronText: string, spec: MessageSpec, scheduleId?: string): Schedule {
    return this.scheduleList.create(cronText, spec, scheduleId);
  }

  deleteSchedule(scheduleId: string): boolean {
    return this.scheduleList.delete(scheduleId);
  }

  /** Publishes a schedule's message once, now (QStash has no such endpoint; the dashboard's "Trigger now"). */
  triggerSchedule(scheduleId: string): { messageId: string } | undefined {
    return this.scheduleList.trigger(scheduleId);
  }

  pauseSchedule(scheduleId: string, paused: boolean): boolean {
    return this.scheduleList.pause(scheduleId, paused);
  }

  // ---- delivery ----------------------------------------------------------------------------------

  /** Resolves once no message is waiting or being delivered. */
  idle(): Promise<void> {
    return this.delivery.idle();
  }

  /** Resolves once nothing is being delivered right now (later retries may still be waiting). */
  settled(): Promise<void> {
    return this.delivery.settled();
  }

  stop(): void {
    this.delivery.stop();
    for (const schedule of this.state.schedules.values()) schedule.cancelTimer?.();
    this.state.store.close();
  }
}
