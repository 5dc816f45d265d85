import type { Redis } from "@upstash/redis";
import type { RunStoreConfig } from "../env.js";
import { jsonUnder, MAX_PROGRESS_BYTES, MAX_RESULT_BYTES, type RunError, runFields, runKeys } from "./model.js";
import { appHash, STORE_TIMEOUT_MS, storeClient, UNENDED_RUN_GRACE_SECONDS, withinBound } from "./store.js";

/** How a delivery ended, as the route answered it. */
export type DeliveryOutcome =
  | { kind: "succeeded"; result: unknown }
  | { kind: "failed"; error: RunError }
  | { kind: "retrying"; error: RunError }
  /** Not run: a later dispatch with the same debounce key replaced it (issue 22). */
  | { kind: "cancelled"; reason: "debounced"; replacedBy: string };

/** What the route tells the recorder about a delivery, all of it bound to the verified signature. */
export interface DeliveryFacts {
  /** The run's id: the delivery's message id (or, for a failure callback, the signed source message id). */
  id: string;
  /** The job key the signature was issued for. */
  key: string;
  jobsUrl: URL;
  /** 1 for the first attempt. */
  attempt: number;
  /** The signature's id and expiry: a signature seen before records nothing. */
  jti: string;
  exp: number;
}

/** What the route holds while a delivery runs: `progress` for the handler, `end` once it answered. */
export interface DeliveryRecorder {
  progress(value: unknown): void;
  /** Records the end; resolves within `STORE_TIMEOUT_MS` whatever the store does, and never rejects. */
  end(outcome: DeliveryOutcome): Promise<void>;
}

type Pipeline = ReturnType<Redis["pipeline"]>;

/** The create-only fields and list entries: whoever sees a run first creates it; nobody overwrites them. */
export function createRun(
  pipe: Pipeline,
  run: { id: string; key: string; app: string; at: number },
  retention: number,
): Pipeline {
  const hash = runKeys.run(run.id);
  const listTtl = retention + UNENDED_RUN_GRACE_SECONDS;
  return pipe
    .hsetnx(hash, runFields.key, run.key)
    .hsetnx(hash, runFields.app, run.app)
    .hsetnx(hash, runFields.createdAt, String(run.at))
    .expire(hash, listTtl, "NX")
    .zadd(runKeys.list(run.app), { nx: true }, { score: run.at, member: run.id })
    .zadd(runKeys.jobList(run.app, run.key), { nx: true }, { score: run.at, member: run.id })
    .expire(runKeys.list(run.app), listTtl)
    .expire(runKeys.jobList(run.app, run.key), listTtl);
}

/** The end field of a succeeded run: the result, or why it could not be kept. */
function succeededField(result: unknown, at: number): string {
  const kept = jsonUnder(result === undefined ? null : result, MAX_RESULT_BYTES);
  if ("json" in kept) return `{"status":"succeeded","at":${at},"result":${kept.json}}`;
  return JSON.stringify({ status: "succeeded", at, resultError: `The result was not kept: ${kept.reason}` });
}

/** Writes a run's end: HSETNX (the first terminal write wins), then the retention counted from now. */
export function endRun(
  pipe: Pipeline,
  run: { id: string; key: string },
  end:
    | { status: "succeeded"; result: unknown }
    | { status: "failed" | "cancelled"; error?: RunError; reason?: "debounced"; replacedBy?: string },
  retention: number,
  at: number,
): Pipeline {
  const hash = runKeys.run(run.id);
  const field =
    end.status === "succeeded"
      ? succeededField(end.result, at)
      : JSON.stringify({
          status: end.status,
          at,
          ...(end.error ? { error: end.error } : {}),
          ...(end.reason ? { reason: end.reason, replacedBy: end.replacedBy } : {}),
        });
  return pipe.hsetnx(hash, runFields.end(run.key), field).expire(hash, retention);
}

/**
 * Starts recording one delivery, beside the handler (nothing here is awaited before it runs). First the
 * signature's id is remembered with SET NX EXAT: a signature seen before (a replayed delivery, whatever message
 * id header it carries) records nothing, and so does a store that cannot say. Then one pipeline creates the
 * run if needed and records the attempt's start; the end is one more.
 */
export function startRecording(
  config: RunStoreConfig,
  facts: DeliveryFacts,
  onError: (what: string, error: unknown) => void,
  options: { recordStart?: boolean } = {},
): DeliveryRecorder {
  const { id, key } = facts;
  const hash = runKeys.run(id);
  const started = (async () => {
    const [redis, app] = await Promise.all([storeClient(config), appHash(facts.jobsUrl)]);
    const fresh = await withinBound(
      redis.set(runKeys.signature(facts.jti), "1", { nx: true, exat: Math.max(facts.exp, 1) }),
    );
    if (fresh === null) return undefined;
    const at = Date.now();
    const pipe = createRun(redis.pipeline(), { id, key, app, at }, config.retention);
    if (options.recordStart !== false) {
      pipe.hset(hash, { [runFields.start(key)]: JSON.stringify({ attempt: facts.attempt, at }) });
    }
    await withinBound(pipe.exec());
    return { redis, app };
  })();
  // Errors are reported where they are awaited; this keeps an unawaited failure from being unhandled.
  started.catch(() => {});

  // Progress: at most one write in flight; values that arrive meanwhile replace each other, the latest is sent.
  let pending: { value: unknown } | undefined;
  let inFlight: Promise<void> | undefined;
  const sendProgress = async (): Promise<void> => {
    while (pending) {
      const { value } = pending;
      pending = undefined;
      const kept = jsonUnder(value, MAX_PROGRESS_BYTES);
      if (!("json" in kept)) {
        onError("record progress", new Error(`progress of job "${key}" was not recorded: ${kept.reason}`));
        continue;
      }
      try {
        const store = await started;
        if (!store) return;
        const field = `{"value":${kept.json},"at":${Date.now()}}`;
        await withinBound(store.redis.hset(hash, { [runFields.progress(key)]: field }));
      } catch (error) {
        onError("record progress", error);
      }
    }
  };

  return {
    progress(value) {
      pending = { value };
      if (!inFlight) inFlight = sendProgress().finally(() => (inFlight = undefined));
    },
    async end(outcome) {
      const write = async () => {
        const store = await started;
        if (!store) return;
        await inFlight;
        const at = Date.now();
        const pipe = store.redis.pipeline();
        if (outcome.kind === "retrying") {
          pipe.hset(hash, {
            [runFields.fail(key)]: JSON.stringify({ attempt: facts.attempt, at, error: outcome.error }),
          });
        } else if (outcome.kind === "cancelled") {
          const { reason, replacedBy } = outcome;
          endRun(pipe, facts, { status: "cancelled", reason, replacedBy }, config.retention, at);
        } else if (outcome.kind === "succeeded") {
          endRun(pipe, facts, { status: "succeeded", result: outcome.result }, config.retention, at);
        } else {
          endRun(pipe, facts, { status: "failed", error: outcome.error }, config.retention, at);
        }
        await pipe.exec();
      };
      try {
        // One bound for all the store may still owe this delivery: the start, progress in flight and the end.
        await withinBound(write(), STORE_TIMEOUT_MS);
      } catch (error) {
        onError("record a run", error);
      }
    },
  };
}
