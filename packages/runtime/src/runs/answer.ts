import { RUN_STORE_HINT, type RunStoreConfig } from "../env.js";
import { ConfigurationError } from "../errors.js";
import { sha256 } from "../sha256.js";
import { isRunEnded, type Run, type RunStatus } from "./model.js";
import { readLatestRun } from "./read.js";
import { checkRunToken, RUN_ID_SHAPE, type RunTokenKeys } from "./token.js";

/**
 * The route's GET (issue 19): a browser holding a run's token reads that run, as JSON or as a stream of its
 * changes. The token travels in the Authorization header only (a URL ends up in logs and Referer headers), is
 * checked before the store is asked anything, and a refusal is the same whether the run exists or not.
 */

/** What a browser sees of a run: never the payload nor headers (runs keep neither), errors only when exposed. */
export interface BrowserRun {
  id: string;
  key?: string;
  status: RunStatus;
  attempt: number;
  progress?: unknown;
  result?: unknown;
  error?: { name?: string; message: string };
  createdAt?: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt?: string;
  retryOf?: string;
  retriedAs?: string;
}

export interface RunAnswerOptions {
  /** How long a stream lasts before the browser reconnects, in seconds. Default 25, never past `maxDuration`. */
  streamSeconds?: number;
  /** The route's maxDuration (seconds), when the platform cuts requests there. */
  maxDuration?: number;
  /** Reshapes what a browser gets of a run (drop a field, rename a status); gets the stored run too. */
  runView?: (view: BrowserRun, run: Run) => unknown;
}

/** What the route knows when a GET comes: the app's jobs URL, the token keys and the store. */
export interface RunAnswerSetup {
  jobsUrl: URL;
  tokenKeys: () => Promise<RunTokenKeys | undefined>;
  store: RunStoreConfig | undefined;
  logger: Pick<Console, "error" | "warn">;
  reportStoreError: (what: string, error: unknown) => void;
}

export type RunAnswerCode =
  | "token_in_url"
  | "missing_run"
  | "invalid_run"
  | "unauthorized"
  | "token_expired"
  | "runs_not_configured"
  | "configuration"
  | "store_unavailable";

type Refuse = (status: number, code: RunAnswerCode, message: string, extra?: { headers?: HeadersInit }) => Response;

export const DEFAULT_STREAM_SECONDS = 25;
/** How often a stream reads the store for changes (ms). */
const STREAM_POLL_MS = 1000;
/** A comment this often keeps proxies from closing a quiet stream (ms). */
const STREAM_KEEPALIVE_MS = 10_000;

const GENERIC_FAILURE = "The job failed";

/** The default view of a run for a browser. */
function browserRun(run: Run): BrowserRun {
  const { id, key, status, attempt, createdAt, startedAt, finishedAt, updatedAt, retryOf, retriedAs } = run;
  const error = run.error
    ? run.error.expose
      ? { ...(run.error.name ? { name: run.error.name } : {}), message: run.error.message }
      : { message: GENERIC_FAILURE }
    : undefined;
  return {
    id,
    key,
    status,
    attempt,
    ...("progress" in run ? { progress: run.progress } : {}),
    ...("result" in run ? { result: run.result } : {}),
    ...(error ? { error } : {}),
    createdAt,
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
    updatedAt,
    ...(retryOf ? { retryOf } : {}),
    ...(retriedAs ? { retriedAs } : {}),
  };
}

const encoder = new TextEncoder();

interface Snapshot {
  json: string;
  etag: string;
  ended: boolean;
}

/** Whether If-None-Match names this ETag (a list, or `*`). */
function matchesEtag(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim().replace(/^W\//, "");
    return trimmed === "*" || trimmed === etag;
  });
}

/**
 * Answers `GET <route>?run=<id>`: refuses what is malformed or unauthorized before the store is read, then the
 * run (or `queued`, for a valid token whose run is not stored yet) as JSON, or as a stream.
 */
