import { parseCron } from "../cron.js";
import type { JournalRecord } from "../storage/journal.js";
import type { DeliveryResponse } from "./deliver.js";
import { MAX_EVENTS } from "./events.js";
import type { Message } from "./message.js";
import { parseRetryDelay } from "./retry-delay.js";
import type { QStashState } from "./state.js";
import type { DlqEntry, FlowState, LogEvent, Queue, Schedule, UrlGroup } from "./types.js";

// The local QStash in its journal: each change as a record, the replay of records at start, and the live
// state as the fewest records (what a compacted journal holds).

/** A message as it was published, in the journal: the body as base64, no parsed retry-delay function. */
export function serializeMessage(message: Message) {
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

/** Applies a journal: the state it describes becomes this one (the engine then arms schedules and delivers). */
export function replay(state: QStashState, records: readonly JournalRecord[]): void {
  for (const record of records) {
    switch (record.k) {
      case "msg": {
        const message = restoreMessage(record.m as Record<string, unknown>);
        // A message in flight at the crash is delivered again: at least once, as QStash.
        if (message.state === "ACTIVE") message.state = message.retried > 0 ? "RETRY" : "CREATED";
        state.messages.set(message.messageId, message);
        break;
      }
      case "gone":
        state.messages.delete(record.id as string);
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
        state.dlq.set(entry.dlqId, entry);
        break;
      }
      case "undlq":
        state.dlq.delete(record.id as string);
        break;
      case "event":
        state.events.push(record.e as LogEvent);
        break;
      case "queue":
        state.queues.set((record.q as Queue).name, record.q as Queue);
        break;
      case "unqueue":
        state.queues.delete(record.name as string);
        break;
      case "group":
        state.groups.set((record.g as UrlGroup).name, record.g as UrlGroup);
        break;
      case "ungroup":
        state.groups.delete(record.name as string);
        break;
      case "flow": {
        const stored = record.f as Pick<FlowState, "key" | "paused" | "pinned">;
        Object.assign(state.flow(stored.key), { paused: stored.paused, pinned: stored.pinned });
        break;
      }
      case "schedule": {
        const stored = record.s as Record<string, unknown>;
        const spec = restoreMessage(stored.spec as Record<string, unknown>);
        state.schedules.set(stored.scheduleId as string, {
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
        state.schedules.delete(record.id as string);
        break;
      case "dedup":
        state.dedup.set(record.id as string, {
          messageId: record.messageId as string,
          expiresAt: record.expiresAt as number,
        });
        break;
    }
  }
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
  state.seq = Math.max(
    0,
    ...state.events.map((event) => event.seq),
    ...[...state.dlq.values()].map((entry) => entry.seq),
  );
  for (const message of state.messages.values()) state.countWaiting(message, 1);
}

/** The live state as journal records: what a compacted journal holds. */
export function* liveRecords(state: QStashState): Generator<JournalRecord> {
  const now = state.now();
  for (const queue of state.queues.values()) yield { k: "queue", q: queue };
  for (const group of state.groups.values()) yield { k: "group", g: group };
  for (const flow of state.flows.values()) {
    if (flow.paused || flow.pinned) yield { k: "flow", f: { key: flow.key, paused: flow.paused, pinned: flow.pinned } };
  }
  for (const schedule of state.schedules.values()) yield scheduleRecord(schedule);
  for (const [id, seen] of state.dedup) if (seen.expiresAt > now) yield { k: "dedup", id, ...seen };
  for (const event of state.events) yield { k: "event", e: event };
  for (const entry of state.dlq.values()) yield dlqRecord(entry);
  for (const message of state.messages.values()) yield { k: "msg", m: serializeMessage(message) };
}

export function scheduleRecord(schedule: Schedule): JournalRecord {
  const { scheduleId, cron, spec, createdAt, isPaused, lastScheduleTime } = schedule;
  const stored = { ...spec, messageId: "", createdAt, state: "CREATED", retried: 0, dueAt: 0 } as Message;
  return {
    k: "schedule",
    s: { scheduleId, cron: cron.source, spec: serializeMessage(stored), createdAt, isPaused, lastScheduleTime },
  };
}

export function dlqRecord(entry: DlqEntry): JournalRecord {
  const { message, response, ...rest } = entry;
  return { k: "dlq", e: { ...rest, message: serializeMessage(message), response: serializeResponse(response) } };
}
