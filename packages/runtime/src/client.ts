import type { BrowserRun } from "./runs/answer.js";
import { isRunEnded } from "./runs/model.js";
import type { JobKey, JobResult, RunHandle } from "./types.js";

/**
 * `@qjobs/runtime/client` (issue 19): follows a run from a browser through the jobs route's GET, with the run's
 * token in the Authorization header (never the URL). Browser code: no environment, no QStash, no store client.
 *
 * One follower per run and token, shared by every watcher on the page. At most two followers stream at a time
 * (a browser allows six connections per origin under HTTP/1.1: the page keeps the rest); the others poll every
 * second, every five while the tab is hidden. Only errors back off. A follower stops when its run ends, on a
 * refusal that will not change (401, no run store), or when its last watcher leaves.
 */

/** What the browser sees of a run (the route's default view), its result typed by the handle's key. */
export type WatchedRun<TResult = unknown> = Omit<BrowserRun, "result"> & { result?: TResult };

export type RunWatchErrorCode =
  | "unauthorized"
  | "token_expired"
  | "runs_not_configured"
  | "no_token"
  | "unavailable"
  | "bad_answer";

/** Why following a run failed: the route's `error.code`, or what the browser saw (`unavailable`). */
export interface RunWatchError {
  code: RunWatchErrorCode;
  message: string;
  /** The HTTP status, when the route answered. */
  status?: number;
}

export interface RunWatchState<TResult = unknown> {
  /** The last known run; kept through errors. */
  run?: WatchedRun<TResult>;
  /** The last error following it; cleared by the next good answer. */
  error?: RunWatchError;
  /** Nothing more will come: the run ended, or the route refused for good. */
  stopped: boolean;
}

export interface WatchRunOptions {
  /** The origin of the jobs route, where there is no page to resolve its path against (tests, scripts). */
  origin?: string;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
}

type AnyHandle = Pick<RunHandle, "id" | "key"> & { token?: string; route?: string };

/** The most followers that stream at once on a page; the rest poll. */
export const MAX_STREAMS = 2;
export const POLL_MS = 1000;
export const HIDDEN_POLL_MS = 5000;
/** Backoff after errors: doubling from the poll interval up to this. */
export const MAX_BACKOFF_MS = 30_000;
const DEFAULT_ROUTE = "/api/jobs";

/** Refusals that the same token will never get past: the follower stops on them. */
const FINAL_CODES: readonly string[] = ["unauthorized", "token_expired", "runs_not_configured"];

/** The state before anything is known: the same object on the server and the client, so both render alike. */
export const INITIAL_STATE: RunWatchState = Object.freeze({ stopped: false });

let streaming = 0;
const followers = new Map<string, Follower>();

const isHidden = () =>
  (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === "hidden";

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** An error answer's `error` object, or a generic one for what is not the route's JSON. */
async function answeredError(response: Response): Promise<RunWatchError> {
  const body = (await response.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } };
  const code = typeof body?.error?.code === "string" ? body.error.code : undefined;
  const message =
    typeof body?.error?.message === "string" ? body.error.message : `The route answered ${response.status}`;
  if (code && FINAL_CODES.includes(code)) return { code: code as RunWatchErrorCode, message, status: response.status };
  return { code: "unavailable", message, status: response.status };
}

