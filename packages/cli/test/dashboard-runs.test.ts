// The dashboard's read-only run endpoints (issue 18), called as the page server calls them: a run by id, a job's
// recent runs, "not configured" without a store, bad input named; and the dead-letter Retry linking runs. Runs
// are recorded by the real route (createRouteHandler) in the local Redis stand-in, delivered by qjobs dev's engine.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createJob, createRouteHandler, DEV_CREDENTIALS, deliveryUrl, type Env } from "@qjobs/runtime";
import { toNodeHandler } from "@qjobs/runtime/node";
import { afterEach, describe, expect, it } from "vitest";
import { prepareRetry, RetryLinks } from "../../local/src/dashboard/dead-letter-retry.js";
import { RUNS_NOT_CONFIGURED, runsAnswer } from "../../local/src/dashboard/runs.js";
import { REDIS_TOKEN, startStandIn } from "../../local/test/redis-support.js";
import { type Local, startLocal } from "./dev-support.js";

let failNext = false;
const importJob = createJob("orders/import", {
  retries: 0,
  handler: async (payload: { orders: number }, ctx) => {
    if (failNext) {
      failNext = false;
      throw new Error("shop API returned 502");
    }
    ctx.progress({ done: payload.orders });
    return { imported: payload.orders };
  },
});

const apps: Server[] = [];
afterEach(async () => {
  failNext = false;
  for (const app of apps.splice(0)) {
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  }
});

/** qjobs dev's engine and server, the stand-in store, and the real route recording runs in it. */
async function setup(): Promise<{ local: Local; env: Env; publish: (orders: number) => Promise<string> }> {
  const redis = await startStandIn({ start: Date.now() });
  const local = await startLocal();
  let env: Env = {};
  const app = createServer(
    toNodeHandler(
      createRouteHandler(
        { "orders/import": async () => importJob },
        { env: () => env, logger: { error() {}, warn() {} } },
      ),
    ),
  );
  apps.push(app);
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  const jobsUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/api/jobs`;
  env = {
    QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
    QJOBS_URL: jobsUrl,
    QJOBS_REDIS_REST_URL: redis.url,
    QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN,
  };
  const publish = async (orders: number) => {
    const { messageId } = await local.client.publishJSON({
      url: deliveryUrl(jobsUrl, "orders/import"),
      body: { orders },
      retries: 0,
    });
    await local.engine.idle();
    return messageId;
  };
  return { local, env, publish };
}

describe("the dashboard's run endpoints", () => {
  it("a run by id: status, result, progress and attempt as the route recorded them; an unknown id is a 404", async () => {
    const { env, publish } = await setup();
    const id = await publish(3);
    const { status, body } = await runsAnswer({ env: () => env }, `/api/runs/${encodeURIComponent(id)}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      configured: true,
      run: {
        id,
        key: "orders/import",
        status: "succeeded",
        result: { imported: 3 },
        progress: { done: 3 },
        attempt: 1,
      },
    });
    const unknown = await runsAnswer({ env: () => env }, "/api/runs/msg_nope");
    expect(unknown).toMatchObject({ status: 404, body: { error: expect.stringContaining('No run "msg_nope"') } });
  });

  it("a failed run carries the handler's real error, not QStash's", async () => {
    const { env, publish } = await setup();
    failNext = true;
    const id = await publish(1);
    const { body } = await runsAnswer({ env: () => env }, `/api/runs/${id}`);
    expect(body).toMatchObject({ run: { id, error: { name: "Error", message: "shop API returned 502" } } });
  });

  it("a job's recent runs, newest first, limited; a bad key or limit is refused by name", async () => {
    const { env, publish } = await setup();
    const first = await publish(1);
    const second = await publish(2);
    const listed = await runsAnswer({ env: () => env }, "/api/runs?key=orders%2Fimport&limit=5");
    expect(listed.status).toBe(200);
    expect((listed.body as { runs: { id: string }[] }).runs.map((run) => run.id)).toEqual([second, first]);
    const one = await runsAnswer({ env: () => env }, "/api/runs?key=orders%2Fimport&limit=1");
    expect((one.body as { runs: unknown[]; nextCursor?: string }).runs).toHaveLength(1);
    expect((one.body as { nextCursor?: string }).nextCursor).toBeTruthy();
    expect(await runsAnswer({ env: () => env }, "/api/runs?key=orders%20import")).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('Invalid job key "orders import"') },
    });
    expect(await runsAnswer({ env: () => env }, "/api/runs?limit=0")).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining("limit must be a whole number from 1 to 100") },
    });
    expect(await runsAnswer({ env: () => env }, "/api/runs?cursor=nope")).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining("Invalid runs cursor") },
    });
  });

  it("without a store: 'runs not configured', naming the variables, for a run and for a list", async () => {
    for (const target of ["/api/runs/msg_1", "/api/runs?key=orders%2Fimport"]) {
      expect(await runsAnswer({ env: () => ({ QJOBS_URL: "http://127.0.0.1:3000/api/jobs" }) }, target)).toEqual({
        status: 200,
        body: {
          configured: false,
          message: RUNS_NOT_CONFIGURED,
          variables: expect.arrayContaining(["QJOBS_REDIS_REST_URL", "QJOBS_REDIS_REST_TOKEN"]),
        },
      });
    }
  });

  it("a half-configured store names the missing variable; a store that is down is a 502, not a hang", async () => {
    const half = await runsAnswer({ env: () => ({ QJOBS_REDIS_REST_URL: "http://127.0.0.1:9/redis" }) }, "/api/runs/m");
    expect(half).toMatchObject({ status: 409, body: { error: expect.stringContaining("QJOBS_REDIS_REST_TOKEN") } });
    const down = await runsAnswer(
      { env: () => ({ QJOBS_REDIS_REST_URL: "http://127.0.0.1:9/redis", QJOBS_REDIS_REST_TOKEN: "t" }) },
      "/api/runs/m",
    );
    expect(down).toMatchObject({ status: 502, body: { error: expect.stringContaining("The run store failed") } });
  });
});

