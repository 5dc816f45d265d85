import { type Filter, matches } from "./filters.js";
import type { Message } from "./message.js";
import { page } from "./paging.js";
import type { QStashState } from "./state.js";
import type { LogEvent, Page } from "./types.js";

// The event log (`GET /v2/events`): what happened to each message, newest last, bounded.

export const MAX_EVENTS = 10_000;
/** A body in the event log is cut to this many bytes (the DLQ keeps a response's whole, up to 1 MiB). */
const MAX_EVENT_BODY = 4096;

export const textOf = (body: Buffer) => body.subarray(0, MAX_EVENT_BODY).toString("utf8");

export function logEvent(
  state: QStashState,
  message: Message,
  event: Partial<LogEvent> & Pick<LogEvent, "state">,
): void {
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
    seq: ++state.seq,
    time: state.now(),
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
  state.events.push(entry);
  state.store.append({ k: "event", e: entry });
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
}

export function listEvents(state: QStashState, filter: Filter, count?: number, cursor?: string): Page<LogEvent> {
  const events = [...state.events].reverse();
  return page(events, (event) => matches(filter, { ...event, time: event.time }), count, cursor);
}
