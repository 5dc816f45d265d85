import type { DeliveryResponse } from "./deliver.js";
import type { CallbackConfig, Message, MessageSpec } from "./message.js";

/** QStash's callback body (features/callbacks), published as a new signed message to the callback URL. */
export function publishCallback(
  publish: (spec: MessageSpec) => unknown,
  message: Message,
  config: CallbackConfig,
  response: DeliveryResponse,
  dlqId?: string,
): void {
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
  publish({
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
