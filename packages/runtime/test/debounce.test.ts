// Debounce at dispatch (issue 22): the delay each message is published with, from its period and maxWait, with
// the run store in the local Redis stand-in and QStash's publish captured.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { REDIS_TOKEN, type StandIn, startStandIn } from "../../local/test/redis-support.js";
import { createDispatch, createJob, createRouteHandler, InvalidPayloadError, type JobContext } from "../src/index.js";
import { createDeliveryRequest } from "../src/testing.js";

const qstash = useCaptureQStash({ jobsUrl: "https://app.example.com/api/jobs" });
let redis: StandIn;
beforeEach(async () => {
  redis = await startStandIn();
  vi.stubEnv("QJOBS_REDIS_REST_URL", redis.url);
  vi.stubEnv("QJOBS_REDIS_REST_TOKEN", REDIS_TOKEN);
  // Only Date moves by hand: the sockets keep their real timers.
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(Date.UTC(2030, 0, 1));
});
afterEach(() => vi.useRealTimers());

const delays = () => qstash.requests.map((request) => request.headers["upstash-delay"]);

describe("a debounced dispatch is published with its period as delay, cut short by maxWait", () => {
  const { dispatch } = createDispatch(
    { "search/reindex": { delay: 999 } },
    { debounce: { "search/reindex": { key: "site:{siteId}", period: "30s", maxWait: "45s" } } },
  );
  const at = (seconds: number) => vi.setSystemTime(Date.UTC(2030, 0, 1) + seconds * 1000);

  it("a steady stream cannot postpone the run past maxWait from its first dispatch", async () => {
    await dispatch("search/reindex" as never, { siteId: "a", n: 1 } as never);
    at(20);
    await dispatch("search/reindex" as never, { siteId: "a", n: 2 } as never);
    at(40);
    await dispatch("search/reindex" as never, { siteId: "a", n: 3 } as never);
    at(44);
    await dispatch("search/reindex" as never, { siteId: "b", n: 4 } as never);
    // 30 s each, until the burst that began at 0 s would wait past 45 s: 25 s at 20 s, 5 s at 40 s. Another
    // key's burst starts on its own.
    expect(delays()).toEqual(["30s", "25s", "5s", "30s"]);
    expect(qstash.requests.map((request) => request.headers["upstash-forward-qjobs-debounce"])).toEqual([
      "1",
      "1",
      "1",
      "1",
    ]);
  });

  it("job.dispatch debounces too, and a payload that fills no key publishes nothing", async () => {
    const job = createJob("search/reindex", {
      debounce: { key: "site:{siteId}", period: 10 },
      handler: async (_payload: { siteId: string }) => {},
    });
    await job.dispatch({ siteId: "x" });
    expect(delays()).toEqual(["10s"]);
    await expect(job.dispatch({} as { siteId: string })).rejects.toThrow(InvalidPayloadError);
    expect(qstash.requests).toHaveLength(1);
  });
});

describe("at delivery the route runs only its key's latest debounced dispatch", () => {
  const routeUrl = "https://app.example.com/api/jobs";
  const signing = { QSTASH_CURRENT_SIGNING_KEY: "sig_debounce_current", QSTASH_NEXT_SIGNING_KEY: "sig_debounce_next" };
  let ran: string[] = [];
  const reindex = createJob("search/reindex", {
    debounce: { key: "site:{siteId}", period: 30 },
    // A handler-typed job with a template annotates ctx too (see README: Keys from the payload).
    handler: async (payload: { siteId: string; n: number }, ctx: JobContext) =>
      void ran.push(`${payload.n}@${ctx.messageId}`),
  });
  const route = (storeUrl: string) =>
    createRouteHandler(
      { "search/reindex": async () => reindex },
      {
        env: () => ({
          ...signing,
          QJOBS_URL: routeUrl,
          QJOBS_REDIS_REST_URL: storeUrl,
          QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN,
        }),
        logger: { error: () => undefined, warn: () => undefined },
      },
    );
  /** A signed delivery of `payload` as message `messageId`, with the debounce mark unless told not to. */
  async function delivery(messageId: string, payload: unknown, marked = true) {
    const signed = await createDeliveryRequest({
      routeUrl,
      key: "search/reindex",
      payload,
      messageId,
      signingKey: signing.QSTASH_CURRENT_SIGNING_KEY,
    });
    const headers = new Headers(signed.headers);
    if (marked) headers.set("Qjobs-Debounce", "1");
    return new Request(signed.url, { method: "POST", headers, body: await signed.arrayBuffer() });
  }
  /** Publishes a debounced dispatch for the site, so that the store records it as its key's latest. */
  const { dispatch } = createDispatch(
    { "search/reindex": {} },
    { debounce: { "search/reindex": { key: "site:{siteId}", period: 30 } } },
  );
  beforeEach(() => {
    ran = [];
  });

  it("answers 200 without running a superseded one, runs the latest, and always runs an unmarked one", async () => {
    const first = await dispatch("search/reindex" as never, { siteId: "s", n: 1 } as never);
    const last = await dispatch("search/reindex" as never, { siteId: "s", n: 2 } as never);
    const handle = route(redis.url);

    const superseded = await handle(await delivery(first.id, { siteId: "s", n: 1 }));
    expect(superseded.status).toBe(200);
    expect(await superseded.json()).toEqual({ ok: true, debounced: true, replacedBy: last.id });
    expect(ran).toEqual([]);

    expect((await handle(await delivery(last.id, { siteId: "s", n: 2 }))).status).toBe(200);
    // A schedule's tick or a dashboard's Run carries no mark: it runs, whatever the latest is.
    expect((await handle(await delivery("msg_unmarked", { siteId: "s", n: 3 }, false))).status).toBe(200);
    expect(ran).toEqual([`2@${last.id}`, "3@msg_unmarked"]);
  });

  it("runs the handler when the store cannot be reached at delivery", async () => {
    const first = await dispatch("search/reindex" as never, { siteId: "t", n: 1 } as never);
    await dispatch("search/reindex" as never, { siteId: "t", n: 2 } as never);
    const response = await route("http://127.0.0.1:9/redis")(await delivery(first.id, { siteId: "t", n: 1 }));
    expect(response.status).toBe(200);
    expect(ran).toEqual([`1@${first.id}`]);
  });
});

describe("a debounce that is no duration is refused when the job is defined", () => {
  const handler = async () => {};
  it("a period such as 'soon' (JavaScript, a value typed any) is refused by name, not published with delay NaN", () => {
    const debounce = { key: "site:{siteId}", period: "soon" } as never;
    expect(() => createJob("search/reindex", { debounce, handler })).toThrow(/debounce\.period must be/);
    const maxWait = { key: "site:{siteId}", period: "30s", maxWait: -5 } as never;
    expect(() => createJob("search/reindex", { debounce: maxWait, handler })).toThrow(/debounce\.maxWait must be/);
  });

  it("periods in seconds or as durations are accepted", () => {
    const debounce = { key: "site:{siteId}", period: 1.5, maxWait: "5m" } as const;
    expect(createJob("search/reindex", { debounce, handler }).debounce).toEqual(debounce);
  });
});
