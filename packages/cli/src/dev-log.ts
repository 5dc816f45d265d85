import { escapeControls } from "@qjobs/runtime";
import type { AttemptReport } from "#local";
import type { Colors } from "./terminal.js";
import { formatClock as clock, formatDuration } from "./terminal.js";

/** What a delivery is called in the log: its job key when it went to a qjobs route, else its URL. */
function deliveryName(url: string): string {
  try {
    return new URL(url).searchParams.get("job") ?? url;
  } catch {
    return url;
  }
}

/** Why an attempt failed, in a few words: the route's error message, the network error, or the status. */
function reason(report: AttemptReport): string {
  const { response } = report;
  if (response.error === "ECONNREFUSED")
    return `ECONNREFUSED: is the app running at ${new URL(report.message.url).origin}?`;
  if (response.error) return response.error;
  const text = response.body.toString("utf8").slice(0, 2000);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } | string };
    const message = typeof parsed.error === "string" ? parsed.error : parsed.error?.message;
    if (message) return message;
  } catch {
    // not JSON: the text itself
  }
  return text.trim().split("\n")[0]?.slice(0, 200) || `HTTP ${response.status}`;
}

/** One line per attempt: time, job key or URL, attempt, status, duration, and what happens next. */
export function formatAttempt(report: AttemptReport, now: number, color: Colors): string {
  const { message, response, outcome } = report;
  const status = response.status === undefined ? "---" : String(response.status);
  const paint = outcome === "delivered" ? color.green : outcome === "retry" ? color.yellow : color.red;
  const kind = message.sourceMessageId ? color.dim(" (callback)") : "";
  // The URL comes from whoever published, the reason from the app: neither may drive the terminal.
  const columns = `${color.dim(clock(now))}  ${escapeControls(deliveryName(message.url)).padEnd(24)}${kind}  #${report.attempt}  ${paint(status)}  ${formatDuration(response.durationMs).padStart(7)}`;
  if (outcome === "delivered") return columns;
  const next =
    outcome === "retry"
      ? `retry in ${formatDuration(report.retryInMs ?? 0)}`
      : message.sourceMessageId
        ? "failed for good"
        : "failed for good → DLQ";
  return `${columns}  ${paint(next)}: ${escapeControls(reason(report))}`;
}
