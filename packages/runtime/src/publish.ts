import type { Client, PublishRequest } from "@upstash/qstash";
import { deliveryUrl } from "./binding.js";
import { type DispatchConfig, maxPayloadBytes, readDispatchConfig } from "./env.js";
import { DispatchError, PayloadTooLargeError } from "./errors.js";
import type { DispatchOptions, DispatchResult, JobInput, JobKey } from "./types.js";

// QStash accepts large batches; 100 messages per request keeps each one far below its size limits.
const BATCH_SIZE = 100;

const clients = new Map<string, Promise<Client>>();

/**
 * One Client per token and URL. The SDK is imported on first use so that the route, which never
 * publishes, does not load it; `devMode: false` keeps a stray QSTASH_DEV from swapping endpoints.
 */
function qstashClient(config: DispatchConfig): Promise<Client> {
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

// Vercel's deployment protection lets QStash through with this header, which QStash forwards on delivery.
const BYPASS_HEADER = "x-vercel-protection-bypass";

function toPublishRequest(
  config: DispatchConfig,
  url: string,
  body: string | undefined,
  options: DispatchOptions,
): UrlPublishRequest {
  const { notBefore, headers, ...rest } = options;
  return {
    ...rest,
    url,
    body,
    headers: {
      ...headers,
      ...(config.bypassSecret ? { [BYPASS_HEADER]: config.bypassSecret } : {}),
      "Content-Type": "application/json",
    },
    notBefore: notBefore instanceof Date ? Math.floor(notBefore.getTime() / 1000) : notBefore,
  };
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
export async function publishJob(key: string, payload: unknown, options: DispatchOptions): Promise<DispatchResult> {
  const config = readDispatchConfig();
  const client = await qstashClient(config);
  const request = toPublishRequest(config, deliveryUrl(config.jobsUrl, key), serialize(key, config, payload), options);
  const response = await withDispatchErrors(key, () => client.publish(request));
  return response.deduplicated
    ? { messageId: response.messageId, deduplicated: true }
    : { messageId: response.messageId };
}

/** Publishes one message per payload through QStash's batch endpoint, keeping their order. */
export async function publishJobs(
  key: string,
  payloads: readonly unknown[],
  options: DispatchOptions,
): Promise<{ messageId: string }[]> {
  if (payloads.length === 0) return [];
  const config = readDispatchConfig();
  const client = await qstashClient(config);
  const url = deliveryUrl(config.jobsUrl, key);
  // Every payload is checked before the first batch goes out, so a too-large one publishes nothing.
  const bodies = payloads.map((payload) => serialize(key, config, payload));
  const results: { messageId: string }[] = [];
  for (let start = 0; start < bodies.length; start += BATCH_SIZE) {
    const requests = bodies
      .slice(start, start + BATCH_SIZE)
      .map((body) => toPublishRequest(config, url, body, options));
    const responses = await withDispatchErrors(key, () => client.batch(requests), [...results]);
    for (const response of responses) results.push({ messageId: (response as { messageId: string }).messageId });
  }
  return results;
}

/**
 * Dispatches a job by key without importing its code, so a caller never bundles a handler's
 * dependencies. Typed by the generated registry. The job's schema and defaults live in its module,
 * so they are not applied here; the route still validates the payload on delivery.
 */
export function dispatch<TKey extends JobKey>(
  key: TKey,
  ...[payload, options]: undefined extends JobInput<TKey>
    ? [payload?: JobInput<TKey>, options?: DispatchOptions]
    : [payload: JobInput<TKey>, options?: DispatchOptions]
): Promise<DispatchResult> {
  return publishJob(key, payload, options ?? {});
}
