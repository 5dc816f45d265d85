// Runs (issue 18): the route records every delivery in the run store, beside the handler, bound to what was
// signed. The real @upstash/redis client talks to the local Redis stand-in served on 127.0.0.1.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { REDIS_TOKEN, type StandIn, startStandIn } from "../../local/test/redis-support.js";
import { readRunStoreConfig } from "../src/env.js";
import { createJob, createRouteHandler, type JobContext, NonRetryableError } from "../src/index.js";
import { MAX_RESULT_BYTES } from "../src/runs/model.js";
import { readRun } from "../src/runs/read.js";
import { STORE_TIMEOUT_MS } from "../src/runs/store.js";
import { createDeliveryRequest, createFailureCallbackRequest } from "../src/testing.js";

const routeUrl = "https://app.example.com/api/jobs";
const signing = { QSTASH_CURRENT_SIGNING_KEY: "sig_runs_current", QSTASH_NEXT_SIGNING_KEY: "sig_runs_next" };
const signingKey = signing.QSTASH_CURRENT_SIGNING_KEY;

let attempts = 0;
let release: (() => void) | undefined;
const jobs = {
  "orders/import": createJob("orders/import", async (payload: { n: number }) => ({
    imported: payload.n,
    at: new Date(0),
  })),
  "shop/sync": createJob("shop/sync", async () => {
    attempts++;
    if (attempts === 1) throw new Error("shop API returned 502");
    return "synced";
  }),
  "cards/charge": createJob("cards/charge", {
    schema: z.object({ cents: z.number().int() }),
    handler: async () => {
      throw new NonRetryableError("card declined");
    },
  }),
  "reports/big": createJob("reports/big", async () => "x".repeat(MAX_RESULT_BYTES + 1)),
  "reports/progress": createJob("reports/progress", async (_payload: undefined, ctx: JobContext) => {
    for (let i = 1; i <= 50; i++) ctx.progress({ done: i });
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    ctx.progress({ done: "all" });
    return "ok";
  }),
};
const loaders = Object.fromEntries(Object.entries(jobs).map(([key, job]) => [key, async () => job]));

let redis: StandIn;
let env: Record<string, string>;
/** Every write the stand-in applied, as Redis commands. */
let writes: string[][] = [];
const logger = { error: vi.fn(), warn: vi.fn() };
beforeEach(async () => {
  attempts = 0;
  logger.error.mockReset();
  logger.warn.mockReset();
  writes = [];
  redis = await startStandIn({
    start: Date.now(),
    gateway: { onWrite: (records) => void writes.push(...records.map((record) => record.command)) },
  });
  env = { ...signing, QJOBS_URL: routeUrl, QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN };
});

const route = () => createRouteHandler(loaders, { env: () => env, logger });
const run = (id: string) => readRun(readRunStoreConfig(env) as NonNullable<ReturnType<typeof readRunStoreConfig>>, id);
const deliver = (key: string, payload: unknown, extra: { messageId: string; retried?: number }) =>
  createDeliveryRequest({ routeUrl, key, payload, signingKey, ...extra });

