// Runs (issue 18): dispatch resolves to run handles and records queued runs; getRun, waitForRun, cancelRun and
// listRuns read them back. The real QStash Client publishes to a capture server; the real @upstash/redis client
// talks to the local Redis stand-in.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { REDIS_TOKEN, type StandIn, startStandIn } from "../../local/test/redis-support.js";
import {
  ConfigurationError,
  createDispatch,
  createJob,
  createRouteHandler,
  createRuns,
  linkRunRetry,
  type RunHandle,
} from "../src/index.js";
import { createDeliveryRequest } from "../src/testing.js";

const jobsUrl = "https://app.example.com/api/jobs";
const signing = { QSTASH_CURRENT_SIGNING_KEY: "sig_api_current", QSTASH_NEXT_SIGNING_KEY: "sig_api_next" };
const logEntries: unknown[] = [];
const qstash = useCaptureQStash({
  jobsUrl,
  env: signing,
  answer: (request) => {
    if (request.headers["upstash-deduplication-id"] === "seen")
      return { status: 202, body: { messageId: "msg_earlier", deduplicated: true } };
    if (request.method === "DELETE" && request.target.startsWith("/v2/messages/")) return { status: 200, body: {} };
    if (request.method === "GET" && request.target.startsWith("/v2/events"))
      return { status: 200, body: { events: logEntries } };
    return undefined;
  },
});

let fail = false;
const jobs = {
  "orders/import": createJob("orders/import", async (payload: { n: number }) => {
    if (fail) throw new Error("shop API returned 502");
    return { imported: payload.n };
  }),
  "mail/send": createJob("mail/send", async () => "sent"),
};
const { dispatch, dispatchMany } = createDispatch({ "orders/import": {}, "mail/send": {} });
const { getRun, waitForRun, cancelRun, listRuns } = createRuns();
const route = createRouteHandler(Object.fromEntries(Object.entries(jobs).map(([key, job]) => [key, async () => job])), {
  logger: { error: () => {}, warn: () => {} },
});
const deliver = async (handle: RunHandle, payload: unknown, retried = 0) =>
  route(
    await createDeliveryRequest({
      routeUrl: jobsUrl,
      key: handle.key,
      payload,
      messageId: handle.id,
      retried,
      signingKey: signing.QSTASH_CURRENT_SIGNING_KEY,
    }),
  );

/** The app hash this test's jobs URL lists runs under, as the stored run records it. */
const appOf = async () => {
  const handle = await dispatch("mail/send");
  const app = redis.gateway.execute(["HGET", `qjobs:run:${handle.id}`, "app"]);
  return "result" in app ? String(app.result) : "";
};

let redis: StandIn;
let writeBatches = 0;
beforeEach(async () => {
  fail = false;
  writeBatches = 0;
  logEntries.length = 0;
  redis = await startStandIn({ start: Date.now(), gateway: { onWrite: () => void writeBatches++ } });
  vi.stubEnv("QJOBS_REDIS_REST_URL", redis.url);
  vi.stubEnv("QJOBS_REDIS_REST_TOKEN", REDIS_TOKEN);
});

describe("dispatch resolves to a run handle and records the run as queued", () => {
  it("queued, then the route's answer: the handle follows the run to its typed result", async () => {
    const handle = await dispatch("orders/import", { n: 4 });
    expect(handle).toEqual({
      id: handle.messageId,
      key: "orders/import",
      messageId: expect.stringMatching(/^msg_/),
      route: "/api/jobs",
      token: expect.stringMatching(/^v1\./),
    });
    expect(await getRun(handle)).toMatchObject({ id: handle.id, status: "queued", attempt: 0, source: "store" });
    expect((await deliver(handle, { n: 4 })).status).toBe(200);
    const run = await getRun(handle);
    expect(run).toMatchObject({ status: "succeeded", result: { imported: 4 } });
  });

  it("a handle whose key is not the stored run's finds nothing; a bare id finds the run", async () => {
    const handle = await dispatch("orders/import", { n: 1 });
    expect(await getRun({ ...handle, key: "mail/send" } as RunHandle<"mail/send">)).toBeUndefined();
    expect((await getRun(handle.id))?.key).toBe("orders/import");
  });

  it("a deduplicated dispatch writes nothing and says so", async () => {
    const handle = await dispatch("orders/import", { n: 1 }, { deduplicationId: "seen" });
    expect(handle).toEqual({
      id: "msg_earlier",
      key: "orders/import",
      messageId: "msg_earlier",
      route: "/api/jobs",
      token: expect.stringMatching(/^v1\./),
      deduplicated: true,
    });
    expect(writeBatches).toBe(0);
    expect(await getRun(handle)).toBeUndefined();
  });

  it("dispatchMany records every run of a batch in one pipeline", async () => {
    const handles = await dispatchMany("mail/send", [undefined, undefined, undefined]);
    expect(handles.map((handle) => handle.key)).toEqual(["mail/send", "mail/send", "mail/send"]);
    expect(writeBatches).toBe(1);
    for (const handle of handles) expect((await getRun(handle))?.status).toBe("queued");
  });
});

