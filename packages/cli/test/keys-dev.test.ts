// Keys from the payload (issue 22) through qjobs dev: the registry's dispatch fills each job's declared templates
// and publishes through the real SDK to the local server, which holds each tenant to its own limits.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createDispatch,
  createJob,
  createRouteHandler,
  createRuns,
  DEV_CREDENTIALS,
  RUN_STORE_VARIABLES,
} from "@qjobs/runtime";
import { toNodeHandler } from "@qjobs/runtime/node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startCaptureServer } from "../../../testkit/capture-server.js";
import type { Delivery } from "../../../testkit/destination.js";
import { ManualClock } from "../../local/src/time.js";
import { REDIS_TOKEN, startStandIn } from "../../local/test/redis-support.js";
import { type Local, startLocal } from "./dev-support.js";

afterEach(() => vi.unstubAllEnvs());

const TENANTS = ["acme", "globex", "initech"];

/** Points the runtime's dispatch at the local server, and deliveries at the destination. */
function useLocal(local: Local) {
  vi.stubEnv("QSTASH_URL", local.server.url);
  vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
  vi.stubEnv("QJOBS_URL", `${local.destination.url}/api/jobs`);
}

const tenantOf = (delivery: Delivery) => (JSON.parse(delivery.body.toString()) as { tenantId: string }).tenantId;

describe("per-tenant flow control through qjobs dev", () => {
  it("3 tenants × 20 messages with parallelism 2: never more than 2 at once per tenant, the tenants side by side", async () => {
    // Every delivery is held until the test releases it, so concurrency builds up as far as the server allows.
    const held: ServerResponse[] = [];
    const inFlight = new Map<string, number>();
    const most = { total: 0, perTenant: new Map<string, number>() };
    let open = 0;
    const local = await startLocal({
      respond: (delivery, response) => {
        const tenant = tenantOf(delivery);
        const now = (inFlight.get(tenant) ?? 0) + 1;
        inFlight.set(tenant, now);
        most.perTenant.set(tenant, Math.max(most.perTenant.get(tenant) ?? 0, now));
        most.total = Math.max(most.total, ++open);
        response.once("close", () => {
          inFlight.set(tenant, (inFlight.get(tenant) ?? 1) - 1);
          open--;
        });
        held.push(response);
      },
    });
    useLocal(local);
    const { dispatchMany } = createDispatch({
      "crm/sync": { flowControl: { key: "tenant:{tenantId}", parallelism: 2 } },
    });
    for (const tenantId of TENANTS) {
      const payloads = Array.from({ length: 20 }, (_, n) => ({ tenantId, n }));
      await dispatchMany("crm/sync" as never, payloads as never);
    }
    // Ten rounds: the server starts 2 per tenant, the test answers them, the server starts the next 6.
    for (let round = 1; round <= 10; round++) {
      await local.destination.waitFor(6 * round);
      const waiting = await Promise.all(
        TENANTS.map((tenant) => local.client.flowControl.get(`tenant:${tenant}`).then((key) => key.waitListSize)),
      );
      expect(waiting).toEqual(TENANTS.map(() => 20 - 2 * round));
      for (const response of held.splice(0)) response.writeHead(200).end("{}");
    }
    await local.engine.idle();
    expect(local.destination.deliveries).toHaveLength(60);
    expect(Object.fromEntries(most.perTenant)).toEqual({ acme: 2, globex: 2, initech: 2 });
    expect(most.total).toBe(6);
  });

  it("a rate of 10 per 5 s holds per tenant: each tenant's 11th waits for the period, not for the others", async () => {
    const clock = new ManualClock();
    const startedAt: { tenant: string; at: number }[] = [];
    const local = await startLocal({
      clock,
      respond: (delivery, response) => {
        startedAt.push({ tenant: tenantOf(delivery), at: clock.now() });
        response.writeHead(200).end("{}");
      },
    });
    useLocal(local);
    const { dispatchMany } = createDispatch({
      "crm/sync": { flowControl: { key: "tenant:{tenantId}", rate: 10, period: "5s" } },
    });
    for (const tenantId of TENANTS) {
      await dispatchMany("crm/sync" as never, Array.from({ length: 15 }, (_, n) => ({ tenantId, n })) as never);
    }
    const perTenant = () => TENANTS.map((tenant) => startedAt.filter((start) => start.tenant === tenant).length);

    await local.destination.waitFor(30);
    await local.engine.settled();
    expect(perTenant()).toEqual([10, 10, 10]);

    clock.advance(4_999);
    await local.engine.settled();
    expect(perTenant()).toEqual([10, 10, 10]);

    clock.advance(1);
    await local.destination.waitFor(45);
    await local.engine.idle();
    expect(perTenant()).toEqual([15, 15, 15]);
    // No 5 s window holds more than 10 starts of one tenant.
    for (const tenant of TENANTS) {
      const times = startedAt.filter((start) => start.tenant === tenant).map((start) => start.at);
      for (const at of times)
        expect(times.filter((other) => other >= at && other < at + 5_000).length).toBeLessThanOrEqual(10);
    }
  });

  it("the same deduplication id, filled from the payload, twice runs once; another payload's runs too", async () => {
    const local = await startLocal();
    useLocal(local);
    const { dispatch } = createDispatch({ "crm/sync": { deduplicationId: "contact:{tenantId}:{contactId}" } });
    const first = await dispatch("crm/sync" as never, { tenantId: "acme", contactId: "c/1" } as never);
    const again = await dispatch("crm/sync" as never, { tenantId: "acme", contactId: "c/1", note: "retry" } as never);
    const other = await dispatch("crm/sync" as never, { tenantId: "acme", contactId: "c/2" } as never);
    expect(again).toMatchObject({ messageId: first.messageId, deduplicated: true });
    expect(other.messageId).not.toBe(first.messageId);
    await local.engine.idle();
    expect(local.destination.deliveries.map((delivery) => JSON.parse(delivery.body.toString()).contactId)).toEqual([
      "c/1",
      "c/2",
    ]);
  });
});

