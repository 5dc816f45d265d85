import {
  ConfigurationError,
  createRuns,
  type Env,
  isValidJobKey,
  JOB_KEY_RULE,
  RUN_STORE_VARIABLES,
  type Run,
  type RunPage,
  readRunStoreConfig,
} from "@qjobs/runtime";

/**
 * The page's read-only view of runs (issue 18): a run by id, a job's recent runs. The CLI holds the run store's
 * URL and token and reads the store itself, through the runtime's getRun/listRuns: the page gets runs, never the
 * token, and no Redis command it could write is forwarded.
 */
export interface RunsOptions {
  /**
   * The variables the store and the app are read from, at each request (`qjobs dev` follows the env files): the
   * environment, then the project's development env files, with QJOBS_URL the dashboard's jobs URL.
   */
  env: () => Env;
}

/** What the run endpoints answer: the page tells "not configured" apart from an error. */
export type RunsAnswer =
  | { configured: false; message: string; variables: readonly string[] }
  | ({ configured: true } & ({ run: Run } | RunPage));

export const RUNS_NOT_CONFIGURED =
  "Runs are not configured: set QJOBS_REDIS_REST_URL and QJOBS_REDIS_REST_TOKEN (or UPSTASH_REDIS_REST_URL/_TOKEN, or KV_REST_API_URL/_TOKEN) in the environment or .env.local, then reload";

/** A message id is QStash's (`msg_…`); anything this long is not one, and is not sent on to the store. */
const MAX_RUN_ID_CHARS = 200;

interface Answer {
  status: number;
  body: RunsAnswer | { error: string };
}

/**
 * Answers `GET /api/runs/<id>` (the run of a message, following a retry from the dead letters) and
 * `GET /api/runs?key=<job>&limit=<n>&cursor=<c>` (a job's recent runs, newest first). `target` is the path and
 * query below the page's address.
 */
export async function runsAnswer(options: RunsOptions, target: string): Promise<Answer> {
  const url = new URL(target, "http://dashboard.invalid");
  const id = url.pathname === "/api/runs" ? undefined : decodeURIComponent(url.pathname.slice("/api/runs/".length));
  if (id !== undefined && (id === "" || id.includes("/") || id.length > MAX_RUN_ID_CHARS))
    return { status: 400, body: { error: `Not a run id: ${JSON.stringify(id.slice(0, 80))}` } };
  try {
    const env = options.env();
    if (!readRunStoreConfig(env))
      return { status: 200, body: { configured: false, message: RUNS_NOT_CONFIGURED, variables: RUN_STORE_VARIABLES } };
    const runs = createRuns({ env: () => env });
    if (id !== undefined) {
      const run = await runs.getRun(id);
      return run
        ? { status: 200, body: { configured: true, run } }
        : { status: 404, body: { error: `No run ${JSON.stringify(id)} in the run store (none yet, or it expired)` } };
    }
    const query = listQuery(url.searchParams);
    if ("error" in query) return { status: 400, body: query };
    return { status: 200, body: { configured: true, ...(await runs.listRuns(query)) } };
  } catch (error) {
    // A half-set pair, a bad cursor: the user's to fix. A store that is down: said as it is.
    if (error instanceof ConfigurationError) return { status: 409, body: { error: error.message } };
    if (error instanceof TypeError && /cursor/.test(error.message))
      return { status: 400, body: { error: error.message } };
    return { status: 502, body: { error: `The run store failed: ${(error as Error).message}` } };
  }
}

function listQuery(search: URLSearchParams): { key?: string; limit?: number; cursor?: string } | { error: string } {
  const key = search.get("key") ?? undefined;
  if (key !== undefined && !isValidJobKey(key))
    return { error: `Invalid job key ${JSON.stringify(key.slice(0, 80))}: use ${JOB_KEY_RULE}` };
  const limitText = search.get("limit");
  const limit = limitText === null ? undefined : Number(limitText);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 100))
    return { error: `limit must be a whole number from 1 to 100, got ${JSON.stringify(limitText)}` };
  const cursor = search.get("cursor") ?? undefined;
  return { ...(key ? { key } : {}), ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) };
}
