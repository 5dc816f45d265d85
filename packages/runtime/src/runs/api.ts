import {
  type Env,
  processEnv,
  RUN_STORE_HINT,
  RUN_STORE_VARIABLES,
  readDispatchConfig,
  readRunStoreConfig,
  resolveJobsUrl,
} from "../env.js";
import { ConfigurationError } from "../errors.js";
import { qstashClient } from "../publish.js";
import type { Duration, JobKey, JobResult, RunHandle } from "../types.js";
import { isRunEnded, type Run, runFields, runKeys } from "./model.js";
import { runFromQStashLogs } from "./qstash-logs.js";
import { type ListRunsOptions, listStoredRuns, type RunPage, readLatestRun } from "./read.js";
import { endRun } from "./record.js";
import { appHash, storeClient, withinBound } from "./store.js";
import { mintRunToken, readRunTokenKeys, tokenSeconds } from "./token.js";

/** `waitForRun` polls first after this long (ms), then half as long again each time, up to the maximum. */
const FIRST_POLL_MS = 200;
const MAX_POLL_MS = 2000;
/** `waitForRun`'s timeout when none is given, in seconds. */
export const DEFAULT_WAIT_SECONDS = 60;

export interface WaitOptions<TRun = Run> {
  /** Seconds to wait at most (default 60); then the last known run is the answer. */
  timeout?: number;
  signal?: AbortSignal;
  /** Told of the run each time it changed (status, progress...), while waiting. */
  onUpdate?: (run: TRun) => void;
}

/** The registry's run functions, typed by job key. */
export interface RunsApi {
  /**
   * A run by handle (its `result` typed by the job's key) or by bare id (`unknown`). Undefined when there is no
   * such run, or when the stored run belongs to another job than the handle's. Follows a retry from the
   * dead-letter queue (`retriedAs`) to the run that retried it. Without a run store, server code with
   * `QSTASH_TOKEN` gets what QStash's logs say (`source: "qstash"`: no result, no progress).
   */
  getRun<TKey extends JobKey>(handle: RunHandle<TKey>): Promise<Run<JobResult<TKey>> | undefined>;
  getRun(id: string): Promise<Run | undefined>;
  /**
   * Resolves when the run ends, or with the last known run when `timeout` seconds (default 60) have passed.
   * Polls with a backoff (0.2 s growing to 2 s).
   */
  waitForRun<TKey extends JobKey>(
    handle: RunHandle<TKey>,
    options?: WaitOptions<Run<JobResult<TKey>>>,
  ): Promise<Run<JobResult<TKey>> | undefined>;
  /**
   * Cancels the run's message at QStash, then records `cancelled` when no attempt is running; while one is,
   * it records `cancelRequested` and that attempt's end (unless it succeeds) closes the run as cancelled.
   */
  cancelRun(handle: RunHandle | string): Promise<Run | undefined>;
  /** This app's runs, newest first, a page at a time (`nextCursor`). Needs the run store. */
  listRuns(options?: ListRunsOptions & { key?: JobKey }): Promise<RunPage>;
  /**
   * A token that lets a browser read this one run through the jobs route (`useRun`), for `expiresIn` (seconds
   * or a duration; default 24 h). Mint it only after your own check that the user may see the run. Needs
   * `QJOBS_RUN_TOKEN_SECRET` (recommended) or the QStash signing keys, and `QJOBS_URL`.
   */
  runToken(handleOrId: RunHandle | string, options?: { expiresIn?: number | Duration }): Promise<string>;
}

function storeOrThrow(env: Env, what: string) {
  const store = readRunStoreConfig(env);
  if (!store) {
    throw new ConfigurationError(`${what} needs the run store: ${RUN_STORE_HINT}.`, RUN_STORE_VARIABLES);
  }
  return store;
}

const idOf = (handleOrId: RunHandle | string) => (typeof handleOrId === "string" ? handleOrId : handleOrId.id);

/**
 * The run functions of an app, reading the environment at each call. `routePath` as for `createDispatch`; `env`
 * where the variables come from instead of `process.env` (the CLI's dashboard reads the project's env files).
 */