describe("the route records each delivery's run", () => {
  it("a delivery that returns: succeeded with the result as JSON makes it", async () => {
    const response = await route()(await deliver("orders/import", { n: 3 }, { messageId: "msg_ok" }));
    expect(response.status).toBe(200);
    const stored = await run("msg_ok");
    expect(stored).toMatchObject({
      id: "msg_ok",
      key: "orders/import",
      status: "succeeded",
      attempt: 1,
      result: { imported: 3, at: "1970-01-01T00:00:00.000Z" },
      source: "store",
    });
    expect(stored?.startedAt).toBeDefined();
    expect(stored?.finishedAt).toBeDefined();
  });

  it("a failed attempt: retrying with the real error (name and message, no stack), then succeeded", async () => {
    const first = await route()(await deliver("shop/sync", undefined, { messageId: "msg_retry" }));
    expect(first.status).toBe(500);
    expect(await run("msg_retry")).toMatchObject({
      status: "retrying",
      attempt: 1,
      error: { name: "Error", message: "shop API returned 502", status: 500 },
    });
    expect(JSON.stringify(await run("msg_retry"))).not.toContain("at ");
    const second = await route()(await deliver("shop/sync", undefined, { messageId: "msg_retry", retried: 1 }));
    expect(second.status).toBe(200);
    const ended = await run("msg_retry");
    expect(ended).toMatchObject({ status: "succeeded", attempt: 2, result: "synced" });
    expect(ended?.error).toBeUndefined();
  });

  it("489 (a payload the schema refuses, or NonRetryableError): failed at once", async () => {
    await route()(await deliver("cards/charge", { cents: "ten" }, { messageId: "msg_bad_payload" }));
    expect(await run("msg_bad_payload")).toMatchObject({ status: "failed", error: { status: 489 } });
    await route()(await deliver("cards/charge", { cents: 10 }, { messageId: "msg_declined" }));
    expect(await run("msg_declined")).toMatchObject({
      status: "failed",
      error: { name: "NonRetryableError", message: "card declined", status: 489 },
    });
  });

  it("the failure callback ends a retrying run failed, for a job without onFailure too (answered 200)", async () => {
    await route()(await deliver("shop/sync", undefined, { messageId: "msg_gave_up" }));
    const callback = await createFailureCallbackRequest({
      routeUrl,
      key: "shop/sync",
      status: 500,
      responseBody: '{"error":{"code":"job_failed","message":"shop API returned 502"}}',
      sourceMessageId: "msg_gave_up",
      signingKey,
    });
    expect((await route()(callback)).status).toBe(200);
    expect(await run("msg_gave_up")).toMatchObject({
      status: "failed",
      error: { message: "shop API returned 502", status: 500 },
    });
  });

  it("a late failure callback or a duplicate delivery after success leaves the run succeeded", async () => {
    await route()(await deliver("orders/import", { n: 1 }, { messageId: "msg_done" }));
    await route()(await deliver("orders/import", { n: 1 }, { messageId: "msg_done", retried: 1 }));
    const callback = await createFailureCallbackRequest({
      routeUrl,
      key: "orders/import",
      payload: { n: 1 },
      sourceMessageId: "msg_done",
      signingKey,
    });
    await route()(callback);
    expect(await run("msg_done")).toMatchObject({ status: "succeeded", result: { imported: 1 } });
  });

  it("a replayed signature writes nothing, whatever message id header it carries", async () => {
    const original = await deliver("shop/sync", undefined, { messageId: "msg_victim" });
    const captured = original.clone();
    attempts = 1; // the original attempt succeeds
    await route()(original);
    expect(await run("msg_victim")).toMatchObject({ status: "succeeded" });
    // The same signed request sent again, with the header pointing at another run, and at a new id.
    for (const messageId of ["msg_victim", "msg_forged"]) {
      const headers = new Headers(captured.headers);
      headers.set("Upstash-Message-Id", messageId);
      attempts = 0; // the replay throws, which would record retrying if it were recorded
      await route()(new Request(captured.url, { method: "POST", headers, body: await captured.clone().arrayBuffer() }));
    }
    expect(await run("msg_victim")).toMatchObject({ status: "succeeded", attempt: 1 });
    expect(await run("msg_forged")).toBeUndefined();
    // Nothing but the refused signature-id claims reached the store after the first delivery's writes.
    const afterFirst = writes.filter(([name]) => name?.toLowerCase() !== "set");
    expect(afterFirst.filter((command) => command.includes("qjobs:run:msg_forged"))).toEqual([]);
  });

  it("a delivery signed for another job never writes to a run of this one", async () => {
    await route()(await deliver("shop/sync", undefined, { messageId: "msg_bound" }));
    await route()(await deliver("orders/import", { n: 9 }, { messageId: "msg_bound" }));
    const stored = await run("msg_bound");
    expect(stored).toMatchObject({ key: "shop/sync", status: "retrying" });
    expect(stored?.result).toBeUndefined();
  });

  it("retention is counted from the end: a generous bound before, QJOBS_RUN_RETENTION once ended", async () => {
    env.QJOBS_RUN_RETENTION = "3600";
    const ttl = () => {
      const answer = redis.gateway.execute(["TTL", "qjobs:run:msg_ttl"]);
      return "result" in answer ? Number(answer.result) : Number.NaN;
    };
    await route()(await deliver("shop/sync", undefined, { messageId: "msg_ttl" }));
    expect(ttl()).toBeGreaterThan(30 * 24 * 3600);
    await route()(await deliver("shop/sync", undefined, { messageId: "msg_ttl", retried: 1 }));
    expect((await run("msg_ttl"))?.status).toBe("succeeded");
    expect(ttl()).toBeGreaterThan(3500);
    expect(ttl()).toBeLessThanOrEqual(3600);
  });

  it("a result over 256 KiB: succeeded, with resultError instead of the result", async () => {
    await route()(await deliver("reports/big", undefined, { messageId: "msg_big" }));
    const stored = await run("msg_big");
    expect(stored?.status).toBe("succeeded");
    expect(stored?.result).toBeUndefined();
    expect(stored?.resultError).toMatch(/over the cap of 262144/);
  });

  it("progress: one write in flight, then only the latest value; the last one before the end is kept", async () => {
    const answered = route()(await deliver("reports/progress", undefined, { messageId: "msg_progress" }));
    await expect.poll(async () => (await run("msg_progress"))?.progress).toBeDefined();
    release?.();
    expect((await answered).status).toBe(200);
    const stored = await run("msg_progress");
    expect(stored).toMatchObject({ status: "succeeded", progress: { done: "all" } });
    // 51 calls, each replacing the last: the first write, then the latest value once it is back, and the last.
    const progressWrites = writes.filter(
      ([name, , field]) => name?.toLowerCase() === "hset" && field?.startsWith("progress:"),
    );
    expect(progressWrites.length).toBeGreaterThan(0);
    expect(progressWrites.length).toBeLessThanOrEqual(3);
  });
});

