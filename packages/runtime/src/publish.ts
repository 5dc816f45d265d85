import type { Client, PublishRequest } from "@upstash/qstash";
import { deliveryUrl } from "./binding.js";
import { bypassHeaders, bypassSecretFor } from "./bypass.js";
import { DEBOUNCE_HEADER, type Debounce, fillDebounceKey, startDebounce } from "./debounce.js";
import { DEFAULT_ROUTE_PATH, type DispatchConfig, maxPayloadBytes, processEnv, readDispatchConfig } from "./env.js";
import { DispatchError, InvalidPayloadError, PayloadTooLargeError, QJobsError } from "./errors.js";
import { failureCallbackOf } from "./failure-callback.js";
import { jsonIssue } from "./json-check.js";
import { recordQueued } from "./runs/queued.js";
import { dispatchTokenMinter, tokenSeconds } from "./runs/token.js";
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
function mergeOptions(defaults: DispatchOptions, options: DispatchOptions | undefined): DispatchOptions {
  if (!options) return defaults;
  const merged = { ...defaults, ...options };
  if (defaults.headers && options.headers) merged.headers = { ...defaults.headers, ...options.headers };
  return merged;
}

/**
 * A dispatch's options: the job's declared ones with their templates filled from the payload as dispatched, and
 * the call's own (literal, never filled) on top. template.ts is imported on first use, as the SDK is: the route
 * also holds createJob, and need not load a hash function to deliver.
 */
export async function dispatchOptions(
  key: string,
  declared: DispatchOptions,
  payload: unknown,
  options: DispatchOptions | undefined,
): Promise<DispatchOptions> {
  const { fillDeclaredOptions } = await import("./template.js");
  return mergeOptions(fillDeclaredOptions(key, declared, payload), options);
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
      ...callbackHeaders,
      ...bypassHeaders(bypassSecret, config.jobsUrl, { callback: rest.callback, failureCallback }),
      "Content-Type": "application/json",
    },
    notBefore: notBefore instanceof Date ? Math.floor(notBefore.getTime() / 1000) : notBefore,
  };
}

/**
 * What a job adds to each of its messages: whether it has an `onFailure` hook (its messages' failure callback then
 * always goes to the route), and its debounce, if any.
 */
export interface PublishHook {
  failureHook?: boolean;
  debounce?: Debounce;
}

const encoder = new TextEncoder();

