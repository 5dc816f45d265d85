import type { Run, RunStatus } from "@qjobs/runtime";
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { runs } from "./api.js";
import { MessageLink, Pre, Time, usePoll } from "./ui.js";

// Runs (issue 18), read through the CLI's read-only run endpoints: what a message's handler returned, its real
// error and progress, which QStash's logs do not hold.

/** A run's status in the colors of the message states (app.css): done green, going amber, failed red. */
const STATUS_CLASS: Record<RunStatus, string> = {
  queued: "state-scheduled",
  running: "state-retrying",
  retrying: "state-retrying",
  succeeded: "state-delivered",
  failed: "state-failed",
  cancelled: "state-cancelled",
};

const ENDED: readonly RunStatus[] = ["succeeded", "failed", "cancelled"];

function RunStatusBadge({ status }: { status: RunStatus }) {
  return <span class={`badge ${STATUS_CLASS[status]}`}>{status}</span>;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** How to turn runs on, where they are not: the variables, not an error. */
export function RunsSetup({ message, variables }: { message: string; variables: readonly string[] }) {
  return (
    <p class="muted" data-testid="runs-setup">
      {message.split(":")[0]}: set <code>{variables[0]}</code> and <code>{variables[1]}</code> (or another pair of{" "}
      {variables.slice(2).map((name, index) => (
        <span key={name}>
          {index > 0 && ", "}
          <code>{name}</code>
        </span>
      ))}
      ) in the environment or <code>.env.local</code>, then reload.
    </p>
  );
}

/**
 * Polls while `live`, then once more and stops: a run that ended, or a dashboard without a store, costs the store
 * (Upstash bills by command) nothing more while the view stays open.
 */
function usePollWhile<T>(load: () => Promise<T>, key: string, everyMs: number, live: (data: T) => boolean) {
  const [settled, setSettled] = useState(false);
  const answer = usePoll(load, [key, settled], settled ? undefined : everyMs);
  useEffect(() => {
    if (answer.data !== undefined && !live(answer.data)) setSettled(true);
  }, [answer.data]);
  return answer;
}

/** The message's run: status, attempt, times, progress, result or error; polled until it ends. */
export function MessageRun({ messageId }: { messageId: string }) {
  const answer = usePollWhile(
    () => runs.get(messageId),
    messageId,
    1500,
    (data) => data === undefined || (data.configured && !ENDED.includes(data.run.status)),
  );
  const data = answer.data;
  let body: ComponentChildren;
  if (answer.error && !data) body = <p class="error">Could not read the run: {answer.error}</p>;
  else if (answer.loading) body = <p class="muted">Loading…</p>;
  else if (!data) body = <p class="muted">No run recorded for this message (none yet, or it expired).</p>;
  else if (!data.configured) body = <RunsSetup message={data.message} variables={data.variables} />;
  else body = <RunFacts run={data.run} messageId={messageId} />;
  return (
    <section aria-label="Run">
      <h3>Run</h3>
      {body}
    </section>
  );
}

function RunFacts({ run, messageId }: { run: Run; messageId: string }) {
  const at = (iso: string | undefined) => (iso ? <Time at={Date.parse(iso)} /> : undefined);
  return (
    <>
      {run.id !== messageId && (
        <p class="muted">
          Retried from the dead letters as <MessageLink messageId={run.id} />: that run is shown.
        </p>
      )}
      <dl class="facts wide">
        <dt>Status</dt>
        <dd>
          <RunStatusBadge status={run.status} />
          {run.cancelRequested && !ENDED.includes(run.status) && <span class="muted"> cancel requested</span>}
        </dd>
        <dt>Attempt</dt>
        <dd>{run.attempt}</dd>
        <dt>Created</dt>
        <dd>{at(run.createdAt)}</dd>
        {run.startedAt && (
          <>
            <dt>Started</dt>
            <dd>{at(run.startedAt)}</dd>
          </>
        )}
        {run.finishedAt && (
          <>
            <dt>Finished</dt>
            <dd>{at(run.finishedAt)}</dd>
          </>
        )}
        {run.retryOf && run.retryOf !== messageId && (
          <>
            <dt>Retry of</dt>
            <dd>
              <MessageLink messageId={run.retryOf} />
            </dd>
          </>
        )}
      </dl>
      {run.error && (
        <>
          <h4>Error</h4>
          <p class="error" data-testid="run-error">
            {run.error.name ? `${run.error.name}: ` : ""}
            {run.error.message}
            {run.error.status !== undefined ? ` (HTTP ${run.error.status})` : ""}
          </p>
        </>
      )}
      {run.progress !== undefined && (
        <>
          <h4>Progress</h4>
          <Pre text={json(run.progress)} label="Run progress" />
        </>
      )}
      {run.resultError && <p class="warning">The result was not kept: {run.resultError}</p>}
      {run.result !== undefined && (
        <>
          <h4>Result</h4>
          <Pre text={json(run.result)} label="Run result" />
        </>
      )}
    </>
  );
}

/** A job's recent runs, newest first, on its card in the Jobs view. */
export function JobRuns({ jobKey, limit = 5 }: { jobKey: string; limit?: number }) {
  const answer = usePollWhile(
    () => runs.list(jobKey, limit),
    `${jobKey} ${limit}`,
    5000,
    (data) => data.configured,
  );
  const data = answer.data;
  if (answer.error && !data) return <span class="error">Could not read runs: {answer.error}</span>;
  if (!data) return <span class="muted">reading runs…</span>;
  if (!data.configured)
    return (
      <span class="muted" title={data.message}>
        not configured (set {data.variables[0]} and {data.variables[1]})
      </span>
    );
  if (data.runs.length === 0) return <span class="muted">no runs yet</span>;
  return (
    <ul class="plain" aria-label={`Recent runs of ${jobKey}`}>
      {data.runs.map((run) => (
        <li key={run.id}>
          <RunStatusBadge status={run.status} /> <Time at={Date.parse(run.createdAt)} />{" "}
          <MessageLink messageId={run.id} />
          {run.error && <span class="muted"> {run.error.message}</span>}
        </li>
      ))}
    </ul>
  );
}