describe("debounce through qjobs dev, with the run store in its Redis stand-in", () => {
  it("10 dispatches of one key within the period run once, with the last payload; the nine others end cancelled (debounced)", async () => {
    const clock = new ManualClock();
    const ran: unknown[] = [];
    const reindex = createJob("search/reindex", {
      debounce: { key: "site:{siteId}", period: "30s" },
      handler: async (payload: { siteId: string; n: number }) => {
        ran.push(payload);
        return payload.n;
      },
    });
    const redis = await startStandIn();
    const storeEnv = { QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN };
    const local = await startLocal({ clock });
    const route = createRouteHandler(
      { "search/reindex": async () => reindex },
      { env: () => process.env, logger: { error: () => undefined, warn: () => undefined } },
    );
    const app = createServer(toNodeHandler(route));
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    try {
      vi.stubEnv("QSTASH_URL", local.server.url);
      vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
      vi.stubEnv("QSTASH_CURRENT_SIGNING_KEY", DEV_CREDENTIALS.currentSigningKey);
      vi.stubEnv("QSTASH_NEXT_SIGNING_KEY", DEV_CREDENTIALS.nextSigningKey);
      vi.stubEnv("QJOBS_URL", `http://127.0.0.1:${(app.address() as AddressInfo).port}/api/jobs`);
      for (const [name, value] of Object.entries(storeEnv)) vi.stubEnv(name, value);
      // What the generated registry passes: the declaration read statically, no job code.
      const { dispatch } = createDispatch(
        { "search/reindex": {} },
        { debounce: { "search/reindex": { key: "site:{siteId}", period: "30s" } } },
      );
      const handles = [];
      for (let n = 0; n < 10; n++)
        handles.push(await dispatch("search/reindex" as never, { siteId: "s/1", n } as never));
      // Another key is debounced on its own.
      const other = await dispatch("search/reindex" as never, { siteId: "s/2", n: 100 } as never);

      clock.advance(29_000);
      await local.engine.settled();
      expect(ran).toEqual([]);
      clock.advance(1_000);
      await local.engine.idle();

      expect(ran).toHaveLength(2);
      expect(ran).toContainEqual({ siteId: "s/1", n: 9 });
      expect(ran).toContainEqual({ siteId: "s/2", n: 100 });
      const runs = createRuns();
      const last = handles.at(-1) as { id: string };
      for (const handle of handles.slice(0, 9)) {
        expect(await runs.getRun(handle as never)).toMatchObject({
          status: "cancelled",
          reason: "debounced",
          replacedBy: last.id,
        });
      }
      expect(await runs.getRun(last as never)).toMatchObject({ status: "succeeded", result: 9 });
      expect(await runs.getRun(other as never)).toMatchObject({ status: "succeeded", result: 100 });
    } finally {
      await new Promise((resolve) => app.close(resolve));
    }
  });

  it("a debounced dispatch without the run store throws a configuration error naming the variables, publishing nothing", async () => {
    const qstash = await startCaptureServer();
    try {
      vi.stubEnv("QSTASH_URL", qstash.url);
      vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
      vi.stubEnv("QJOBS_URL", "http://127.0.0.1:3000/api/jobs");
      for (const name of RUN_STORE_VARIABLES) vi.stubEnv(name, "");
      const { dispatch } = createDispatch(
        { "search/reindex": {} },
        { debounce: { "search/reindex": { key: "site:{siteId}", period: "30s" } } },
      );
      await expect(dispatch("search/reindex" as never, { siteId: "a" } as never)).rejects.toMatchObject({
        code: "configuration",
        variables: expect.arrayContaining(["QJOBS_REDIS_REST_URL", "QJOBS_REDIS_REST_TOKEN"]),
      });
      expect(qstash.requests).toEqual([]);
    } finally {
      await qstash.close();
    }
  });
});
