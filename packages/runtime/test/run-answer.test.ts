// The route answers a browser for a run (issue 19): GET ?run=<id> with the run's token in Authorization, as JSON
// or as a stream. The real route and @upstash/redis client against the local Redis stand-in on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { REDIS_TOKEN, type StandIn, startStandIn } from "../../local/test/redis-support.js";
import { createJob, createRouteHandler, type JobContext, linkRunRetry, NonRetryableError } from "../src/index.js";
import { mintRunToken, readRunTokenKeys } from "../src/runs/token.js";
import { createDeliveryRequest } from "../src/testing.js";

const routeUrl = "https://app.example.com/api/jobs";
const signing = { QSTASH_CURRENT_SIGNING_KEY: "sig_answer_current", QSTASH_NEXT_SIGNING_KEY: "sig_answer_next" };

class ShownError extends Error {
  override name = "ShownError";
  expose = true;
}
let release: (() => void) | undefined;
const jobs = {
  "orders/import": createJob("orders/import", async (payload: { n: number }) => ({ imported: payload.n })),
  "cards/charge": createJob("cards/charge", async () => {
    throw new NonRetryableError("card declined");
  }),
  "shop/sync": createJob("shop/sync", async () => {
    throw new Error("db password is hunter2");
  }),
  "shop/shown": createJob("shop/shown", async () => {
    throw new ShownError("the shop is closed today");
  }),
  "reports/progress": createJob("reports/progress", async (_payload: undefined, ctx: JobContext) => {
    ctx.progress({ done: 1 });
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return "ok";
  }),
};
const loaders = Object.fromEntries(Object.entries(jobs).map(([key, job]) => [key, async () => job]));

let redis: StandIn;
let env: Record<string, string>;
let reads = 0;
const logger = { error: vi.fn(), warn: vi.fn() };
beforeEach(async () => {
  reads = 0;
  release = undefined;
  redis = await startStandIn({ start: Date.now() });
  const send = redis.gateway.execute.bind(redis.gateway);
  vi.spyOn(redis.gateway, "execute").mockImplementation((command) => {
    if (String(command[0]).toUpperCase() === "HGETALL") reads++;
    return send(command);
  });
  env = { ...signing, QJOBS_URL: routeUrl, QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN };
});
afterEach(() => release?.());

const route = (options: Parameters<typeof createRouteHandler>[1] = {}) =>
  createRouteHandler(loaders, { env: () => env, logger, ...options });
const deliver = async (key: string, payload: unknown, messageId: string) =>
  route()(
    await createDeliveryRequest({ routeUrl, key, payload, signingKey: signing.QSTASH_CURRENT_SIGNING_KEY, messageId }),
  );
const tokenFor = async (id: string, options: { env?: Record<string, string>; url?: string; seconds?: number } = {}) => {
  const keys = await readRunTokenKeys(options.env ?? signing, new URL(options.url ?? routeUrl));
  return mintRunToken(keys as NonNullable<typeof keys>, options.url ?? routeUrl, id, options.seconds);
};
const get = (query: string, headers: Record<string, string> = {}) =>
  route()(new Request(`${routeUrl}${query}`, { method: "GET", headers }));
const read = async (id: string, headers: Record<string, string> = {}) =>
  get(`?run=${id}`, { authorization: `Bearer ${await tokenFor(id)}`, ...headers });

