import { useState } from "preact/hooks";
import type { ProjectView } from "../../local/src/dashboard/view.js";
import { type DlqMessage, qstash } from "./api.js";
import { jobOf, payloadPreview } from "./history.js";
import {
  Answer,
  ColumnHeads,
  confirmAction,
  JobSelect,
  MessageLink,
  Notice,
  Section,
  Time,
  usePages,
  usePoll,
} from "./ui.js";

const PAGE = 50;

export function DeadLettersView({ project, query }: { project: ProjectView; query: URLSearchParams }) {
  const job = query.get("job") ?? "";
  const destination = project.jobs.find((candidate) => candidate.key === job)?.publish?.destination;
  const { cursor, pager } = usePages(job);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [notice, setNotice] = useState<{ text: string; error?: boolean }>();
  // What each Retry made: QStash answers a retry with the new message's id, and the new message carries nothing
  // that names the dead letter, so this is where the two are linked when no run store is (issue 21).
  const [retried, setRetried] = useState<readonly { from: string; to: string }[]>([]);
  const page = usePoll(() => qstash.dlq({ url: destination, count: PAGE, cursor }), [destination, cursor], 2000);
  const messages = page.data?.messages ?? [];

  /** Runs one action on each dead letter, then says what happened to how many. */
  const each = async (dead: readonly DlqMessage[], verb: "Retried" | "Deleted") => {
    const results = await Promise.allSettled(
      dead.map((entry) => (verb === "Retried" ? qstash.retryDead(entry.dlqId) : qstash.deleteDead(entry.dlqId))),
    );
    const failed = results.filter((result) => result.status === "rejected") as PromiseRejectedResult[];
    setRetried(
      verb === "Retried"
        ? results.flatMap((result, index) =>
            result.status === "fulfilled" && result.value
              ? [{ from: (dead[index] as DlqMessage).messageId, to: result.value.messageId }]
              : [],
          )
        : [],
    );
    setNotice(
      failed.length > 0
        ? {
            text: `${verb} ${dead.length - failed.length}; ${failed.length} failed: ${(failed[0]?.reason as Error | undefined)?.message}`,
            error: true,
          }
        : { text: `${verb} ${dead.length} ${dead.length === 1 ? "message" : "messages"}` },
    );
    setSelected(new Set());
    page.reload();
  };
  const remove = async (dead: readonly DlqMessage[]) => {
    const what = dead.length === 1 ? `dead letter ${dead[0]?.messageId}` : `${dead.length} dead letters`;
    if (await confirmAction(`Delete ${what}? It cannot be retried afterwards.`, "Delete")) await each(dead, "Deleted");
  };
  const chosen = messages.filter((entry) => selected.has(entry.dlqId));
  const toggle = (dlqId: string) => {
    const next = new Set(selected);
    if (!next.delete(dlqId)) next.add(dlqId);
    setSelected(next);
  };

  return (
    <Section title="Dead letters">
      <div class="toolbar">
        <JobSelect
          jobs={project.jobs}
          value={job}
          onChange={(key) => {
            location.hash = key ? `#/dlq?job=${encodeURIComponent(key)}` : "#/dlq";
          }}
        />
        <button type="button" disabled={chosen.length === 0} onClick={() => each(chosen, "Retried")}>
          Retry selected
        </button>
        <button type="button" class="danger" disabled={chosen.length === 0} onClick={() => remove(chosen)}>
          Delete selected
        </button>
      </div>
      <Notice notice={notice} />
      {retried.length > 0 && (
        <ul class="links" aria-label="Retried messages">
          {retried.map(({ from, to }) => (
            <li key={to}>
              <MessageLink messageId={from} /> retried as <MessageLink messageId={to} />
            </li>
          ))}
        </ul>
      )}
      {page.error && <p class="error">Could not read the dead-letter queue: {page.error}</p>}
      <table class="list">
        <ColumnHeads
          columns={["Selected", "Published", "Job", "Status", "Payload", "Last answer", "Message", "Actions"]}
          hidden={["Selected", "Actions"]}
        />
        <tbody>
          {messages.map((entry) => {
            const owner = jobOf(entry.url, project);
            return (
              <tr key={entry.dlqId} aria-label={`Dead letter ${entry.messageId}`}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select ${entry.messageId}`}
                    checked={selected.has(entry.dlqId)}
                    onChange={() => toggle(entry.dlqId)}
                  />
                </td>
                <td>
                  <Time at={entry.createdAt} />
                </td>
                <td>
                  {owner && !owner.apart ? (
                    owner.key
                  ) : (
                    <span class="muted">
                      {owner ? `${owner.key} at ` : ""}
                      {entry.url}
                    </span>
                  )}
                </td>
                <td>{entry.responseStatus || "no answer"}</td>
                <td>
                  <code class="clip">{payloadPreview(entry.body)}</code>
                </td>
                <td>
                  <Answer error={entry.error} body={entry.responseBody} />
                </td>
                <td>
                  <MessageLink messageId={entry.messageId} />
                </td>
                <td class="row-actions">
                  <button type="button" onClick={() => each([entry], "Retried")}>
                    Retry
                  </button>
                  <button type="button" class="danger" onClick={() => remove([entry])}>
                    Delete
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!page.loading && messages.length === 0 && (
        <p class="muted">The dead-letter queue is empty{job ? " for this job" : ""}.</p>
      )}
      {pager(page.data?.cursor)}
    </Section>
  );
}