export function createRuns(config: { routePath?: string; env?: () => Env } = {}): RunsApi {
  const readEnv = config.env ?? processEnv;
  async function getRun(handleOrId: RunHandle | string): Promise<Run | undefined> {
    const env = readEnv();
    const store = readRunStoreConfig(env);
    const expectedKey = typeof handleOrId === "string" ? undefined : handleOrId.key;
    let run: Run | undefined;
    if (store) {
      run = await readLatestRun(store, idOf(handleOrId));
    } else if (env.QSTASH_TOKEN) {
      run = await runFromQStashLogs(readDispatchConfig(env, config.routePath), idOf(handleOrId));
    } else {
      storeOrThrow(env, "getRun");
    }
    return run && expectedKey !== undefined && run.key !== expectedKey ? undefined : run;
  }

  async function waitForRun(handle: RunHandle, options: WaitOptions = {}) {
    const deadline = Date.now() + (options.timeout ?? DEFAULT_WAIT_SECONDS) * 1000;
    let delay = FIRST_POLL_MS;
    let seen: string | undefined;
    for (;;) {
      const run = await getRun(handle);
      if (run && options.onUpdate && run.updatedAt !== seen) {
        seen = run.updatedAt;
        options.onUpdate(run);
      }
      const left = deadline - Date.now();
      if ((run && isRunEnded(run)) || left <= 0 || options.signal?.aborted) return run;
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
      delay = Math.min(delay * 1.5, MAX_POLL_MS);
    }
  }

  async function cancelRun(handleOrId: RunHandle | string): Promise<Run | undefined> {
    const env = readEnv();
    const id = idOf(handleOrId);
    const client = await qstashClient(readDispatchConfig(env, config.routePath));
    try {
      await client.messages.delete(id);
    } catch (error) {
      // A message QStash no longer has (delivered, or gone) has nothing left to cancel there.
      if ((error as { status?: unknown }).status !== 404) throw error;
    }
    const store = readRunStoreConfig(env);
    if (!store) return getRun(handleOrId);
    const run = await getRun(handleOrId);
    if (!run || isRunEnded(run)) return run;
    const redis = await storeClient(store);
    const at = Date.now();
    if (run.status === "running") {
      await withinBound(redis.hset(runKeys.run(run.id), { [runFields.cancelRequested]: String(at) }));
    } else {
      await withinBound(endRun(redis.pipeline(), run, { status: "cancelled" }, store.retention, at).exec());
    }
    return getRun(handleOrId);
  }

  async function listRuns(options: ListRunsOptions = {}): Promise<RunPage> {
    const env = readEnv();
    const store = storeOrThrow(env, "listRuns");
    const jobsUrl = resolveJobsUrl(env, config.routePath);
    if (!jobsUrl) throw new ConfigurationError("listRuns lists this app's runs: QJOBS_URL is not set.", ["QJOBS_URL"]);
    return listStoredRuns(store, await appHash(jobsUrl), options);
  }

  async function runToken(handleOrId: RunHandle | string, options: { expiresIn?: number | Duration } = {}) {
    const env = readEnv();
    const seconds = tokenSeconds(options.expiresIn, "expiresIn");
    const jobsUrl = resolveJobsUrl(env, config.routePath);
    if (!jobsUrl)
      throw new ConfigurationError("runToken binds a token to this app: QJOBS_URL is not set.", ["QJOBS_URL"]);
    const keys = await readRunTokenKeys(env, jobsUrl);
    if (!keys) {
      throw new ConfigurationError(
        "runToken needs a key: set QJOBS_RUN_TOKEN_SECRET (recommended), or QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY.",
        ["QJOBS_RUN_TOKEN_SECRET"],
      );
    }
    return mintRunToken(keys, jobsUrl, idOf(handleOrId), seconds);
  }

  return { getRun, waitForRun, cancelRun, listRuns, runToken } as RunsApi;
}

/**
 * Links a retry from the dead-letter queue to the run it retries (the retry is a new message): `retriedAs` on
 * the old run, `retryOf` on the new one. For the CLI and the dashboard, which retry through qjobs.
 */
export async function linkRunRetry(retried: string, retry: string, env: Env = processEnv()): Promise<void> {
  const store = readRunStoreConfig(env);
  if (!store) return;
  const redis = await storeClient(store);
  await withinBound(
    redis
      .pipeline()
      .hset(runKeys.run(retried), { [runFields.retriedAs]: retry })
      .hsetnx(runKeys.run(retry), runFields.retryOf, retried)
      .exec(),
  );
}