/** The payload as the JSON body QStash will carry, refused before publishing when the route could not take it. */
function serialize(key: string, config: DispatchConfig, payload: unknown): string | undefined {
  if (payload === undefined) return undefined;
  // Outside production, what tsc would refuse is refused at run time too (a value typed any, JavaScript): the walk
  // costs a little, and a Date that arrives as a string is a bug to find before deploying (issue 21).
  const issue = processEnv().NODE_ENV === "production" ? undefined : jsonIssue(payload);
  if (issue) throw new InvalidPayloadError(key, [{ path: "", message: `${issue}: a payload travels as JSON` }]);
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
  const lifetime = tokenSeconds(options.tokenExpiresIn);
  const mint = await dispatchTokenMinter(processEnv(), config.jobsUrl);
  const body = serialize(key, config, payload);
  const debounce = hook.debounce
    ? await startDebounce(key, config, hook.debounce, await fillDebounceKey(key, hook.debounce, payload))
    : undefined;
  const client = await qstashClient(config);
  // A debounced message waits its period (or what maxWait leaves of it), whatever delay the options ask.
  const sent = debounce
    ? {
        ...options,
        delay: debounce.delaySeconds,
        notBefore: undefined,
        headers: { ...options.headers, [DEBOUNCE_HEADER]: "1" },
      }
    : options;
  const request = toPublishRequest(config, key, body, sent, hook);
  const response = await withDispatchErrors(key, () => client.publish(request));
  const handle = await runHandle(key, response.messageId, routePath, mint && ((id) => mint(id, lifetime)));
  // A deduplicated dispatch is the earlier message's run (its token reads it): nothing is written.
  if (response.deduplicated) return { ...handle, deduplicated: true };
  await Promise.all([recordQueued(config, [handle]), debounce?.recordLatest(handle.id)]);
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

/** Publishes one message per payload through QStash's batch endpoint, keeping their order; `options` are each one's. */
export async function publishJobs(
  key: string,
  payloads: readonly unknown[],
  options: readonly DispatchOptions[],
  routePath?: string,
  hook: PublishHook = {},
): Promise<RunHandle[]> {
  if (payloads.length === 0) return [];
  if (hook.debounce) {
    // Each debounced dispatch becomes its key's latest in turn, so they go one by one, in order.
    const handles: RunHandle[] = [];
    for (const [index, payload] of payloads.entries())
      handles.push(await publishJob(key, payload, options[index] as DispatchOptions, routePath, hook));
    return handles;
  }
  const config = readDispatchConfig(undefined, routePath);
  const lifetimes = options.map((each) => tokenSeconds(each.tokenExpiresIn));
  const mint = await dispatchTokenMinter(processEnv(), config.jobsUrl);
  const client = await qstashClient(config);
  // Every payload is checked before the first batch goes out, so a too-large one publishes nothing.
  const bodies = payloads.map((payload) => serialize(key, config, payload));
  const results: RunHandle[] = [];
  for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
    const requests = bodies
      .slice(start, start + BATCH_SIZE)
      .map((body, index) => toPublishRequest(config, key, body, options[start + index] as DispatchOptions, hook));
    const responses = await withDispatchErrors(key, () => client.batch(requests), [...results]);
    const batch = await Promise.all(
      responses.map(async (response, index) => {
        const { messageId, deduplicated } = response as { messageId: string; deduplicated?: boolean };
        const lifetime = lifetimes[start + index] as number;
        const handle = await runHandle(key, messageId, routePath, mint && ((id) => mint(id, lifetime)));
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
 * An unknown key, said as it is: this copy of the registry does not declare it. Under `next dev` (Turbopack), a
 * route compiled for the first time gets the instance of qjobs.gen.ts that an older route loaded, even when the
 * file on disk (and the compiled chunk) has the new key: the dev server re-instantiates a shared module only when
 * a route whose code changed is requested again (issue 21, reproduced with Next 16). Hence the second half.
 */
async function unknownJob(key: string, keys: readonly string[]): Promise<TypeError> {
  // Loaded on this path only: the route's bundle (an edge one too) need not carry the edit distance.
  const { didYouMean } = await import("./near-key.js");
  return new TypeError(
    `Unknown job ${JSON.stringify(key)}: this copy of the registry (qjobs.gen.ts) does not declare it.${didYouMean(key, keys)} ` +
      "If the job is new, run `qjobs generate` (the watcher does it for you). Under `next dev`, if qjobs.gen.ts " +
      "already lists it, the dev server still runs the copy an older route loaded: request a route that used it " +
      "before (or save this route again, or restart next dev) and it reloads.",
  );
}

/**
 * Builds the registry's `dispatch` over each job's declared options, which `qjobs generate` reads from the job
 * files statically. `routePath` gives a Vercel preview without QJOBS_URL its own jobs URL; `debounce` holds the
 * debounced jobs' declarations, read the same way.
 */
export function createDispatch(
  declared: Readonly<Record<string, DispatchOptions>>,
  config: {
    routePath?: string;
    failureHooks?: readonly string[];
    debounce?: Readonly<Record<string, Debounce>>;
  } = {},
): RegistryDispatch {
  // The jobs with an onFailure hook: their messages' failure callback goes to the route.
  const hooked = new Set(config.failureHooks);
  const debounced = config.debounce ?? {};
  const hook = (key: string): PublishHook => ({
    failureHook: hooked.has(key),
    ...(Object.hasOwn(debounced, key) ? { debounce: debounced[key] } : {}),
  });
  // The declared options carry their templates verbatim; each payload fills them, the call's options win.
  const declaredOf = async (key: string): Promise<DispatchOptions> => {
    if (!Object.hasOwn(declared, key)) throw await unknownJob(key, Object.keys(declared));
    return declared[key] as DispatchOptions;
  };
  const optionsOf = async (key: string, payload: unknown, options: DispatchOptions | undefined) =>
    dispatchOptions(key, await declaredOf(key), payload, options);
  return {
    dispatch: async <TKey extends JobKey>(key: TKey, ...[payload, options]: DispatchArgs<JobInput<TKey>>) =>
      (await publishJob(
        key,
        payload,
        await optionsOf(key, payload, options),
        config.routePath,
        hook(key),
      )) as DispatchResult<TKey>,
    // Every payload's templates are filled before the first batch goes out, so a bad one publishes nothing.
    dispatchMany: async <TKey extends JobKey>(
      key: TKey,
      payloads: readonly JobInput<TKey>[],
      options?: DispatchOptions,
    ) => {
      await declaredOf(key); // an unknown key is refused even with no payload
      return (await publishJobs(
        key,
        payloads,
        await Promise.all(payloads.map((payload) => optionsOf(key, payload, options))),
        config.routePath,
        hook(key),
      )) as RunHandle<TKey>[];
    },
  };
}

/** What a call of @qjobs/runtime's own `dispatch` is told by the compiler: the import to use instead. */
export type UseTheRegistryDispatch =
  'import { dispatch } from your generated registry ("@/qjobs.gen"), not from "@qjobs/runtime"';

/**
 * @deprecated Import `dispatch` from your generated registry (`qjobs.gen.ts`): it applies each job's declared
 * options (retries, flow control...), which `@qjobs/runtime` alone cannot know. A call does not compile (its key
 * must be the sentence naming the import, issue 21), and refuses at run time for JavaScript callers.
 */
export function dispatch(key: UseTheRegistryDispatch, ..._args: unknown[]): Promise<DispatchResult> {
  return Promise.reject(
    new QJobsError(
      "dispatch_moved",
      `dispatch("${key}") from @qjobs/runtime would drop the job's declared options: import { dispatch } from your generated registry instead (e.g. import { dispatch } from "@/qjobs.gen").`,
    ),
  );
}
