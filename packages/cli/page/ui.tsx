import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ProjectJob } from "../../local/src/dashboard/view.js";
import { answerText, type Bucket, type MessageState } from "./history.js";

/** Loads now, then again every `everyMs` while the tab is visible; `reload` loads at once. */
export function usePoll<T>(load: () => Promise<T>, deps: readonly unknown[], everyMs?: number) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await load();
        if (live) setState({ data, loading: false });
      } catch (error) {
        if (live) setState((old) => ({ ...old, error: (error as Error).message, loading: false }));
      }
      if (live && everyMs) timer = setTimeout(again, everyMs);
    };
    const again = () => {
      if (document.hidden) timer = setTimeout(again, everyMs);
      else void run();
    };
    void run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((value) => value + 1) };
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function Time({ at }: { at: number }) {
  const date = new Date(at);
  const today = new Date().toDateString() === date.toDateString();
  return (
    <time dateTime={date.toISOString()} title={date.toString()}>
      {today ? clock.format(date) : `${day.format(date)} ${clock.format(date)}`}
    </time>
  );
}

export function StateBadge({ state }: { state: MessageState }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

export function Pre({ text, label }: { text: string; label: string }) {
  return (
    <figure class="code" aria-label={label}>
      <pre>{text || "(empty)"}</pre>
    </figure>
  );
}

/** A delivery's answer as text (`code: message`), the raw body on demand; a network error as it is. */
export function Answer({ error, body }: { error?: string; body?: string }) {
  if (error) return <code class="clip">{error}</code>;
  const text = answerText(body);
  if (!body || text === body) return <code class="clip">{body ?? ""}</code>;
  return (
    <details class="answer">
      <summary>{text}</summary>
      <code>{body}</code>
    </details>
  );
}

/** One line that says what just happened, read out by screen readers. */
/** A link to a message's view, named by its id. */
/** A list table's head, one column a name; `hidden` names are for screen readers only (a checkbox or button column). */
export function ColumnHeads({ columns, hidden = [] }: { columns: readonly string[]; hidden?: readonly string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((name) => (
          <th key={name} scope="col">
            {hidden.includes(name) ? <span class="visually-hidden">{name}</span> : name}
          </th>
        ))}
      </tr>
    </thead>
  );
}

export const MessageLink = ({ messageId }: { messageId: string }) => (
  <a href={`#/messages/${encodeURIComponent(messageId)}`}>{messageId}</a>
);

export function Notice({ notice }: { notice?: { text: string; error?: boolean } }) {
  return (
    <p class={`notice ${notice?.error ? "error" : ""}`} role="status" aria-live="polite">
      {notice?.text ?? ""}
    </p>
  );
}

type Ask = { text: string; action: string; done: (yes: boolean) => void };
let ask: ((request: Ask) => void) | undefined;

/** Asks before a destructive action, in a modal dialog (Escape or "Keep" says no). */
export const confirmAction = (text: string, action: string) =>
  new Promise<boolean>((done) => (ask ? ask({ text, action, done }) : done(false)));

export function ConfirmHost() {
  const [request, setRequest] = useState<Ask>();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    ask = setRequest;
    return () => {
      ask = undefined;
    };
  }, []);
  const keep = useRef<HTMLButtonElement>(null);
  // The safe answer has the focus, so Enter on a dialog never deletes by accident.
  useEffect(() => {
    if (request && !dialog.current?.open) {
      dialog.current?.showModal();
      keep.current?.focus();
    }
  }, [request]);
  const answer = (yes: boolean) => {
    request?.done(yes);
    setRequest(undefined);
    dialog.current?.close();
  };
  return (
    <dialog ref={dialog} aria-labelledby="confirm-text" onCancel={() => answer(false)}>
      <p id="confirm-text">{request?.text}</p>
      <div class="actions">
        <button type="button" class="danger" onClick={() => answer(true)}>
          {request?.action}
        </button>
        <button type="button" ref={keep} onClick={() => answer(false)}>
          Keep
        </button>
      </div>
    </dialog>
  );
}

export function Section({
  title,
  children,
  actions,
}: {
  title: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section aria-label={title}>
      <div class="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Deliveries over time by outcome, as small stacked bars; the numbers are in its title for readers. */
export function OutcomeChart({ buckets, label }: { buckets: readonly Bucket[]; label: string }) {
  const width = 240;
  const height = 32;
  const most = Math.max(1, ...buckets.map((b) => b.counts.delivered + b.counts.retrying + b.counts.failed));
  const bar = width / Math.max(1, buckets.length);
  const total = buckets.reduce(
    (sum, b) => ({
      delivered: sum.delivered + b.counts.delivered,
      retrying: sum.retrying + b.counts.retrying,
      failed: sum.failed + b.counts.failed,
    }),
    { delivered: 0, retrying: 0, failed: 0 },
  );
  const summary = `${label}: ${total.delivered} delivered, ${total.retrying} retried, ${total.failed} failed`;
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={summary}>
      <title>{summary}</title>
      <rect class="axis" x={0} y={height - 1} width={width} height={1} />
      {buckets.map((bucket, index) => {
        let y = height - 1; // stacked up from the axis
        return (["delivered", "retrying", "failed"] as const).map((outcome) => {
          const h = (bucket.counts[outcome] / most) * (height - 3);
          y -= h;
          return h > 0 ? (
            <rect
              key={`${index}-${outcome}`}
              class={`bar-${outcome}`}
              x={index * bar + 0.5}
              y={y}
              width={bar - 1}
              height={h}
            />
          ) : null;
        });
      })}
    </svg>
  );
}

/**
 * Paging by QStash's cursors: the cursors of the pages before this one, kept per filter (a new filter starts on
 * the first page, which is the live one).
 */
export function usePages(filter: string) {
  const [pages, setPages] = useState<{ filter: string; cursors: string[] }>({ filter, cursors: [] });
  const cursors = pages.filter === filter ? pages.cursors : [];
  return {
    cursor: cursors[cursors.length - 1],
    pager: (next: string | undefined) => (
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setPages({ filter, cursors: cursors.slice(0, -1) })}
        >
          Newer
        </button>
        <button
          type="button"
          disabled={!next}
          onClick={() => next && setPages({ filter, cursors: [...cursors, next] })}
        >
          Older
        </button>
      </div>
    ),
  };
}

/** The "Job" filter: every job of the project, or all. */
export function JobSelect({
  jobs,
  value,
  onChange,
}: {
  jobs: readonly ProjectJob[];
  value: string;
  onChange: (key: string) => void;
}) {
  return (
    <label>
      Job{" "}
      <select value={value} onChange={(event) => onChange((event.target as HTMLSelectElement).value)}>
        <option value="">all jobs</option>
        {jobs.map((job) => (
          <option key={job.key} value={job.key}>
            {job.key}
          </option>
        ))}
      </select>
    </label>
  );
}
