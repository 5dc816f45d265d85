import type { DispatchConfig } from "../env.js";
import { createRun } from "./record.js";
import { appHash, storeClient, storeErrorLogger, withinBound } from "./store.js";

const reportStoreError = storeErrorLogger(console);

/**
 * A dispatcher with a run store records its runs as `queued`, create-only (the route may have created them
 * already), in one pipeline for a batch. The messages are published whatever the store does: an error here is
 * logged, never thrown, and costs the dispatch at most the store's time bound.
 */
export async function recordQueued(
  dispatch: Pick<DispatchConfig, "jobsUrl" | "runStore">,
  handles: readonly { id: string; key: string }[],
): Promise<void> {
  const config = dispatch.runStore;
  if (!config || handles.length === 0) return;
  try {
    const [redis, app] = await Promise.all([storeClient(config), appHash(dispatch.jobsUrl)]);
    const at = Date.now();
    const pipe = redis.pipeline();
    for (const { id, key } of handles) createRun(pipe, { id, key, app, at }, config.retention);
    await withinBound(pipe.exec());
  } catch (error) {
    reportStoreError("record dispatched runs", error);
  }
}
