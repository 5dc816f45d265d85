import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { REPLAY_OF_FORWARD } from "../../local/src/dashboard/endpoints.js";
import type { ProjectView } from "../../local/src/dashboard/view.js";
import { qstash, retries } from "./api.js";
import { DispatchForm } from "./dispatch.js";
import { attemptsOf, headerValue, jobOf, prettyBody, replayOf, replaysOf, summarize } from "./history.js";
import { runHeaders } from "./keys.js";
import { MessageRun } from "./runs.js";
import {
  Answer,
  ColumnHeads,
  confirmAction,
  MessageLink,
  Notice,
  Pre,
  Section,
  StateBadge,
  Time,
  usePoll,
} from "./ui.js";

const openMessage = (messageId: string) => {
  location.hash = `#/messages/${encodeURIComponent(messageId)}`;
};

export function MessageView({ project, messageId }: { project: ProjectView; messageId: string }) {
  const [notice, setNotice] = useState<{ text: string; error?: boolean }>();
  const [editing, setEditing] = useState(false);
  const history = usePoll(
    async () => {
      const [{ events }, { messages }, retried] = await Promise.all([
        qstash.events({ messageIds: [messageId], count: 1000 }),
        qstash.dlq({ messageId, count: 1 }),
        retries.of(messageId),
      ]);
      // Its replays: messages published since, to the same URL, whose CREATED entry names it (the newest 100).
      const created = events.find((entry) => entry.state === "CREATED");
      const later = created
        ? (await qstash.events({ url: created.url, state: "CREATED", fromDate: created.time, count: 100 })).events
        : [];
      return { events, dead: messages[0], replays: replaysOf(messageId, later), retried };
    },
    [messageId],
    1500,
  );
  const events = history.data?.events ?? [];
  const summary = summarize(events).get(messageId);
  if (history.error && !summary)
    return (
      <p class="error">
        Could not read message {messageId}: {history.error}
      </p>
    );
  if (!summary) return <p class="muted">{history.loading ? "Loading…" : `No log entries for message ${messageId}.`}</p>;

  const created = events.find((entry) => entry.state === "CREATED");
  const body = created?.body;
  const latest = events[0];
  const owner = jobOf(summary.url, project);
  // A message to another origin (another app sharing this QStash) is shown, never replayed from here.
  const job =
    owner && !owner.hook && !owner.apart ? project.jobs.find((candidate) => candidate.key === owner.key) : undefined;
  const attempts = attemptsOf(events);
  const pending = summary.state === "scheduled" || summary.state === "retrying" || summary.state === "active";
  const nextRetry = latest?.state === "RETRY" ? latest.nextDeliveryTime : undefined;
  const due = summary.state === "scheduled" ? created?.nextDeliveryTime : undefined;
  const replayable = job?.publish !== undefined && body !== "REDACTED";
  const links = [
    { term: "Replay of", ids: [replayOf(created)].filter((id) => id !== undefined) },
    { term: "Replayed as", ids: history.data?.replays ?? [] },
    { term: "Retry of", ids: [history.data?.retried.retryOf].filter((id) => id !== undefined) },
    { term: "Retried as", ids: history.data?.retried.retriedAs ?? [] },
  ].filter((link) => link.ids.length > 0);
  const replayHeaders = { [REPLAY_OF_FORWARD]: messageId };

  const replay = async () => {
    if (!job?.publish) return;
    try {
      const { messageId: replayed } = await qstash.publish(job.publish.destination, body ?? "", {
        ...runHeaders(job, job.publish, body ?? ""),
        ...replayHeaders,
      });
      setNotice({ text: `Replayed as ${replayed}` });
      openMessage(replayed);
    } catch (error) {
      setNotice({ text: `Replay failed: ${(error as Error).message}`, error: true });
    }
  };
  const cancel = async () => {
    if (!(await confirmAction(`Cancel message ${messageId}? It will not be delivered.`, "Cancel message"))) return;
    try {
      await qstash.cancel(messageId);
      setNotice({ text: `Cancelled ${messageId}` });
      history.reload();
    } catch (error) {
      setNotice({ text: `Cancel failed: ${(error as Error).message}`, error: true });
    }
  };

  return (
    <Section title={`Message ${messageId}`}>
      <dl class="facts wide">
        <dt>Job</dt>
        <dd>
          {owner ? (
            `${owner.key}${owner.hook ? ` (${owner.hook} hook)` : ""}${owner.apart ? ` at ${owner.elsewhere}, not this app's jobs URL: read-only` : ""}`
          ) : (
            <span class="muted">not a job of this app</span>
          )}
        </dd>
        <dt>State</dt>
        <dd>
          <StateBadge state={summary.state} />
          {history.data?.dead && (
            <>
              {" "}
              in the <a href="#/dlq">dead-letter queue</a>
            </>
          )}
        </dd>
        <dt>Destination</dt>
        <dd>
          <code>{summary.url}</code>
        </dd>
        {created && (
          <>
            <dt>Published</dt>
            <dd>
              <Time at={created.time} />
            </dd>
          </>
        )}
        {links.map(({ term, ids }) => (
          <Fragment key={term}>
            <dt>{term}</dt>
            <dd>
              <ul class="links">
                {ids.map((id) => (
                  <li key={id}>
                    <MessageLink messageId={id} />
                  </li>
                ))}
              </ul>
            </dd>
          </Fragment>
        ))}
        {due !== undefined && (
          <>
            <dt>Due</dt>
            <dd>
              <Time at={due} />
            </dd>
          </>
        )}
        {nextRetry !== undefined && (
          <>
            <dt>Next retry</dt>
            <dd>
              <Time at={nextRetry} />
            </dd>
          </>
        )}
      </dl>
      <div class="actions">
        <button type="button" disabled={!replayable} onClick={replay}>
          Replay
        </button>
        <button type="button" disabled={!replayable} aria-expanded={editing} onClick={() => setEditing(!editing)}>
          Edit and replay
        </button>
        {pending && (
          <button type="button" class="danger" onClick={cancel}>
            Cancel
          </button>
        )}
        {!replayable && <span class="muted">Replay needs the message's job in this project and its payload.</span>}
      </div>
      <Notice notice={notice} />
      {editing && job && (
        <DispatchForm job={job} initial={prettyBody(body)} headers={replayHeaders} onSent={openMessage} />
      )}
      {owner && !owner.hook && <MessageRun messageId={messageId} />}

      <h3>Attempts</h3>
      {attempts.length === 0 ? (
        <p class="muted">No attempt yet.</p>
      ) : (
        <table class="list">
          <ColumnHeads columns={["#", "Started", "Status", "Duration", "Response or error"]} />
          <tbody>
            {attempts.map((attempt, index) => (
              <tr key={attempt.startedAt} class={`attempt-${attempt.outcome}`}>
                <td>{index + 1}</td>
                <td>
                  <Time at={attempt.startedAt} />
                </td>
                <td>{attempt.status ?? (attempt.outcome === "running" ? "running" : "no answer")}</td>
                <td>{attempt.endedAt !== undefined ? `${attempt.endedAt - attempt.startedAt} ms` : ""}</td>
                <td>
                  <Answer error={attempt.error} body={attempt.responseBody} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3>Payload</h3>
      <Pre text={prettyBody(body)} label="Message payload" />
      <h3>Headers</h3>
      <table class="list">
        <tbody>
          {Object.entries(created?.header ?? {}).map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>
                <code>{headerValue(value)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
