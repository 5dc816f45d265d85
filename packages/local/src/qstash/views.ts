import type { DlqEntry, LogEvent, Queue, Schedule, UrlGroup } from "./gateway.js";
import type { Message, MessageSpec, Redact } from "./message.js";

// The JSON shapes QStash answers with and the SDK parses: Message, DlqMessage, Log, Schedule, queues, URL groups.

/** `content-type` → `Content-Type`: header names as QStash returns them. */
export const canonical = (name: string) =>
  name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());

const redacted = (redact: Redact | undefined, name: string) =>
  redact !== undefined && (redact.headers === true || redact.headers.includes(name));

/** Headers as QStash lists them: canonical names, each with a list of values; redacted ones say so. */
function headerView(headers: Record<string, string>, redact?: Redact): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [canonical(name), [redacted(redact, name) ? "REDACTED" : value]]),
  );
}

/** A body as QStash shows it: absent when empty, REDACTED when asked, text when it is UTF-8, else base64. */
function bodyView(body: Buffer, redact?: Redact): { body?: string; bodyBase64?: string } {
  if (body.length === 0) return {};
  if (redact?.body) return { body: "REDACTED" };
  const text = body.toString("utf8");
  return Buffer.from(text, "utf8").equals(body) ? { body: text } : { bodyBase64: body.toString("base64") };
}

/** What a message (or a schedule's template) was published with. */
function publishedView(spec: MessageSpec) {
  const flow = spec.flowControl;
  return {
    url: spec.url,
    ...(spec.topicName ? { topicName: spec.topicName } : {}),
    ...(spec.endpointName ? { endpointName: spec.endpointName } : {}),
    method: spec.method,
    header: headerView(spec.headers, spec.redact),
    ...bodyView(spec.body, spec.redact),
    maxRetries: spec.maxRetries,
    ...(spec.retryDelay ? { retryDelayExpression: spec.retryDelay } : {}),
    ...(spec.callback ? { callback: spec.callback.url } : {}),
    ...(spec.failureCallback ? { failureCallback: spec.failureCallback.url } : {}),
    ...(spec.queueName ? { queueName: spec.queueName } : {}),
    ...(spec.labels.length > 0 ? { label: spec.labels[0], labels: spec.labels } : {}),
    ...(flow
      ? {
          flowControlKey: flow.key,
          ...(flow.parallelism !== undefined ? { parallelism: flow.parallelism } : {}),
          ...(flow.rate !== undefined ? { rate: flow.rate } : {}),
          period: flow.periodMs / 1000,
        }
      : {}),
    callerIp: spec.callerIp,
  };
}

export function messageView(message: Message) {
  return {
    messageId: message.messageId,
    ...publishedView(message),
    notBefore: message.dueAt,
    createdAt: message.createdAt,
    ...(message.scheduleId ? { scheduleId: message.scheduleId } : {}),
  };
}

export function dlqView(entry: DlqEntry) {
  const { response } = entry;
  const body = bodyView(response.body);
  return {
    ...messageView(entry.message),
    dlqId: entry.dlqId,
    responseStatus: response.status ?? 0,
    responseHeader: headerView(response.headers),
    ...(body.body !== undefined ? { responseBody: body.body } : {}),
    ...(body.bodyBase64 !== undefined ? { responseBodyBase64: body.bodyBase64 } : {}),
    ...(response.error ? { error: response.error } : {}),
  };
}

export function eventView(event: LogEvent) {
  const { seq: _, labels, header, responseHeader, ...rest } = event;
  return {
    ...rest,
    ...(header
      ? { header: Object.fromEntries(Object.entries(header).map(([name, value]) => [canonical(name), value])) }
      : {}),
    ...(responseHeader
      ? {
          responseHeader: Object.fromEntries(
            Object.entries(responseHeader).map(([name, value]) => [canonical(name), value]),
          ),
        }
      : {}),
    ...(labels.length > 0 ? { label: labels[0], labels } : {}),
  };
}

export function scheduleView(schedule: Schedule) {
  const { spec } = schedule;
  const { url, ...published } = publishedView(spec);
  return {
    scheduleId: schedule.scheduleId,
    cron: schedule.cron.source,
    createdAt: schedule.createdAt,
    destination: url,
    ...published,
    retries: spec.maxRetries,
    ...(spec.delayMs ? { delay: spec.delayMs / 1000 } : {}),
    isPaused: schedule.isPaused,
    ...(schedule.lastScheduleTime ? { lastScheduleTime: schedule.lastScheduleTime } : {}),
    ...(schedule.nextScheduleTime ? { nextScheduleTime: schedule.nextScheduleTime } : {}),
  };
}

export function queueView(queue: Queue, lag: number) {
  const { name, parallelism, paused, createdAt, updatedAt } = queue;
  return { name, parallelism, paused, createdAt, updatedAt, lag };
}

export function groupView(group: UrlGroup) {
  return { name: group.name, createdAt: group.createdAt, updatedAt: group.updatedAt, endpoints: group.endpoints };
}
