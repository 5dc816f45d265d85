import type { Cron } from "../cron.js";
import type { JournalRecord, Store } from "../storage/journal.js";
import type { Clock } from "../time.js";
import type { Deliver, DeliveryResponse } from "./deliver.js";
import type { Message, MessageSpec } from "./message.js";

// The local QStash's state, as its parts and its HTTP layer see it.

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
