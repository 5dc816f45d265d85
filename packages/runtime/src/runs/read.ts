import type { RunStoreConfig } from "../env.js";
import { foldRun, type Run, type RunStatus, runKeys } from "./model.js";
import { storeClient, withinBound } from "./store.js";

/**
 * HGETALL's reply as a record. The client is told not to deserialize (qjobs's values are its own JSON, which it
 * must not see parsed into numbers), so the reply is Redis's flat list of fields and values.
 */
function hashFields(reply: unknown): Record<string, string> | undefined {
  if (!Array.isArray(reply) || reply.length === 0) return undefined;
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1]);
  return fields;
}

/** A run from the store, folded from its fields; undefined when there is none (or it expired). */
export async function readRun(config: RunStoreConfig, id: string): Promise<Run | undefined> {
  const redis = await storeClient(config);
  return foldRun(id, hashFields(await withinBound(redis.hgetall(runKeys.run(id)))));
}

/** How many `retriedAs` links are followed at most (a retry of a retry...). */
const MAX_RETRY_LINKS = 10;

/**
 * A run from the store, following a retry from the dead-letter queue (a new message, linked by `retriedAs`) to
 * the run that goes on in its place, as long as it is of the same job.
 */
export async function readLatestRun(config: RunStoreConfig, id: string): Promise<Run | undefined> {
  let run = await readRun(config, id);
  for (let hops = 0; run?.retriedAs && hops < MAX_RETRY_LINKS; hops++) {
    const next = await readRun(config, run.retriedAs);
    if (!next || next.key !== run.key) break;
    run = next;
  }
  return run;
}

export interface ListRunsOptions {
  /** Only the runs of this job. */
  key?: string;
  /** Only runs in this status. */
  status?: RunStatus;
  /** At most this many runs (1-100, default 20). */
  limit?: number;
  /** Where the previous page ended (`nextCursor`). */
  cursor?: string;
}

export interface RunPage {
  runs: Run[];
  /** Pass as `cursor` for the next page; absent on the last one. */
  nextCursor?: string;
}

/** How many list entries one page reads at most, whatever the filter skips: a listing stays bounded. */
const MAX_SCANNED = 1000;

/** A cursor: the creation time the next page starts at, and how many runs of that time were already listed. */
function parseCursor(cursor: string | undefined): { max: number; skip: number } {
  if (cursor === undefined) return { max: Number.POSITIVE_INFINITY, skip: 0 };
  const match = /^(\d+):(\d+)$/.exec(cursor);
  if (!match) throw new TypeError(`Invalid runs cursor ${JSON.stringify(cursor)}: pass a nextCursor unchanged`);
  return { max: Number(match[1]), skip: Number(match[2]) };
}

/**
 * An app's runs, newest first, a page at a time: the per-app (or per-job) sorted set by creation time, each run
 * read and folded; entries whose run expired are skipped (and dropped from the list).
 */
export async function listStoredRuns(
  config: RunStoreConfig,
  app: string,
  options: ListRunsOptions = {},
): Promise<RunPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 20), 1), 100);
  const redis = await storeClient(config);
  const list = options.key === undefined ? runKeys.list(app) : runKeys.jobList(app, options.key);
  let { max, skip } = parseCursor(options.cursor);
  const runs: Run[] = [];
  let scanned = 0;
  while (runs.length < limit && scanned < MAX_SCANNED) {
    const batch = Math.min(limit * 2, MAX_SCANNED - scanned);
    const entries = await withinBound(
      redis.zrange<string[]>(list, max === Number.POSITIVE_INFINITY ? "+inf" : max, "-inf", {
        byScore: true,
        rev: true,
        withScores: true,
        offset: skip,
        count: batch,
      } as never),
    );
    const pairs: { id: string; score: number }[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2)
      pairs.push({ id: String(entries[i]), score: Number(entries[i + 1]) });
    if (pairs.length === 0) return { runs };
    const pipe = redis.pipeline();
    for (const { id } of pairs) pipe.hgetall(runKeys.run(id));
    const hashes = (await withinBound(pipe.exec())).map(hashFields);
    const expired: string[] = [];
    let read = 0;
    for (const [index, { id, score }] of pairs.entries()) {
      if (runs.length === limit) break;
      read++;
      scanned++;
      if (score !== max) {
        max = score;
        skip = 0;
      }
      const run = foldRun(id, hashes[index]);
      // An expired run's entry is dropped, so it is not counted among those to skip at this time.
      if (!run) expired.push(id);
      else {
        skip++;
        if (options.status === undefined || run.status === options.status) runs.push(run);
      }
    }
    if (expired.length > 0) await withinBound(redis.zrem(list, ...expired)).catch(() => {});
    // The list ran out: every entry was read and there are no more.
    if (read === pairs.length && pairs.length < batch) return { runs };
  }
  return { runs, nextCursor: `${max}:${skip}` };
}
