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
] as const;

export type DashboardEndpoint = (typeof DASHBOARD_ENDPOINTS)[number];

/** The listed endpoint a call matches (method and path, the query aside), or undefined. */
export function dashboardEndpoint(method: string, pathname: string): DashboardEndpoint | undefined {
  const segments = pathname.split("/");
  return DASHBOARD_ENDPOINTS.find((endpoint) => {
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