export async function answerRun(
  request: Request,
  setup: RunAnswerSetup,
  options: RunAnswerOptions,
  refuse: Refuse,
): Promise<Response> {
  const params = new URL(request.url).searchParams;
  if (params.has("token")) {
    return refuse(400, "token_in_url", "A run token goes in the Authorization header (Bearer), never in the URL");
  }
  const ids = params.getAll("run");
  if (ids.length === 0) return refuse(400, "missing_run", "The jobs route answers GET only for a run: ?run=<id>");
  const id = ids[0] as string;
  if (ids.length > 1 || !RUN_ID_SHAPE.test(id)) return refuse(400, "invalid_run", "?run= is not one run id");

  const unauthorized = () =>
    refuse(401, "unauthorized", "A valid run token for this run is needed (Authorization: Bearer <token>)", {
      headers: { "WWW-Authenticate": 'Bearer realm="qjobs"' },
    });
  const authorization = request.headers.get("authorization") ?? "";
  const bearer = /^Bearer ([^\s]+)$/i.exec(authorization)?.[1];
  if (!bearer) return unauthorized();
  let keys: RunTokenKeys | undefined;
  try {
    keys = await setup.tokenKeys();
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    setup.logger.error(`[qjobs] ${error.message}`);
    return refuse(500, "configuration", "The jobs route cannot check run tokens; see the server log");
  }
  const check = keys ? await checkRunToken(keys, setup.jobsUrl, id, bearer) : "invalid";
  if (check === "expired") {
    return refuse(401, "token_expired", "The run token has expired: ask the server for a new one", {
      headers: { "WWW-Authenticate": 'Bearer realm="qjobs", error="invalid_token"' },
    });
  }
  if (check !== "valid") return unauthorized();
  const store = setup.store;
  if (!store) {
    return refuse(404, "runs_not_configured", `This app records no runs: ${RUN_STORE_HINT}`);
  }

  const shape = async (run: Run | undefined): Promise<Snapshot> => {
    const view: BrowserRun = run ? browserRun(run) : { id, status: "queued", attempt: 0 };
    const shaped = run && options.runView ? options.runView(view, run) : view;
    const json = JSON.stringify(shaped);
    const digest = await sha256.hash(encoder.encode(json) as Uint8Array<ArrayBuffer>);
    return { json, etag: `"${digest.slice(0, 22)}"`, ended: run !== undefined && isRunEnded(run) };
  };
  let first: Snapshot;
  try {
    first = await shape(await readLatestRun(store, id));
  } catch (error) {
    setup.reportStoreError("read a run for a browser", error);
    return refuse(503, "store_unavailable", "The run store did not answer; try again", {
      headers: { "Retry-After": "2" },
    });
  }

  if ((request.headers.get("accept") ?? "").includes("text/event-stream")) {
    const follow = (listener: StoredRunListener) => followStoredRun(store, id, listener);
    return streamRun(first, follow, shape, streamMilliseconds(options), request.signal, setup.reportStoreError);
  }
  const headers = {
    "Cache-Control": "no-store",
    Vary: "Authorization",
    ETag: first.etag,
  };
  if (matchesEtag(request.headers.get("if-none-match"), first.etag))
    return new Response(null, { status: 304, headers });
  return new Response(first.json, { status: 200, headers: { ...headers, "Content-Type": "application/json" } });
}

/** How long a stream lasts: `streamSeconds`, cut a second short of `maxDuration` where the platform has one. */
function streamMilliseconds(options: RunAnswerOptions): number {
  const wanted = options.streamSeconds ?? DEFAULT_STREAM_SECONDS;
  const cap = options.maxDuration !== undefined ? Math.max(1, options.maxDuration - 1) : Number.POSITIVE_INFINITY;
  return Math.min(wanted, cap) * 1000;
}

type StoredRunListener = (run: Run | undefined, error?: unknown) => void;

/** The runs this server instance's streams follow: one store read a second per run, however many streams. */
const storedRuns = new Map<string, { listeners: Set<StoredRunListener>; last: string | undefined }>();

/**
 * Tells `listener` of each change of a stored run, reading it once a second while anyone listens: a hundred
 * viewers of one run cost the store one read a second, not a hundred. Returns the function that stops listening.
 */
function followStoredRun(store: RunStoreConfig, id: string, listener: StoredRunListener): () => void {
  const key = `${store.url}\n${id}`;
  let shared = storedRuns.get(key);
  if (!shared) {
    const created = { listeners: new Set<StoredRunListener>(), last: undefined as string | undefined };
    const tick = async () => {
      if (created.listeners.size > 0) {
        try {
          const run = await readLatestRun(store, id);
          const text = JSON.stringify(run ?? null);
          if (text !== created.last) {
            created.last = text;
            for (const each of [...created.listeners]) each(run);
          }
        } catch (error) {
          for (const each of [...created.listeners]) each(undefined, error);
        }
      }
      if (created.listeners.size === 0) storedRuns.delete(key);
      else setTimeout(tick, STREAM_POLL_MS);
    };
    storedRuns.set(key, created);
    setTimeout(tick, STREAM_POLL_MS);
    shared = created;
  }
  const listeners = shared.listeners;
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * The run as server-sent events: the current run, then each change (the store read once a second for all the
 * streams of this run), a comment every 10 s, until the run ends or the stream's time is up; the browser then
 * reconnects. A store error ends the stream early, and the browser goes on as after any end.
 */
function streamRun(
  first: Snapshot,
  follow: (listener: StoredRunListener) => () => void,
  shape: (run: Run | undefined) => Promise<Snapshot>,
  lasts: number,
  signal: AbortSignal,
  reportStoreError: (what: string, error: unknown) => void,
): Response {
  let stop: () => void = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const send = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text));
      };
      const event = (shot: Snapshot) => send(`event: run\nid: ${shot.etag}\ndata: ${shot.json}\n\n`);
      let unfollow = () => {};
      const keepAlive = setInterval(() => send(": keep-alive\n\n"), STREAM_KEEPALIVE_MS);
      const timeUp = setTimeout(() => stop(), lasts);
      stop = () => {
        if (closed) return;
        closed = true;
        unfollow();
        clearTimeout(timeUp);
        clearInterval(keepAlive);
        signal.removeEventListener("abort", stop);
        try {
          controller.close();
        } catch {
          // Already closed by the reader's cancel.
        }
      };
      signal.addEventListener("abort", stop);
      let last = first;
      event(first);
      if (first.ended) return stop();
      unfollow = follow(async (run, error) => {
        if (error !== undefined) {
          reportStoreError("read a run for a browser", error);
          return stop();
        }
        const shot = await shape(run);
        if (closed) return;
        if (shot.etag !== last.etag) {
          last = shot;
          event(shot);
        }
        if (shot.ended) stop();
      });
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "text/event-stream; charset=utf-8",
      // no-transform and X-Accel-Buffering: no keep next start's compression and nginx from buffering the stream.
      "Cache-Control": "no-store, no-transform",
      "X-Accel-Buffering": "no",
      Vary: "Authorization",
    },
  });
}
