import type { Client, PublishRequest } from "@upstash/qstash";
import { deliveryUrl } from "./binding.js";
import { BYPASS_HEADER, bypassSecretFor } from "./bypass.js";
import { DEFAULT_ROUTE_PATH, type DispatchConfig, maxPayloadBytes, processEnv, readDispatchConfig } from "./env.js";
import { DispatchError, PayloadTooLargeError, QJobsError } from "./errors.js";
import { failureCallbackOf } from "./failure-callback.js";
import { recordQueued } from "./runs/queued.js";
import { dispatchTokenMinter } from "./runs/token.js";
import type { DispatchArgs, DispatchOptions, DispatchResult, JobInput, JobKey, RunHandle } from "./types.js";

// QStash accepts large batches; 100 messages per request keeps each one far below its size limits.
const BATCH_SIZE = 100;

const clients = new Map<string, Promise<Client>>();

/**
 * One Client per token and URL. The SDK is imported on first use so that the route, which never
 * publishes, does not load it; `devMode: false` keeps a stray QSTASH_DEV from swapping endpoints.
 */
export function qstashClient(config: DispatchConfig): Promise<Client> {
  const cacheKey = `${config.qstashUrl ?? ""}\n${config.token}`;
  let client = clients.get(cacheKey);
  if (!client) {
    client = import("@upstash/qstash").then(
      ({ Client }) =>
        new Client({ token: config.token, baseUrl: config.qstashUrl, devMode: false, enableTelemetry: false }),
    );
    clients.set(cacheKey, client);
  }
  return client;
}

/** Job defaults under call options; headers merge one by one. */
export function mergeOptions(defaults: DispatchOptions, options: DispatchOptions | undefined): DispatchOptions {
  if (!options) return defaults;
  const merged = { ...defaults, ...options };
  if (defaults.headers && options.headers) merged.headers = { ...defaults.headers, ...options.headers };
  return merged;
}

type UrlPublishRequest = PublishRequest<string> & { url: string };

function toPublishRequest(
  config: DispatchConfig,
  key: string,
  body: string | undefined,
  options: DispatchOptions,
  hook: PublishHook,
): UrlPublishRequest {
  const { notBefore, headers, tokenExpiresIn: _forTheHandle, ...rest } = options;
  // Every message's failure callback goes to the route (verified like any delivery), which ends the run and runs
  // the job's onFailure, unless the job declares one of its own.
  const { failureCallback, headers: callbackHeaders } = failureCallbackOf(
    config.jobsUrl,
    key,
    hook.failureHook ? undefined : rest.failureCallback,
  );
  const bypassSecret = bypassSecretFor(key, config.bypassSecret, config.jobsUrl, [rest.callback, failureCallback]);
  return {
    ...rest,
    url: deliveryUrl(config.jobsUrl, key),
    failureCallback,
    body,
    headers: {
      ...headers,
      ...(bypassSecret ? { [BYPASS_HEADER]: bypassSecret } : {}),
      ...callbackHeaders,
      ...(bypassSecret ? { [`Upstash-Failure-Callback-Forward-${BYPASS_HEADER}`]: bypassSecret } : {}),
      "Content-Type": "application/json",
    },
    notBefore: notBefore instanceof Date ? Math.floor(notBefore.getTime() / 1000) : notBefore,
  };
}

/** Whether the job has an `onFailure` hook: its messages' failure callback then always goes to the route. */
export interface PublishHook {
  failureHook?: boolean;
}

const encoder = new TextEncoder();

/** The payload as the JSON body QStash will carry, refused before publishing when the route could not take it. */
function serialize(key: string, config: DispatchConfig, payload: unknown): string | undefined {
  if (payload === undefined) return undefined;
  const body = JSON.stringify(payload);
  const limit = maxPayloadBytes(config.maxBodyBytes);
  // A UTF-8 byte is at least a UTF-16 unit and at most three: encode only when the length says it may matter.
  if (body.length * 3 > limit) {
    const size = encoder.encode(body).byteLength;
    if (size > limit) throw new PayloadTooLargeError(key, size, limit);
  }
  return body;
}

async function withDispatchErrors<T>(
  key: string,
  publish: () => Promise<T>,
  published: readonly { messageId: string }[] = [],
): Promise<T> {
  try {
    return await publish();
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    throw new DispatchError(key, (error as Error).message, typeof status === "number" ? status : undefined, {
      cause: error,
      published,
    });
  }
}

/** Publishes one message for `key`; the payload must already be valid. */
export async function publishJob(
  key: string,
  payload: unknown,
  options: DispatchOptions,
  routePath?: string,
  hook: PublishHook = {},
): Promise<DispatchResult> {
  const config = readDispatchConfig(undefined, routePath);
  const mint = await dispatchTokenMinter(processEnv(), config.jobsUrl, options.tokenExpiresIn);
  const client = await qstashClient(config);
  const request = toPublishRequest(config, key, serialize(key, config, payload), options, hook);
  const response = await withDispatchErrors(key, () => client.publish(request));
  const handle = await runHandle(key, response.messageId, routePath, mint);
  // A deduplicated dispatch is the earlier message's run (its token reads it): nothing is written.
  if (response.deduplicated) return { ...handle, deduplicated: true };
  await recordQueued(config, [handle]);
  return handle;
}

