import type { ScheduleOptions } from "./schedules/plan.js";

/** The Upstash-* headers a publish with these options carries (what the SDK would send). */
export function publishHeaders(options: ScheduleOptions): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const duration = (value: number | string) => (typeof value === "number" ? `${value}s` : value);
  if (options.retries !== undefined) headers["upstash-retries"] = String(options.retries);
  if (options.delay !== undefined) headers["upstash-delay"] = duration(options.delay);
  if (options.timeout !== undefined) headers["upstash-timeout"] = duration(options.timeout);
  if (options.retryDelay) headers["upstash-retry-delay"] = options.retryDelay;
  if (options.callback) headers["upstash-callback"] = options.callback;
  if (options.failureCallback) headers["upstash-failure-callback"] = options.failureCallback;
  if (options.failureCallbackRetries !== undefined)
    headers["upstash-failure-callback-retries"] = String(options.failureCallbackRetries);
  if (options.label) headers["upstash-label"] = options.label;
  const flow = options.flowControl;
  if (flow) {
    headers["upstash-flow-control-key"] = flow.key;
    headers["upstash-flow-control-value"] = [
      flow.parallelism !== undefined ? `parallelism=${flow.parallelism}` : "",
      flow.rate !== undefined ? `rate=${flow.rate}` : "",
      flow.period !== undefined ? `period=${duration(flow.period)}` : "",
    ]
      .filter(Boolean)
      .join(",");
  }
  for (const [name, value] of Object.entries(options.headers ?? {}))
    headers[`upstash-forward-${name.toLowerCase()}`] = value;
  return headers;
}
