import type { State } from "@upstash/qstash";
import type { DispatchConfig } from "../env.js";
import { qstashClient } from "../publish.js";
import { isRunEnded, MAX_ERROR_CHARS, type Run, type RunStatus } from "./model.js";

/** What a QStash log state says of a run. */
const STATUS_OF: Record<State, RunStatus> = {
  CREATED: "queued",
  ACTIVE: "queued",
  IN_PROGRESS: "running",
  ERROR: "retrying",
  RETRY: "retrying",
  DELIVERED: "succeeded",
  FAILED: "failed",
  CANCELED: "cancelled",
};

/** The job key in a delivery URL (`?job=`), or undefined. */
function keyOf(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get("job") ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * A run as QStash's logs tell it, for apps without a run store: status, attempts and the error QStash saw; no
 * result, no progress (`source: "qstash"`). Undefined when QStash has no log of the message (logs are recent only).
 */
export async function runFromQStashLogs(config: DispatchConfig, id: string): Promise<Run | undefined> {
  const client = await qstashClient(config);
  const { logs } = await client.logs({ messageIds: [id] });
  const entries = logs.filter((log) => log.messageId === id).sort((a, b) => a.time - b.time);
  const first = entries[0];
  const last = entries.at(-1);
  if (!first || !last) return undefined;
  const key = keyOf(last.url) ?? keyOf(first.url);
  if (!key) return undefined;
  const status = STATUS_OF[last.state] ?? "queued";
  const attempts = entries.filter(
    (log) => log.state === "ERROR" || log.state === "DELIVERED" || log.state === "FAILED",
  );
  const failed = [...entries].reverse().find((log) => log.error);
  const started = entries.find(
    (log) => log.state === "IN_PROGRESS" || log.state === "ERROR" || log.state === "DELIVERED",
  );
  const ended = isRunEnded({ status });
  return {
    id,
    key,
    status,
    attempt: Math.max(attempts.filter((log) => log.state !== "FAILED").length, status === "running" ? 1 : 0),
    ...(failed?.error && status !== "succeeded" ? { error: { message: failed.error.slice(0, MAX_ERROR_CHARS) } } : {}),
    source: "qstash",
    createdAt: new Date(first.time).toISOString(),
    ...(started ? { startedAt: new Date(started.time).toISOString() } : {}),
    ...(ended ? { finishedAt: new Date(last.time).toISOString() } : {}),
    updatedAt: new Date(last.time).toISOString(),
  };
}
