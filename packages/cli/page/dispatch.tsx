import { useEffect, useId, useRef, useState } from "preact/hooks";
import type { ProjectJob } from "../../local/src/dashboard/view.js";
import { qstash } from "./api.js";
import { runHeaders } from "./keys.js";
import { MessageLink } from "./ui.js";

/** The payload a "Run" starts from: the job's last one in history, else a schedule's, else `{}`. */
async function startingPayload(job: ProjectJob): Promise<string> {
  if (job.publish) {
    const { events } = await qstash.events({ url: job.publish.destination, state: "CREATED", count: 1 });
    const last = events[0]?.body;
    if (last !== undefined && last !== "REDACTED") return prettyJson(last);
  }
  const scheduled = job.schedules.find((schedule) => schedule.payload !== undefined);
  return scheduled ? JSON.stringify(scheduled.payload, null, 2) : "{}";
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * A "Payload" field and a "Dispatch" button: publishes to the job as the registry's dispatch does (its declared
 * options as Upstash-* headers). JSON that does not parse is an error beside the field, never a request.
 */
export function DispatchForm({
  job,
  initial,
  headers,
  onSent,
}: {
  job: ProjectJob;
  initial?: string;
  /** Sent besides the job's own (an Edit and replay names the message it replays). */
  headers?: Record<string, string>;
  onSent?: (messageId: string) => void;
}) {
  const [text, setText] = useState(initial ?? "");
  const [ready, setReady] = useState(initial !== undefined);
  const [error, setError] = useState<string>();
  const [sent, setSent] = useState<string>();
  const [busy, setBusy] = useState(false);
  const field = useId();
  const textarea = useRef<HTMLTextAreaElement>(null);
  // The form opens on a click or a key: the payload is where the user goes next.
  useEffect(() => {
    if (ready) textarea.current?.focus();
  }, [ready]);
  useEffect(() => {
    if (initial !== undefined) return;
    startingPayload(job)
      .then((payload) => setText(payload))
      .catch(() => setText("{}"))
      .finally(() => setReady(true));
  }, [job, initial]);

  const submit = async (event: Event) => {
    event.preventDefault();
    setSent(undefined);
    try {
      JSON.parse(text);
    } catch (problem) {
      return setError(`Payload is not valid JSON: ${(problem as Error).message}`);
    }
    if (!job.publish) return setError("The app's jobs URL is unknown: set QJOBS_URL to dispatch from here.");
    setError(undefined);
    setBusy(true);
    try {
      const { messageId } = await qstash.publish(job.publish.destination, text, {
        ...runHeaders(job, job.publish, text),
        ...headers,
      });
      setSent(messageId);
      onSent?.(messageId);
    } catch (problem) {
      setError(`QStash refused the dispatch: ${(problem as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="dispatch" onSubmit={submit} aria-label={`Run ${job.key}`} noValidate>
      <label for={field}>Payload</label>
      <textarea
        id={field}
        ref={textarea}
        rows={Math.min(12, Math.max(3, text.split("\n").length))}
        value={text}
        spellcheck={false}
        disabled={!ready}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${field}-error` : undefined}
        onInput={(event) => {
          setText((event.target as HTMLTextAreaElement).value);
          setError(undefined);
        }}
      />
      {error && (
        <p id={`${field}-error`} class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={!ready || busy}>
          Dispatch
        </button>
        {sent && (
          <span role="status">
            Dispatched <MessageLink messageId={sent} />
          </span>
        )}
      </div>
    </form>
  );
}
