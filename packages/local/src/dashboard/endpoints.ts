/**
 * Every QStash REST call the dashboard may make, and why. The page makes no other (its browser test checks
 * each request against this list), and the CLI's proxy forwards no other: a page that went wrong, or a script
 * that reached it, cannot create schedules, touch queues or URL groups, or read the signing keys.
 * Pure, so the page's bundle, the proxy and the tests share it.
 */
export const DASHBOARD_ENDPOINTS = [
  // The logs are `/v2/events`, as @upstash/qstash 2.12.0 calls them (`{ events, cursor }`).
  { method: "GET", path: "/v2/events", use: "messages, their attempts, counts per job and the chart" },
  { method: "GET", path: "/v2/dlq", use: "Dead letters" },
  { method: "POST", path: "/v2/dlq/retry/:dlqId", use: '"Retry" a dead letter' },
  { method: "DELETE", path: "/v2/dlq/:dlqId", use: '"Delete" a dead letter' },
  { method: "DELETE", path: "/v2/messages/:messageId", use: '"Cancel" a message not yet delivered' },
  {
    method: "POST",
    path: "/v2/publish/:destination*",
    use: '"Dispatch", "Replay", "Edit and replay", "Trigger now"; only to the app\'s own jobs route',
  },
  { method: "GET", path: "/v2/schedules", use: "Schedules: what QStash holds" },
  { method: "PATCH", path: "/v2/schedules/:scheduleId/pause", use: '"Pause"' },
  { method: "PATCH", path: "/v2/schedules/:scheduleId/resume", use: '"Resume"' },
  // Read-only: the page never pauses, pins or resets a key (those are POSTs under /v2/flowControl/{key}/...).
  {
    method: "GET",
    path: "/v2/flowControl",
    use: "Jobs: each job's flow-control keys and their state, one call a poll",
  },
  { method: "GET", path: "/v2/flowControl/:flowControlKey", use: "Jobs: one key's detail, on demand" },
] as const;

/**
 * The header a Replay (or Edit and replay) publishes with, naming the message it replays: QStash forwards it to
 * the app and lists it in the new message's CREATED entry, so the page links a replay and its original from
 * QStash's logs alone (no run store needed). The proxy lets it through only holding a message id.
 */
export const REPLAY_OF_HEADER = "qjobs-replay-of";
/** As the page sends it: `Upstash-Forward-` makes QStash pass it on to the app. */
export const REPLAY_OF_FORWARD = `upstash-forward-${REPLAY_OF_HEADER}`;
/** A message id as QStash writes them (`msg_…`): letters, digits, `_` and `-`, never a long text. */
export const MESSAGE_ID = /^[A-Za-z0-9_-]{1,200}$/;

export type DashboardEndpoint = (typeof DASHBOARD_ENDPOINTS)[number];

/**
 * The calls the page makes to the CLI itself (not forwarded to QStash), and why. All read-only: runs are read by
 * the CLI, which holds the run store's token; the page never sees it and sends no Redis command.
 */
export const PAGE_ENDPOINTS = [
  { method: "GET", path: "/api/project", use: "the project's jobs, their schedules and the jobs URL" },
  { method: "GET", path: "/api/runs", use: "a job's recent runs (?key=, limit=, cursor=), on the Jobs view" },
  { method: "GET", path: "/api/runs/:runId", use: "a message's run (status, result, error, progress), on its view" },
  {
    method: "GET",
    path: "/api/retries/:messageId",
    use: "what a message is to the dead-letter retries made here (retry of, retried as), on its view",
  },
] as const;

/** The listed endpoint a call matches (method and path, the query aside), or undefined. */
export function dashboardEndpoint(method: string, pathname: string): DashboardEndpoint | undefined {
  return matchEndpoint(DASHBOARD_ENDPOINTS, method, pathname);
}

export type PageEndpoint = (typeof PAGE_ENDPOINTS)[number];

/** The page's own endpoint (PAGE_ENDPOINTS) a call matches, or undefined. */
export function pageEndpoint(method: string, pathname: string): PageEndpoint | undefined {
  return matchEndpoint(PAGE_ENDPOINTS, method, pathname);
}

function matchEndpoint<T extends { method: string; path: string }>(
  list: readonly T[],
  method: string,
  pathname: string,
): T | undefined {
  const segments = pathname.split("/");
  return list.find((endpoint) => {
    if (endpoint.method !== method.toUpperCase()) return false;
    const pattern = endpoint.path.split("/");
    const last = pattern[pattern.length - 1] as string;
    // `:name*` takes the rest of the path (a destination URL keeps its slashes).
    if (last.endsWith("*")) {
      return (
        segments.length >= pattern.length &&
        pattern.slice(0, -1).every((part, index) => part === segments[index]) &&
        segments.slice(pattern.length - 1).join("/") !== ""
      );
    }
    return (
      segments.length === pattern.length &&
      pattern.every((part, index) => (part.startsWith(":") ? segments[index] !== "" : part === segments[index]))
    );
  });
}