describe("a store that fails never fails or delays a delivery beyond its bound", () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });
  async function badStore(answer: "refuse" | "hang"): Promise<string> {
    server = createServer((_request, response) => {
      if (answer === "refuse")
        response.writeHead(401, { "Content-Type": "application/json" }).end('{"error":"Unauthorized"}');
      // "hang": never answers.
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  for (const answer of ["refuse", "hang"] as const) {
    it(`a store that ${answer === "refuse" ? "refuses (401)" : "hangs"} on every call: the delivery succeeds within the bound, logged once`, async () => {
      env.QJOBS_REDIS_REST_URL = await badStore(answer);
      const handler = route();
      const started = performance.now();
      const response = await handler(await deliver("orders/import", { n: 1 }, { messageId: "msg_store_down" }));
      const elapsed = performance.now() - started;
      expect(response.status).toBe(200);
      expect(elapsed).toBeLessThan(STORE_TIMEOUT_MS + 500);
      await handler(await deliver("orders/import", { n: 2 }, { messageId: "msg_store_down_2" }));
      const storeWarnings = logger.warn.mock.calls.filter(([line]) => String(line).includes("run store"));
      expect(storeWarnings).toHaveLength(1);
      console.info(`[measure] store that ${answer}s: delivery answered in ${elapsed.toFixed(0)} ms`);
    });
  }
});

describe("the route's 500 answer in local use carries the real error", () => {
  it("names the thrown error and no longer promises a retry", async () => {
    const local = createRouteHandler(loaders, {
      env: { ...signing, QJOBS_URL: "http://127.0.0.1:3000/api/jobs" },
      logger,
    });
    const request = await createDeliveryRequest({
      routeUrl: "http://127.0.0.1:3000/api/jobs",
      key: "shop/sync",
      signingKey,
    });
    const body = (await (await local(request)).json()) as { error: { message: string } };
    expect(body.error.message).toBe('Job "shop/sync" failed: Error: shop API returned 502');
  });

  it("elsewhere the answer keeps the error in the server log", async () => {
    const request = await createDeliveryRequest({ routeUrl, key: "shop/sync", signingKey });
    const body = (await (
      await createRouteHandler(loaders, { env: { ...signing, QJOBS_URL: routeUrl }, logger })(request)
    ).json()) as {
      error: { message: string };
    };
    expect(body.error.message).not.toContain("502");
    expect(body.error.message).not.toContain("QStash will retry");
  });
});