describe("GET ?run= answers the run to a browser holding its token", () => {
  it("a succeeded run: status, attempt, result and times, never cached, varied by Authorization", async () => {
    await deliver("orders/import", { n: 3 }, "msg_ok");
    const response = await read("msg_ok");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("vary")).toBe("Authorization");
    const body = await response.json();
    expect(body).toMatchObject({ id: "msg_ok", key: "orders/import", status: "succeeded", attempt: 1 });
    expect(body.result).toEqual({ imported: 3 });
    expect(body.finishedAt).toEqual(expect.any(String));
    expect(Object.keys(body)).not.toContain("payload");
    expect(Object.keys(body)).not.toContain("headers");
  });

  it("an ETag from the run's version: 304 on If-None-Match until the run changes", async () => {
    const first = await read("msg_etag");
    const etag = first.headers.get("etag") as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await read("msg_etag", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    await deliver("orders/import", { n: 1 }, "msg_etag");
    const changed = await read("msg_etag", { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
  });

  it("checks with the token secret set after the route configured itself, when its env is read as copies", async () => {
    let current: Record<string, string> = { ...env };
    const handler = createRouteHandler(loaders, { env: () => ({ ...current }), logger });
    const signed = { routeUrl, key: "orders/import", payload: { n: 1 }, messageId: "msg_later_secret" };
    await handler(await createDeliveryRequest({ ...signed, signingKey: signing.QSTASH_CURRENT_SIGNING_KEY }));
    const secret = "later-secret-".padEnd(40, "x");
    current = { ...current, QJOBS_RUN_TOKEN_SECRET: secret };
    const token = await tokenFor("msg_later_secret", { env: { ...signing, QJOBS_RUN_TOKEN_SECRET: secret } });
    const response = await handler(
      new Request(`${routeUrl}?run=msg_later_secret`, { headers: { authorization: `Bearer ${token}` } }),
    );
    expect(response.status).toBe(200);
  });

  it("a valid token for a run not stored yet answers queued", async () => {
    const response = await read("msg_not_yet");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: "msg_not_yet", status: "queued", attempt: 0 });
  });

  it("a NonRetryableError's or an exposed error's message reaches the browser; any other error does not", async () => {
    await deliver("cards/charge", undefined, "msg_declined");
    expect((await (await read("msg_declined")).json()).error).toEqual({
      name: "NonRetryableError",
      message: "card declined",
    });
    await deliver("shop/shown", undefined, "msg_shown");
    expect((await (await read("msg_shown")).json()).error).toEqual({
      name: "ShownError",
      message: "the shop is closed today",
    });
    await deliver("shop/sync", undefined, "msg_secret");
    const hidden = await (await read("msg_secret")).json();
    expect(hidden.status).toBe("retrying");
    expect(hidden.error).toEqual({ message: "The job failed" });
    expect(JSON.stringify(hidden)).not.toContain("hunter2");
  });

  it("the runView option reshapes what the browser gets", async () => {
    await deliver("orders/import", { n: 2 }, "msg_view");
    const response = await route({ runView: (view) => ({ state: view.status }) })(
      new Request(`${routeUrl}?run=msg_view`, { headers: { authorization: `Bearer ${await tokenFor("msg_view")}` } }),
    );
    expect(await response.json()).toEqual({ state: "succeeded" });
  });

  it("without a run store: 404 runs_not_configured", async () => {
    env = { ...signing, QJOBS_URL: routeUrl };
    const response = await read("msg_ok");
    expect(response.status).toBe(404);
    expect((await response.json()).error.code).toBe("runs_not_configured");
  });

  it("other methods are 405 with Allow: GET, POST; a GET without ?run= is 400", async () => {
    const put = await route()(new Request(routeUrl, { method: "PUT" }));
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST");
    const bare = await get("");
    expect(bare.status).toBe(400);
    expect((await bare.json()).error.code).toBe("missing_run");
  });
});