/**
 * A run handle: the run's id (QStash's message id, also kept as `messageId`), its job key, and what a browser
 * needs to follow it: the route's path and, when the dispatcher can mint one, a token. Plain data, so it
 * survives a server action's return and a client component's props.
 */
async function runHandle<TKey extends string>(
  key: TKey,
  messageId: string,
  routePath: string | undefined,
  mint: ((runId: string) => Promise<string>) | undefined,
): Promise<RunHandle<TKey>> {
  const token = mint ? await mint(messageId) : undefined;
  return { id: messageId, key, messageId, route: routePath ?? DEFAULT_ROUTE_PATH, ...(token ? { token } : {}) };
}

/** Publishes one message per payload through QStash's batch endpoint, keeping their order. */
export async function publishJobs(
  key: string,
  payloads: readonly unknown[],
  options: DispatchOptions,
  routePath?: string,
  hook: PublishHook = {},
): Promise<RunHandle[]> {
  if (payloads.length === 0) return [];
  const config = readDispatchConfig(undefined, routePath);
  const mint = await dispatchTokenMinter(processEnv(), config.jobsUrl, options.tokenExpiresIn);
  const client = await qstashClient(config);
  // Every payload is checked before the first batch goes out, so a too-large one publishes nothing.
  const bodies = payloads.map((payload) => serialize(key, config, payload));
  const results: RunHandle[] = [];
  for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
    const requests = bodies
      .slice(start, start + BATCH_SIZE)
      .map((body) => toPublishRequest(config, key, body, options, hook));
    const responses = await withDispatchErrors(key, () => client.batch(requests), [...results]);
    const batch = await Promise.all(
      responses.map(async (response) => {
        const { messageId, deduplicated } = response as { messageId: string; deduplicated?: boolean };
        const handle = await runHandle(key, messageId, routePath, mint);
        return deduplicated ? { ...handle, deduplicated: true as const } : handle;
      }),
    );
    // One pipeline for the batch's runs; deduplicated messages are runs already.
    await recordQueued(
      config,
      batch.filter((handle) => !handle.deduplicated),
    );
    results.push(...batch);
  }
  return results;
}

/** What the generated registry exports: `dispatch` and `dispatchMany` by key, applying each job's declared options. */
export interface RegistryDispatch {
  /**
   * Publishes one message for job `key` without importing its code (so a caller never bundles a handler's
   * dependencies), with the job's declared options under the call's own. The payload is type-checked by tsc
   * and validated by the job's schema on delivery.
   */
  dispatch<TKey extends JobKey>(key: TKey, ...args: DispatchArgs<JobInput<TKey>>): Promise<DispatchResult<TKey>>;
  /** One message per payload, through QStash's batch endpoint; ids come back in order. */
  dispatchMany<TKey extends JobKey>(
    key: TKey,
    payloads: readonly JobInput<TKey>[],
    options?: DispatchOptions,
  ): Promise<RunHandle<TKey>[]>;
}

/**
 * Builds the registry's `dispatch` over each job's declared options, which `qjobs generate` reads from the job
 * files statically. `routePath` gives a Vercel preview without QJOBS_URL its own jobs URL.
 */
export function createDispatch(
  declared: Readonly<Record<string, DispatchOptions>>,
  config: { routePath?: string; failureHooks?: readonly string[] } = {},
): RegistryDispatch {
  // The jobs with an onFailure hook: their messages' failure callback goes to the route.
  const hooked = new Set(config.failureHooks);
  const hook = (key: string) => ({ failureHook: hooked.has(key) });
  const optionsOf = (key: string, options: DispatchOptions | undefined) => {
    if (!Object.hasOwn(declared, key)) throw new TypeError(`Unknown job "${key}": run \`qjobs generate\` if it is new`);
    return mergeOptions(declared[key] as DispatchOptions, options);
  };
  return {
    dispatch: async <TKey extends JobKey>(key: TKey, ...[payload, options]: DispatchArgs<JobInput<TKey>>) =>
      (await publishJob(key, payload, optionsOf(key, options), config.routePath, hook(key))) as DispatchResult<TKey>,
    dispatchMany: async <TKey extends JobKey>(
      key: TKey,
      payloads: readonly JobInput<TKey>[],
      options?: DispatchOptions,
    ) => (await publishJobs(key, payloads, optionsOf(key, options), config.routePath, hook(key))) as RunHandle<TKey>[],
  };
}

/**
 * @deprecated Import `dispatch` from your generated registry (`qjobs.gen.ts`): it applies each job's declared
 * options (retries, flow control...), which `@qjobs/runtime` alone cannot know. This one refuses, so that no
 * dispatch silently drops them.
 */
export function dispatch<TKey extends JobKey>(
  key: TKey,
  ..._args: DispatchArgs<JobInput<TKey>>
): Promise<DispatchResult> {
  return Promise.reject(
    new QJobsError(
      "dispatch_moved",
      `dispatch("${key}") from @qjobs/runtime would drop the job's declared options: import { dispatch } from your generated registry instead (e.g. import { dispatch } from "@/qjobs.gen").`,
    ),
  );
}
