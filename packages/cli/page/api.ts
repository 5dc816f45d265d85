import type { Run, RunPage } from "@qjobs/runtime";
import type { RetryLinksView } from "../../local/src/dashboard/dead-letter-retry.js";
import type { ProjectView } from "../../local/src/dashboard/view.js";
import { readFlowKeys } from "./flow-keys.js";
import type { LogEntry } from "./history.js";

// The page's only ways out: its own server's project view and runs, and QStash's REST API through the CLI, which adds
// the token (packages/local/src/dashboard/endpoints.ts lists the calls). Paths are relative: the page's address may start
// with a secret.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | readonly string[] | undefined>;

async function call<T>(
  method: string,
  path: string,
  init: { query?: Query; body?: string; headers?: Record<string, string> } = {},
): Promise<T> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(init.query ?? {})) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const query = search.size > 0 ? `?${search}` : "";
  const response = await fetch(`api/qstash${path}${query}`, {
    method,
    ...(init.headers ? { headers: init.headers } : {}),
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    let tooLarge = false;
    try {
      const answer = JSON.parse(text) as { error?: string; tooLarge?: boolean };
      message = answer.error ?? text;
      tooLarge = answer.tooLarge === true;
    } catch {}
    // The CLI buffers at most 32 MiB of an answer: a page of logs that big is asked for again, half as long.
    const count = Number(init.query?.count);
    if (tooLarge && count > 1)
      return call(method, path, { ...init, query: { ...init.query, count: Math.floor(count / 2) } });
    throw new ApiError(response.status, `${response.status}: ${message || response.statusText}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

const id = encodeURIComponent;

const notAKey = (key: string): never => {
  throw new ApiError(502, `QStash's answer for flow-control key "${key}" is not a flow-control key`);
};

export interface DlqMessage {
  dlqId: string;
  messageId: string;
  url: string;
  body?: string;
  createdAt: number;
  responseStatus?: number;
  responseBody?: string;
  error?: string;
}

export interface RegisteredSchedule {
  scheduleId: string;
  cron: string;
  destination: string;
  body?: string;
  header?: Record<string, string | string[]>;
  retries?: number;
  callback?: string;
  failureCallback?: string;
  labels?: string[];
  flowControlKey?: string;
  parallelism?: number;
  rate?: number;
  period?: number;
  retryDelayExpression?: string;
  isPaused?: boolean;
  nextScheduleTime?: number;
  lastScheduleTime?: number;
}

/**
 * A flow-control key's state as the page shows it (see `readFlowKeys`): QStash's list may carry only the key and
 * its wait list, so every other figure may be missing; `ratePeriodStart` in milliseconds.
 */
export interface FlowControlInfo {
  flowControlKey: string;
  waitListSize: number;
  parallelismMax?: number;
  parallelismCount?: number;
  rateMax?: number;
  rateCount?: number;
  /** Seconds. */
  ratePeriod?: number;
  ratePeriodStart?: number;
  isPaused?: boolean;
  isPinnedParallelism?: boolean;
  isPinnedRate?: boolean;
}

export const qstash = {
  events: (query: Query) => call<{ events: LogEntry[]; cursor?: string }>("GET", "/v2/events", { query }),
  dlq: (query: Query) => call<{ messages: DlqMessage[]; cursor?: string }>("GET", "/v2/dlq", { query }),
  retryDead: (dlqId: string) => call<{ messageId: string }>("POST", `/v2/dlq/retry/${id(dlqId)}`),
  deleteDead: (dlqId: string) => call<void>("DELETE", `/v2/dlq/${id(dlqId)}`),
  cancel: (messageId: string) => call<void>("DELETE", `/v2/messages/${id(messageId)}`),
  // QStash reads the destination raw, its own query string included (`?job=key`), as the SDK sends it.
  publish: (destination: string, body: string, headers: Record<string, string>) =>
    // A hook's URL is QStash's to call with a failure's fields: the page never publishes there (the CLI refuses too).
    /[?&]hook=/.test(destination)
      ? Promise.reject(new ApiError(400, "The dashboard does not publish to a job's onFailure hook"))
      : call<{ messageId: string }>("POST", `/v2/publish/${destination}`, { body, headers }),
  schedules: () => call<RegisteredSchedule[]>("GET", "/v2/schedules"),
  pause: (scheduleId: string) => call<void>("PATCH", `/v2/schedules/${id(scheduleId)}/pause`),
  resume: (scheduleId: string) => call<void>("PATCH", `/v2/schedules/${id(scheduleId)}/resume`),
  flowKeys: () => call<unknown>("GET", "/v2/flowControl").then(readFlowKeys),
  flowKey: (key: string) =>
    call<unknown>("GET", `/v2/flowControl/${id(key)}`).then((answer) => readFlowKeys([answer])[0] ?? notAKey(key)),
};

export async function loadProject(): Promise<ProjectView> {
  const response = await fetch("api/project");
  if (!response.ok) throw new ApiError(response.status, `the project could not be read (${response.status})`);
  return (await response.json()) as ProjectView;
}

/** What the CLI's run endpoints answer (packages/local/src/dashboard/runs.ts): "not configured" is an answer, not an error. */
export type RunsAnswer<T> = { configured: false; message: string; variables: string[] } | ({ configured: true } & T);

async function readRuns<T>(path: string): Promise<RunsAnswer<T> | undefined> {
  const response = await fetch(path);
  if (response.status === 404) return undefined;
  const answer = (await response.json().catch(() => ({}))) as RunsAnswer<T> & { error?: string };
  if (!response.ok) throw new ApiError(response.status, `${response.status}: ${answer.error ?? response.statusText}`);
  return answer;
}

export const runs = {
  /** A message's run (the one that retried it, when it was retried from the dead letters); undefined when none. */
  get: (messageId: string) => readRuns<{ run: Run }>(`api/runs/${id(messageId)}`),
  /** A job's recent runs, newest first. */
  list: (key: string, limit: number) =>
    readRuns<RunPage>(`api/runs?${new URLSearchParams({ key, limit: String(limit) })}`) as Promise<RunsAnswer<RunPage>>,
};

/** The dead-letter retries this dashboard made, as the CLI kept them (dead-letter-retry.ts): none is an answer. */
export const retries = {
  of: async (messageId: string): Promise<RetryLinksView> => {
    const response = await fetch(`api/retries/${id(messageId)}`);
    if (!response.ok) throw new ApiError(response.status, `retries of ${messageId}: ${response.status}`);
    return (await response.json()) as RetryLinksView;
  },
};