describe("attacks on GET ?run=: 401, the same whether the run exists or not, and the store never asked", () => {
  const refusal = async (response: Response) => ({ status: response.status, body: await response.json() });
  const existing = "msg_exists";
  const missing = "msg_missing";
  beforeEach(async () => {
    await deliver("orders/import", { n: 1 }, existing);
    reads = 0;
  });
  const both = async (headersFor: (id: string) => Promise<Record<string, string>>) => {
    const a = await refusal(await get(`?run=${existing}`, await headersFor(existing)));
    const b = await refusal(await get(`?run=${missing}`, await headersFor(missing)));
    expect(a).toEqual(b);
    expect(reads).toBe(0);
    return a;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it("no token", async () => {
    expect(await both(async () => ({}))).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });

  it("an expired token: token_expired, so the browser stops", async () => {
    const expired = async (id: string) => {
      const keys = await readRunTokenKeys(signing, new URL(routeUrl));
      return bearer(await mintRunToken(keys as NonNullable<typeof keys>, routeUrl, id, 60, Date.now() - 120_000));
    };
    expect(await both(expired)).toMatchObject({ status: 401, body: { error: { code: "token_expired" } } });
  });

  it("a tampered token", async () => {
    const tampered = async (id: string) => {
      const token = await tokenFor(id);
      return bearer(`${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`);
    };
    expect(await both(tampered)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });

  it("a truncated token", async () => {
    const truncated = async (id: string) => bearer((await tokenFor(id)).slice(0, -5));
    expect(await both(truncated)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });

  it("a token for another run", async () => {
    const other = async () => bearer(await tokenFor("msg_someone_elses"));
    expect(await both(other)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });

  it("a token minted with other keys", async () => {
    const otherKeys = { QSTASH_CURRENT_SIGNING_KEY: "sig_other_current", QSTASH_NEXT_SIGNING_KEY: "sig_other_next" };
    const other = async (id: string) => bearer(await tokenFor(id, { env: otherKeys }));
    expect(await both(other)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });

  it("a token for the right id from another app sharing the QStash keys", async () => {
    const otherApp = async (id: string) => bearer(await tokenFor(id, { url: "https://other.example.com/api/jobs" }));
    expect(await both(otherApp)).toMatchObject({ status: 401, body: { error: { code: "unauthorized" } } });
  });

  it("a token in the URL is 400, even a valid one (URLs end up in logs and Referer headers)", async () => {
    const response = await get(`?run=${existing}&token=${await tokenFor(existing)}`, bearer(await tokenFor(existing)));
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("token_in_url");
    expect(reads).toBe(0);
  });

  it("a malformed run id never reaches the store", async () => {
    for (const id of ["..%2Fqjobs%3Aruns", "a".repeat(200), "msg%0Aother", ""]) {
      const response = await get(`?run=${id}`, bearer(await tokenFor(existing)));
      expect(response.status).toBe(400);
    }
    expect((await get(`?run=${existing}&run=${missing}`, bearer(await tokenFor(existing)))).status).toBe(400);
    expect(reads).toBe(0);
  });
});

/** The events of a run stream, once it ended. */
async function readStream(response: Response): Promise<{ events: unknown[]; comments: number }> {
  const text = await response.text();
  const blocks = text.split("\n\n").filter(Boolean);
  const events = blocks
    .map((block) => /^data: (.*)$/m.exec(block)?.[1])
    .filter((data): data is string => data !== undefined)
    .map((data) => JSON.parse(data));
  return { events, comments: blocks.filter((block) => block.startsWith(":")).length };
}

describe("Accept: text/event-stream streams the run", () => {
  it("the current run, then each change, and it ends with the run; headers keep proxies from buffering", async () => {
    const delivered = deliver("reports/progress", undefined, "msg_stream");
    await vi.waitFor(() => expect(release).toBeDefined());
    const response = await read("msg_stream", { accept: "text/event-stream" });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("cache-control")).toBe("no-store, no-transform");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    const stream = readStream(response);
    // The end is written after the stream's first read: the stream shows the change.
    await vi.waitFor(() => expect(reads).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    release?.();
    await delivered;
    const { events } = await stream;
    expect(events[0]).toMatchObject({ status: "running", progress: { done: 1 } });
    expect(events.at(-1)).toMatchObject({ status: "succeeded", result: "ok" });
  });

  it("the streams of one run share one store read a second, however many there are", async () => {
    const token = await tokenFor("msg_popular");
    const open = () =>
      route({ streamSeconds: 3 })(
        new Request(`${routeUrl}?run=msg_popular`, {
          headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
        }),
      );
    const streams = await Promise.all(Array.from({ length: 8 }, open));
    await Promise.all(streams.map(readStream));
    // Each stream's first read is its own (8); then one read a second for all of them, for 3 s (not 8 a second).
    expect(reads).toBeGreaterThanOrEqual(8 + 2);
    expect(reads).toBeLessThanOrEqual(8 + 4);
  });

  it("ends after streamSeconds, never past the route's maxDuration, so the browser reconnects", async () => {
    const started = Date.now();
    const response = await route({ streamSeconds: 25, maxDuration: 2 })(
      new Request(`${routeUrl}?run=msg_quiet`, {
        headers: { authorization: `Bearer ${await tokenFor("msg_quiet")}`, accept: "text/event-stream" },
      }),
    );
    const { events } = await readStream(response);
    expect(events).toEqual([{ id: "msg_quiet", status: "queued", attempt: 0 }]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("a run retried from the dead-letter queue", () => {
  it("the old run's token follows retriedAs to the run that replaced it", async () => {
    await deliver("cards/charge", undefined, "msg_first");
    await deliver("orders/import", { n: 5 }, "msg_second");
    // The retry must be of the same job to be followed: link a run of the same key.
    await deliver("cards/charge", undefined, "msg_retry");
    await linkRunRetry("msg_first", "msg_retry", env);
    const body = await (await read("msg_first")).json();
    expect(body).toMatchObject({ id: "msg_retry", retryOf: "msg_first", status: "failed" });
    await linkRunRetry("msg_first", "msg_second", env);
    // Another job's run is never followed to: the token's run is answered.
    expect((await (await read("msg_first")).json()).id).toBe("msg_first");
  });
});
