import { durationSeconds } from "./duration.js";
import type { DispatchConfig, RunStoreConfig } from "./env.js";
import { RUN_STORE_HINT, RUN_STORE_VARIABLES } from "./env.js";
import { ConfigurationError } from "./errors.js";
import { appHash, STORE_TIMEOUT_MS, storeClient, withinBound } from "./runs/store.js";
import type { Duration } from "./types.js";

/**
 * Debounce (issue 22): many dispatches with one key within `period` run the job once, with the last payload,
 * `period` after the last dispatch; `maxWait` bounds how long a steady stream can postpone it. Decided at
 * delivery, not at dispatch (a superseded message may already be in flight): each dispatch publishes with a
 * delay and records itself as its key's latest in the run store; the route runs only the latest, and records
 * the others `cancelled` (`debounced`, `replacedBy`). A store that cannot answer at delivery lets the handler run.
 */
export interface Debounce {
  /** The debounce key: a template over the payload, such as `"site:{siteId}"`. */
  readonly key: string;
  /** How long after the last dispatch the job runs: seconds, or a duration such as `"30s"`. */
  readonly period: number | Duration;
  /** The longest a stream of dispatches can postpone the run, counted from the first of them. */
  readonly maxWait?: number | Duration;
}

/**
 * A declared debounce, checked when the job is defined: a period or maxWait that is no duration (JavaScript, a
 * value typed any) would publish every message with a delay of NaN. `qjobs generate` checks the same for the registry.
 */
export function checkDebounce(job: string, debounce: Debounce): void {
  if (typeof debounce?.key !== "string" || debounce.period === undefined)
    throw new TypeError(`Job "${job}": debounce needs { key, period, maxWait? }`);
  for (const [field, value] of [
    ["period", debounce.period],
    ["maxWait", debounce.maxWait],
  ] as const) {
    if (value === undefined) continue;
    const seconds = durationSeconds(value);
    if (!(Number.isFinite(seconds) && seconds > 0))
      throw new TypeError(
        `Job "${job}": debounce.${field} must be seconds > 0 or a duration like "30s", got ${String(value)}`,
      );
  }
}

/**
 * The debounce key filled from a payload, at dispatch and again at delivery (from the signed body), so both find
 * the same record. template.ts is imported on first use: a route without debounced jobs never loads it.
 */
export async function fillDebounceKey(job: string, debounce: Debounce, payload: unknown): Promise<string> {
  const { fillTemplate } = await import("./template.js");
  return fillTemplate(job, "debounce.key", debounce.key, payload);
}

/**
 * The header a debounced dispatch's messages carry (forwarded by QStash): only they are decided at delivery, so a
 * message published around the debounce (a dashboard's Run, a schedule's tick) always runs. Not signed, like
 * every header: a network path that could strip it could only make a superseded message run.
 */
export const DEBOUNCE_HEADER = "Qjobs-Debounce";

/** One hash per debounce key of a job of an app: `latest` (the run id to run), `since` (the burst's start, ms). */
const debounceHash = (app: string, job: string, key: string) => `qjobs:debounce:${app}:${job}:${key}`;

/** The store a debounced dispatch needs; without one it throws, naming the variables. */
function requireStore(job: string, config: Pick<DispatchConfig, "runStore">): RunStoreConfig {
  if (config.runStore) return config.runStore;
  throw new ConfigurationError(
    `Job "${job}" is debounced, which needs the run store: ${RUN_STORE_HINT}`,
    RUN_STORE_VARIABLES,
  );
}

/**
 * Starts a debounced dispatch: the delay to publish with (`period`, cut short so that no run waits more than
 * `maxWait` after its burst began), and `recordLatest` to call with the published message's id. The filled key
 * comes from fillDebounceKey, the one filling function. Store errors cost the dispatch the store's bound and no
 * more: the message is published with the full period, and its delivery decides.
 */
export async function startDebounce(
  job: string,
  config: Pick<DispatchConfig, "jobsUrl" | "runStore">,
  debounce: Debounce,
  filledKey: string,
): Promise<{ delaySeconds: number; recordLatest(id: string): Promise<void> }> {
  const store = requireStore(job, config);
  const period = durationSeconds(debounce.period);
  const ttl = Math.ceil(period + durationSeconds(debounce.maxWait ?? 0)) + 60;
  let hash: string | undefined;
  let delaySeconds = period;
  try {
    const [redis, app] = await Promise.all([storeClient(store), appHash(config.jobsUrl)]);
    hash = debounceHash(app, job, filledKey);
    const now = Date.now();
    const [, since] = await withinBound(
      redis.pipeline().hsetnx(hash, "since", String(now)).hget<string>(hash, "since").expire(hash, ttl).exec(),
    );
    if (debounce.maxWait !== undefined) {
      const deadline = Number(since ?? now) + durationSeconds(debounce.maxWait) * 1000;
      delaySeconds = Math.max(0, Math.min(period, Math.ceil((deadline - now) / 1000)));
    }
  } catch {
    hash = undefined;
  }
  return {
    delaySeconds,
    async recordLatest(id) {
      try {
        const key = hash ?? debounceHash(await appHash(config.jobsUrl), job, filledKey);
        const redis = await storeClient(store);
        await withinBound(redis.pipeline().hset(key, { latest: id }).expire(key, ttl).exec(), STORE_TIMEOUT_MS);
      } catch {
        // The message is published; without this record its delivery finds another latest, or none, and runs.
      }
    },
  };
}

/**
 * At delivery: the run id that replaced this message, when it is not its key's latest; undefined when it is
 * (then the burst is over: the next dispatch starts a new one), when there is no record, or when the store
 * cannot say (the handler runs rather than nobody).
 */
export async function supersededBy(
  store: RunStoreConfig,
  jobsUrl: URL,
  job: string,
  filledKey: string,
  messageId: string,
): Promise<string | undefined> {
  try {
    const [redis, app] = await Promise.all([storeClient(store), appHash(jobsUrl)]);
    const hash = debounceHash(app, job, filledKey);
    const latest = await withinBound(redis.hget<string>(hash, "latest"));
    if (latest && latest !== messageId) return latest;
    // The burst is over: the next dispatch starts a new one (and becomes the latest). `latest` stays, so that a
    // superseded message delivered after this one (in the same second, or retried) still knows it lost.
    await withinBound(redis.hdel(hash, "since"));
    return undefined;
  } catch {
    return undefined;
  }
}