describe("listRuns: this app's runs, newest first, a page at a time", () => {
  it("pages with a cursor, filters by job and status, and never lists another app's runs", async () => {
    const first = await dispatch("orders/import", { n: 1 });
    const second = await dispatch("mail/send");
    const third = await dispatch("orders/import", { n: 3 });
    await deliver(third, { n: 3 });
    vi.stubEnv("QJOBS_URL", "https://preview.example.com/api/jobs");
    await dispatch("orders/import", { n: 99 });
    expect((await listRuns()).runs).toHaveLength(1);
    vi.stubEnv("QJOBS_URL", jobsUrl);

    const page1 = await listRuns({ limit: 2 });
    expect(page1.runs.map((run) => run.id)).toEqual([third.id, second.id]);
    const page2 = await listRuns({ limit: 2, cursor: page1.nextCursor });
    expect(page2.runs.map((run) => run.id)).toEqual([first.id]);
    expect(page2.nextCursor).toBeUndefined();
    expect((await listRuns({ key: "orders/import" })).runs.map((run) => run.id)).toEqual([third.id, first.id]);
    expect((await listRuns({ status: "succeeded" })).runs.map((run) => run.id)).toEqual([third.id]);
  });

  it("skips runs that expired, and drops their entries", async () => {
    const gone = await dispatch("mail/send");
    const kept = await dispatch("mail/send");
    await redis.send(["DEL", `qjobs:run:${gone.id}`]);
    expect((await listRuns()).runs.map((run) => run.id)).toEqual([kept.id]);
    expect(redis.gateway.execute(["ZSCORE", `qjobs:runs:${await appOf()}`, gone.id])).toEqual({ result: null });
  });

  it("without a store, a configuration error naming the variables", async () => {
    vi.stubEnv("QJOBS_REDIS_REST_URL", "");
    vi.stubEnv("QJOBS_REDIS_REST_TOKEN", "");
    const error = await listRuns().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).variables).toContain("QJOBS_REDIS_REST_URL");
    expect((error as ConfigurationError).variables).toContain("KV_REST_API_TOKEN");
  });
});

describe("waitForRun", () => {
  it("resolves when the run ends", async () => {
    const handle = await dispatch("orders/import", { n: 2 });
    const waited = waitForRun(handle, { timeout: 10 });
    await expect.poll(() => qstash.requests.length).toBeGreaterThan(0);
    await deliver(handle, { n: 2 });
    expect(await waited).toMatchObject({ status: "succeeded", result: { imported: 2 } });
  });

  it("resolves with the last known run at the timeout", async () => {
    const handle = await dispatch("orders/import", { n: 2 });
    const started = performance.now();
    expect(await waitForRun(handle, { timeout: 0.5 })).toMatchObject({ status: "queued" });
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("follows a retry from the dead-letter queue to the run that retried it", async () => {
    fail = true;
    const original = await dispatch("orders/import", { n: 5 });
    await deliver(original, { n: 5 });
    fail = false;
    const retry = await dispatch("orders/import", { n: 5 });
    await linkRunRetry(original.id, retry.id);
    await deliver(retry, { n: 5 });
    expect(await waitForRun(original, { timeout: 5 })).toMatchObject({
      id: retry.id,
      retryOf: original.id,
      status: "succeeded",
    });
  });
});

describe("cancelRun", () => {
  it("a queued run: cancelled at QStash and recorded cancelled", async () => {
    const handle = await dispatch("orders/import", { n: 1 });
    expect(await cancelRun(handle)).toMatchObject({ status: "cancelled" });
    expect(
      qstash.requests.some((request) => request.method === "DELETE" && request.target === `/v2/messages/${handle.id}`),
    ).toBe(true);
    // A delivery already on its way changes nothing: the first terminal write won.
    await deliver(handle, { n: 1 });
    expect((await getRun(handle))?.status).toBe("cancelled");
  });

  it("a running attempt: cancelRequested, and that attempt's failure closes the run as cancelled", async () => {
    const handle = await dispatch("orders/import", { n: 1 });
    // The start of an attempt, as the route records it.
    await redis.send([
      "HSET",
      `qjobs:run:${handle.id}`,
      "start:orders/import",
      JSON.stringify({ attempt: 1, at: Date.now() }),
    ]);
    expect(await cancelRun(handle)).toMatchObject({ status: "running", cancelRequested: true });
    fail = true;
    await deliver(handle, { n: 1 });
    expect((await getRun(handle))?.status).toBe("cancelled");
  });
});

describe("without a store, getRun answers from QStash's logs", () => {
  it("status, attempts and the error QStash saw; no result; source qstash", async () => {
    vi.stubEnv("QJOBS_REDIS_REST_URL", "");
    vi.stubEnv("QJOBS_REDIS_REST_TOKEN", "");
    const url = `${jobsUrl}?job=orders%2Fimport`;
    logEntries.push(
      { time: 1000, state: "CREATED", messageId: "msg_logged", url, topicName: "" },
      { time: 2000, state: "ERROR", messageId: "msg_logged", url, error: "shop API returned 502", topicName: "" },
      { time: 3000, state: "RETRY", messageId: "msg_logged", url, topicName: "" },
    );
    const run = await getRun({ id: "msg_logged", key: "orders/import", messageId: "msg_logged" });
    expect(run).toMatchObject({
      id: "msg_logged",
      key: "orders/import",
      status: "retrying",
      attempt: 1,
      error: { message: "shop API returned 502" },
      source: "qstash",
    });
    expect(run?.result).toBeUndefined();
  });
});
