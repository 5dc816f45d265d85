import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { memoryStore, type Store } from "../storage/journal.js";
import type { Message } from "./message.js";
import { liveRecords, serializeMessage } from "./records.js";
import type { DlqEntry, EngineOptions, FlowState, LogEvent, Queue, Schedule, UrlGroup } from "./types.js";

/**
 * Everything the local QStash holds, shared by its parts (publishing, delivery, the dead-letter queue,
 * schedules, queues and flow control, URL groups, the journal). Only those parts change it; the HTTP layer
 * goes through the Engine's API.
 */
export class QStashState {
  /** Messages not yet delivered or failed, in publish order. */
  readonly messages = new Map<string, Message>();
  readonly dlq = new Map<string, DlqEntry>();
  readonly schedules = new Map<string, Schedule>();
  readonly queues = new Map<string, Queue>();
  readonly groups = new Map<string, UrlGroup>();
  readonly events: LogEvent[] = [];
  readonly flows = new Map<string, FlowState>();
  readonly dedup = new Map<string, { messageId: string; expiresAt: number }>();
  readonly queueActive = new Map<string, number>();
  /** Messages waiting (not in flight) per queue and per flow-control key: counted, never walked for. */
  readonly waitingInQueue = new Map<string, number>();
  readonly waitingForFlow = new Map<string, number>();
  readonly store: Store;
  readonly signingKey: string;
  /** Orders log events and dead letters for paging. */
  seq = 0;
  /** Deliveries in flight. */
  active = 0;

  constructor(readonly options: EngineOptions) {
    this.signingKey = options.signingKey ?? DEV_CREDENTIALS.currentSigningKey;
    this.store = options.store ?? memoryStore();
  }

  now(): number {
    return this.options.clock.now();
  }

  get concurrency(): number {
    return this.options.concurrency ?? 100;
  }

  /** Keeps the per-queue and per-key counts of waiting messages as a message starts or stops waiting. */
  countWaiting(message: Message, delta: 1 | -1): void {
    const add = (counts: Map<string, number>, key: string) => {
      const next = (counts.get(key) ?? 0) + delta;
      if (next > 0) counts.set(key, next);
      else counts.delete(key);
    };
    if (message.queueName) add(this.waitingInQueue, message.queueName);
    if (message.flowControl) add(this.waitingForFlow, message.flowControl.key);
  }

  /** A flow-control key's state, created at first sight. */
  flow(key: string): FlowState {
    let state = this.flows.get(key);
    if (!state) {
      state = { key, paused: false, config: { periodMs: 1000 }, active: 0, starts: [], periodStart: this.now() };
      this.flows.set(key, state);
    }
    return state;
  }

  saveMessage(message: Message): void {
    this.store.append({ k: "msg", m: serializeMessage(message) });
  }

  /** Drops a message that is done (delivered, failed or cancelled). */
  forget(message: Message): void {
    if (!this.messages.delete(message.messageId)) return;
    if (message.state === "CREATED" || message.state === "RETRY") this.countWaiting(message, -1);
    this.store.append({ k: "gone", id: message.messageId });
    this.compactIfDue();
  }

  /** Rewrites the journal once it holds far more records than the live state. */
  compactIfDue(): void {
    const live = this.messages.size + this.dlq.size + this.events.length + this.schedules.size + this.dedup.size;
    if (this.store.size > 2 * live + 10_000) this.compact();
  }

  compact(): void {
    this.store.compact(liveRecords(this));
  }
}