/** Server-sent events as they arrive: the `data` of each event, comments skipped. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
        if (data.length > 0) yield data.join("\n");
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

class Follower {
  state: RunWatchState = INITIAL_STATE;
  readonly listeners = new Set<(state: RunWatchState) => void>();
  private readonly leave = new AbortController();
  private etag: string | undefined;
  private errors = 0;

  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly fetcher: typeof fetch,
    private readonly onStop: () => void,
  ) {}

  start() {
    if (!this.token) {
      this.update({ error: { code: "no_token", message: "The run handle carries no token" }, stopped: true });
      return;
    }
    void this.follow(this.token);
  }

  /** The last watcher left. */
  close() {
    this.leave.abort();
    this.onStop();
  }

  private update(change: Partial<RunWatchState>) {
    this.state = { ...this.state, ...change };
    for (const listener of [...this.listeners]) listener(this.state);
  }

  private seen(text: string) {
    let run: WatchedRun;
    try {
      run = JSON.parse(text) as WatchedRun;
    } catch {
      this.update({ error: { code: "bad_answer", message: "The route's answer is not a run" } });
      return;
    }
    this.errors = 0;
    this.update({ run, error: undefined, stopped: isRunEnded(run) });
  }

  private async follow(token: string) {
    const signal = this.leave.signal;
    const authorization = `Bearer ${token}`;
    while (!signal.aborted && !this.state.stopped) {
      const stream = streaming < MAX_STREAMS;
      if (stream) streaming++;
      let streamed = false;
      try {
        const response = await this.fetcher(this.url, {
          headers: {
            authorization,
            ...(stream ? { accept: "text/event-stream" } : { accept: "application/json" }),
            ...(!stream && this.etag ? { "if-none-match": this.etag } : {}),
          },
          cache: "no-store",
          signal,
        });
        if (response.status === 304) this.errors = 0;
        else if (!response.ok) {
          const error = await answeredError(response);
          const final = FINAL_CODES.includes(error.code);
          if (!final) this.errors++;
          this.update({ error, stopped: final });
        } else if (stream && response.body && response.headers.get("content-type")?.startsWith("text/event-stream")) {
          const began = Date.now();
          for await (const data of sseData(response.body)) {
            this.seen(data);
            if (this.state.stopped) break;
          }
          // A stream that ran its course reconnects at once; one cut short waits like a poll (never a tight loop).
          streamed = Date.now() - began >= POLL_MS;
        } else {
          this.etag = response.headers.get("etag") ?? undefined;
          this.seen(await response.text());
        }
      } catch (error) {
        if (signal.aborted) break;
        this.errors++;
        this.update({
          error: { code: "unavailable", message: (error as Error).message || "The route did not answer" },
        });
      } finally {
        if (stream) streaming--;
      }
      if (this.state.stopped || signal.aborted) break;
      // Polling waits; errors back off, doubling.
      const wait =
        this.errors > 0
          ? Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** this.errors)
          : streamed
            ? 0
            : isHidden()
              ? HIDDEN_POLL_MS
              : POLL_MS;
      if (wait > 0) await pause(wait, signal);
    }
  }
}

/** Where a handle's run is read: the route's path (or `/api/jobs`) with `?run=`, against the page's origin. */
function runUrl(handle: AnyHandle, origin: string | undefined): string {
  const path = `${handle.route ?? DEFAULT_ROUTE}?run=${encodeURIComponent(handle.id)}`;
  return origin ? new URL(path, origin).href : path;
}

/** The shared store of one run for a page: what `useRun` subscribes to. */
export interface RunSource<TResult = unknown> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): RunWatchState<TResult>;
}

/** The run source of a handle: one follower per run and token on the page, started by its first subscriber. */
export function runSource<TKey extends JobKey>(
  handle: RunHandle<TKey>,
  options: WatchRunOptions = {},
): RunSource<JobResult<TKey>> {
  const url = runUrl(handle, options.origin);
  const id = `${url}\n${handle.token ?? ""}`;
  const follower = () => {
    let existing = followers.get(id);
    if (!existing) {
      const created = new Follower(url, handle.token, options.fetch ?? fetch.bind(globalThis), () => {
        if (followers.get(id) === created) followers.delete(id);
      });
      existing = created;
      followers.set(id, created);
      created.start();
    }
    return existing;
  };
  let last: RunWatchState = INITIAL_STATE;
  return {
    subscribe(listener) {
      const shared = follower();
      const notify = (state: RunWatchState) => {
        last = state;
        listener();
      };
      shared.listeners.add(notify);
      last = shared.state;
      if (last !== INITIAL_STATE) listener();
      return () => {
        shared.listeners.delete(notify);
        if (shared.listeners.size === 0) shared.close();
      };
    },
    getSnapshot: () => last as RunWatchState<JobResult<TKey>>,
  };
}

/**
 * Follows a run from a browser: `onChange` gets each new state (the run, an error, whether it stopped) until
 * the run ends or the returned function is called. The handle is what a dispatch returned (plain data: pass it
 * through a server action's return or a component's props), with its `token`.
 */
export function watchRun<TKey extends JobKey>(
  handle: RunHandle<TKey>,
  onChange: (state: RunWatchState<JobResult<TKey>>) => void,
  options: WatchRunOptions = {},
): () => void {
  const source = runSource(handle, options);
  return source.subscribe(() => onChange(source.getSnapshot()));
}
