import type { DlqEntry, Queue, Schedule } from "./engine.js";
import type { Message } from "./message.js";

/** The JSON shapes the SDK parses: `Message`, `DlqMessage`, `Schedule`, queues. */
const listHeader = (headers: Record<string, string>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]]));

export function messageView(message: Message) {
  const flow = message.flowControl;
  return {
    messageId: message.messageId,
    url: message.url,
    method: message.method,
    header: listHeader(message.headers),
    body: message.body.toString("utf8"),
    maxRetries: message.maxRetries,
    notBefore: message.dueAt,
    createdAt: message.createdAt,
    ...(message.retryDelay ? { retryDelayExpression: message.retryDelay } : {}),
    ...(message.callback ? { callback: message.callback.url } : {}),
    ...(message.failureCallback ? { failureCallback: message.failureCallback.url } : {}),
    ...(message.queueName ? { queueName: message.queueName } : {}),
    ...(message.scheduleId ? { scheduleId: message.scheduleId } : {}),
    ...(message.label ? { label: message.label } : {}),
    ...(flow
      ? { flowControlKey: flow.key, parallelism: flow.parallelism, rate: flow.rate, period: flow.periodMs / 1000 }
      : {}),
    callerIP: message.callerIp,
  };
}

export function dlqView(entry: DlqEntry) {
  return {
    ...messageView(entry.message),
    dlqId: entry.dlqId,
    responseStatus: entry.response.status ?? 0,
    responseHeader: listHeader(entry.response.headers),
    responseBody: entry.response.body.toString("utf8"),
    ...(entry.response.error ? { error: entry.response.error } : {}),
  };
}

export function scheduleView(schedule: Schedule) {
  const { spec } = schedule;
  return {
    scheduleId: schedule.scheduleId,
    cron: schedule.cron.source,
    createdAt: schedule.createdAt,
    destination: spec.url,
    method: spec.method,
    header: listHeader(spec.headers),
    body: spec.body.toString("utf8"),
    retries: spec.maxRetries,
    ...(spec.delayMs ? { delay: spec.delayMs / 1000 } : {}),
    ...(spec.callback ? { callback: spec.callback.url } : {}),
    ...(spec.failureCallback ? { failureCallback: spec.failureCallback.url } : {}),
    isPaused: schedule.isPaused,
    ...(schedule.lastScheduleTime ? { lastScheduleTime: schedule.lastScheduleTime } : {}),
    ...(schedule.nextScheduleTime ? { nextScheduleTime: schedule.nextScheduleTime } : {}),
  };
}

export function queueView(queue: Queue, lag: number) {
  return {
    name: queue.name,
    parallelism: queue.parallelism,
    paused: queue.paused,
    createdAt: queue.createdAt,
    updatedAt: queue.updatedAt,
    lag,
  };
}
