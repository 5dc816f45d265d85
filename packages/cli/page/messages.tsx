import type { ProjectView } from "../../local/src/dashboard/view.js";
import { qstash } from "./api.js";
import { jobOf, MESSAGE_STATES, type MessageState, type MessageSummary, pagingState, summarize } from "./history.js";
import { ColumnHeads, JobSelect, MessageLink, Section, StateBadge, Time, usePages, usePoll } from "./ui.js";

const PAGE = 50;

interface Page {
  rows: MessageSummary[];
  next?: string;
}

/**
 * One page of messages, newest first. The logs are paged by the entry the state filter names (CREATED for all:
 * every message has one), then the page's messages are read whole to know where each one is now.
 */
async function loadPage(
  destination: string | undefined,
  state: MessageState | undefined,
  cursor?: string,
): Promise<Page> {
  if (state === "dlq") {
    const { messages, cursor: next } = await qstash.dlq({ url: destination, count: PAGE, cursor });
    return {
      rows: messages.map((dead) => ({
        messageId: dead.messageId,
        url: dead.url,
        state: "dlq",
        time: dead.createdAt,
        ...(dead.responseStatus ? { status: dead.responseStatus } : {}),
      })),
      ...(next ? { next } : {}),
    };
  }
  const { events, cursor: next } = await qstash.events({
    url: destination,
    state: pagingState(state),
    count: PAGE,
    cursor,
  });
  const ids = [...new Set(events.map((entry) => entry.messageId))];
  const latest = ids.length > 0 ? summarize((await qstash.events({ messageIds: ids, count: 1000 })).events) : new Map();
  const rows = ids
    .map((id) => latest.get(id) ?? summarize(events).get(id))
    .filter((row): row is MessageSummary => row !== undefined && (state === undefined || row.state === state));
  return { rows, ...(next ? { next } : {}) };
}

const setFilter = (job: string, state: string) => {
  const query = new URLSearchParams();
  if (job) query.set("job", job);
  if (state) query.set("state", state);
  location.hash = `#/messages${query.size > 0 ? `?${query}` : ""}`;
};

export function MessagesView({ project, query }: { project: ProjectView; query: URLSearchParams }) {
  const job = query.get("job") ?? "";
  const state = (query.get("state") ?? "") as MessageState | "";
  const destination = project.jobs.find((candidate) => candidate.key === job)?.publish?.destination;
  const { cursor, pager } = usePages(`${job}|${state}`);
  const page = usePoll(
    () => loadPage(destination, state || undefined, cursor),
    [destination, state, cursor],
    cursor ? undefined : 1500,
  );
  const rows = page.data?.rows ?? [];

  return (
    <Section title="Messages">
      <div class="toolbar">
        <JobSelect jobs={project.jobs} value={job} onChange={(key) => setFilter(key, state)} />
        <label>
          State{" "}
          <select value={state} onChange={(event) => setFilter(job, (event.target as HTMLSelectElement).value)}>
            <option value="">any state</option>
            {MESSAGE_STATES.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">{cursor ? "an older page" : "live: newest first"}</span>
      </div>
      {page.error && <p class="error">Could not read the logs: {page.error}</p>}
      <table class="list">
        <ColumnHeads columns={["When", "Job", "State", "Status", "Message"]} />
        <tbody>
          {rows.map((row) => {
            const owner = jobOf(row.url, project);
            return (
              <tr key={row.messageId}>
                <td>
                  <Time at={row.time} />
                </td>
                <td>
                  {owner ? (
                    `${owner.key}${owner.hook ? ` (${owner.hook} hook)` : ""}${owner.apart ? ` (at ${new URL(owner.elsewhere ?? "").host})` : ""}`
                  ) : (
                    <span class="muted">{row.url}</span>
                  )}
                </td>
                <td>
                  <StateBadge state={row.state} />
                </td>
                <td>{row.status ?? ""}</td>
                <td>
                  <MessageLink messageId={row.messageId} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!page.loading && rows.length === 0 && <p class="muted">No messages{job || state ? " match" : " yet"}.</p>}
      {pager(page.data?.next)}
    </Section>
  );
}
