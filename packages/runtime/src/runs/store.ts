import type { Redis } from "@upstash/redis";
import { appIdentity } from "../binding.js";
import type { RunStoreConfig } from "../env.js";
import { sha256 } from "../sha256.js";

/**
 * Every call to the run store ends within this bound (ms): the client never retries, and each request carries
 * a fresh `AbortSignal.timeout`. A store that is down or slow costs a delivery at most this, once at its end.
 */
export const STORE_TIMEOUT_MS = 1000;

/** How often store errors are logged, at most (ms): a store that is down must not flood the app's log. */
const STORE_ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * An unended run is kept this much longer than the retention (a retry can come days later; a delayed message
 * later still). The end of a run cuts it back to the retention.
 */
export const UNENDED_RUN_GRACE_SECONDS = 30 * 24 * 60 * 60;

const clients = new Map<string, Promise<Redis>>();

/**
 * One client per store. `@upstash/redis` is imported on first use, so a route or a dispatch without a store
 * never loads it. No retries, no automatic pipelining, no telemetry; values are strings written and read as
 * they are (qjobs encodes its JSON itself).
 */
export function storeClient(config: Pick<RunStoreConfig, "url" | "token">): Promise<Redis> {
  const cacheKey = `${config.url}\n${config.token}`;
  let client = clients.get(cacheKey);
  if (!client) {
    client = import("@upstash/redis").then(
      ({ Redis }) =>
        new Redis({
          url: config.url,
          token: config.token,
          retry: false,
          automaticDeserialization: false,
          enableAutoPipelining: false,
          enableTelemetry: false,
          signal: () => AbortSignal.timeout(STORE_TIMEOUT_MS),
        }),
    );
    // A failed import (say a bundle without the package) is tried again next time rather than cached.
    client.catch(() => clients.delete(cacheKey));
    clients.set(cacheKey, client);
  }
  return client;
}

/** `promise`, or a rejection once `ms` have passed: the bound holds even where a signal is not honoured. */
export function withinBound<T>(promise: Promise<T>, ms: number = STORE_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the run store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const appHashes = new Map<string, Promise<string>>();

/** The short hash of a jobs URL's identity that a run records as its app, and lists are kept by. */
export function appHash(jobsUrl: URL | string): Promise<string> {
  const identity = appIdentity(new URL(jobsUrl));
  let hash = appHashes.get(identity);
  if (!hash) {
    hash = sha256.hash(new TextEncoder().encode(identity)).then((digest) => digest.slice(0, 16));
    appHashes.set(identity, hash);
  }
  return hash;
}

/** Logs a store error at most once a minute per logger; the first one says what runs lose. */
export function storeErrorLogger(logger: Pick<Console, "warn">, now: () => number = Date.now) {
  let last = Number.NEGATIVE_INFINITY;
  let dropped = 0;
  return (what: string, error: unknown) => {
    const time = now();
    if (time - last < STORE_ERROR_LOG_INTERVAL_MS) {
      dropped++;
      return;
    }
    last = time;
    const more = dropped > 0 ? ` (${dropped} more since the last report)` : "";
    dropped = 0;
    const reason = error instanceof Error ? error.message : String(error);
    logger.warn(
      `[qjobs] The run store failed to ${what}${more}: ${reason}. Deliveries go on; their runs show their last recorded state.`,
    );
  };
}