describe("the dashboard's dead-letter Retry", () => {
  it("links the retry's run to the dead letter's (retryOf/retriedAs): the old message's run follows to the new", async () => {
    const { local, env, publish } = await setup();
    failNext = true;
    const failed = await publish(4);
    const [dead] = [...local.engine.dlq.values()];
    expect(dead?.message.messageId).toBe(failed);
    const upstream = { url: local.server.url, token: DEV_CREDENTIALS.token };
    const links = new RetryLinks();
    const answered = await prepareRetry({ env: () => env }, links, upstream, dead?.dlqId ?? "");
    // The retry itself, as the proxy forwards it.
    const answer = await fetch(`${local.server.url}/v2/dlq/retry/${dead?.dlqId}`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
    });
    const text = await answer.text();
    await answered(answer.status, text);
    await local.engine.idle();
    const retry = (JSON.parse(text) as { messageId: string }).messageId;
    const { body } = await runsAnswer({ env: () => env }, `/api/runs/${failed}`);
    expect(body).toMatchObject({ run: { id: retry, status: "succeeded", retryOf: failed, result: { imported: 4 } } });
  });

  it("without a store, the CLI still notes which dead letter a retry came from; an unknown one notes nothing", async () => {
    const { local, publish } = await setup();
    failNext = true;
    const failed = await publish(5);
    const [dead] = [...local.engine.dlq.values()];
    const upstream = { url: local.server.url, token: DEV_CREDENTIALS.token };
    const links = new RetryLinks();
    const answered = await prepareRetry({ env: () => ({}) }, links, upstream, dead?.dlqId ?? "");
    await answered(201, JSON.stringify({ messageId: "msg_new" }));
    expect(links.of(failed)).toEqual({ retriedAs: ["msg_new"] });
    expect(links.of("msg_new")).toEqual({ retryOf: failed, retriedAs: [] });
    // A retry QStash refused, an unknown dead letter, a QStash that is down: nothing noted, nothing thrown.
    await answered(404, "{}");
    await (await prepareRetry({ env: () => ({}) }, links, upstream, "dlq_unknown"))(201, '{"messageId":"msg_x"}');
    const down = await prepareRetry({ env: () => ({}) }, links, { url: "http://127.0.0.1:9", token: "t" }, "dlq_1");
    await down(201, '{"messageId":"msg_y"}');
    expect(links.of(failed)).toEqual({ retriedAs: ["msg_new"] });
    expect(links.of("msg_x")).toEqual({ retriedAs: [] });
  });
});
