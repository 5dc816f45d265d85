import { DEV_CREDENTIALS } from "@qjobs/runtime";
import type { QstashError } from "@upstash/qstash";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../local/src/time.js";
import { startLocal, verified } from "./dev-support.js";

const status =
  (code: number, headers: Record<string, string> = {}, body = "") =>
  (_: unknown, response: import("node:http").ServerResponse) =>
    response.writeHead(code, headers).end(body);

describe("qjobs dev accepts what the real @upstash/qstash Client sends", () => {
  it("answers GET /v2/keys with the development keys, and 401 without the token", async () => {
    const { server } = await startLocal();
    const keys = await fetch(`${server.url}/v2/keys`, {
      headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
    });
    expect(await keys.json()).toEqual({
      current: DEV_CREDENTIALS.currentSigningKey,
      next: DEV_CREDENTIALS.nextSigningKey,
    });
    const anonymous = await fetch(`${server.url}/v2/keys`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: expect.stringMatching(/Unauthorized/) });
  });

  it("delivers a publish as QStash does: method, raw body, forwarded headers, ids, a signature the Receiver accepts", async () => {
    const { client, destination, engine } = await startLocal();
    const url = `${destination.url}/api/jobs?job=images%2Fresize&x=1`;
    const body = '{ "url" : "https://x.dev/a.png", "note": "été \\u00e9" }';
    const { messageId } = await client.publish({
      url,
      body,
      headers: { "Content-Type": "application/json", "X-Trace": "t1" },
    });
    const [delivery] = await destination.waitFor(1);
    await engine.idle();
    expect(delivery?.method).toBe("POST");
    expect(delivery?.target).toBe("/api/jobs?job=images%2Fresize&x=1");
    expect(delivery?.body.toString("utf8")).toBe(body);
    expect(delivery?.headers).toMatchObject({
      "content-type": "application/json",
      "x-trace": "t1",
      "user-agent": "Upstash-QStash",
      "upstash-message-id": messageId,
      "upstash-retried": "0",
    });
    expect(delivery?.headers).not.toHaveProperty("upstash-forward-x-trace");
    expect(delivery?.headers).not.toHaveProperty("authorization");
    expect(delivery && (await verified(destination, delivery))).toBe(true);
  });

  it("honours Upstash-Method and delivers GET without a body", async () => {
    const { client, destination } = await startLocal();
    await client.publish({ url: `${destination.url}/hook`, method: "PUT", body: "x" });
    await client.publish({ url: `${destination.url}/hook`, method: "GET" });
    const deliveries = await destination.waitFor(2);
    expect(deliveries.map((d) => d.method).sort()).toEqual(["GET", "PUT"]);
  });

  it("is found by the SDK's own dev mode (QSTASH_DEV=true), with no download", async () => {
    const { server, destination } = await startLocal();
    const { Client } = await import("@upstash/qstash");
    const previous = { dev: process.env.QSTASH_DEV, port: process.env.QSTASH_DEV_PORT };
    process.env.QSTASH_DEV = "true";
    process.env.QSTASH_DEV_PORT = String(server.port);
    try {
      const client = new Client({ enableTelemetry: false });
      await client.publishJSON({ url: `${destination.url}/dev-mode`, body: { hello: "dev" } });
      const [delivery] = await destination.waitFor(1);
      expect(JSON.parse(String(delivery?.body))).toEqual({ hello: "dev" });
    } finally {
      process.env.QSTASH_DEV = previous.dev ?? "";
      if (previous.dev === undefined) delete process.env.QSTASH_DEV;
      if (previous.port === undefined) delete process.env.QSTASH_DEV_PORT;
    }
  });

  it("publishes a batch, one message per entry, ids in order", async () => {
    const { client, destination, engine } = await startLocal();
    const results = await client.batchJSON([1, 2, 3].map((n) => ({ url: `${destination.url}/b?n=${n}`, body: { n } })));
    expect(results).toHaveLength(3);
    await destination.waitFor(3);
    await engine.idle();
    expect(destination.deliveries.map((d) => d.target).sort()).toEqual(["/b?n=1", "/b?n=2", "/b?n=3"]);
    expect(destination.deliveries.map((d) => d.headers["upstash-message-id"]).sort()).toEqual(
      results.map((r) => (r as { messageId: string }).messageId).sort(),
    );
  });
});

describe("retries, backoff and the dead-letter queue", () => {
  it("retries a failing delivery with the same message id, a rising Upstash-Retried and a fresh signature each time", async () => {
    const { client, destination, engine } = await startLocal({
      respond: (_delivery, response, index) => response.writeHead(index < 2 ? 500 : 200).end(index < 2 ? "boom" : "ok"),
    });
    const { messageId } = await client.publish({ url: `${destination.url}/flaky`, body: "{}" });
    await destination.waitFor(3);
    await engine.idle();
    expect(destination.deliveries.map((d) => [d.headers["upstash-message-id"], d.headers["upstash-retried"]])).toEqual([
      [messageId, "0"],
      [messageId, "1"],
      [messageId, "2"],
    ]);
    expect(new Set(destination.deliveries.map((d) => d.headers["upstash-signature"])).size).toBe(3);
    for (const delivery of destination.deliveries) expect(await verified(destination, delivery)).toBe(true);
    const states = (await client.logs({ filter: { messageId } })).logs.map((log) => log.state).reverse();
    expect(states).toEqual(["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "DELIVERED"]);
  });

  it("waits QStash's backoff times the retry scale, an exact Upstash-Retry-Delay, or Retry-After", async () => {
    const clock = new ManualClock();
    const retryAfter = { value: "" };
    const { client, destination, engine } = await startLocal({
      clock,
      engine: { retryScale: 0.5 },
      respond: (_d, response) =>
        response.writeHead(503, retryAfter.value ? { "retry-after": retryAfter.value } : {}).end(),
    });
    const dueIn = async (messageId: string) => {
      await engine.settled();
      return (engine.messages.get(messageId)?.dueAt ?? Number.NaN) - clock.now();
    };
    const backoff = await client.publish({ url: `${destination.url}/a`, retries: 2 });
    clock.advance(0);
    expect(await dueIn(backoff.messageId)).toBe(Math.round(Math.exp(2.5) * 1000 * 0.5)); // 12.18 s x 0.5, in whole ms
    clock.advance(6100);
    expect(await dueIn(backoff.messageId)).toBe(Math.round(Math.exp(5) * 1000 * 0.5)); // then 148 s x 0.5

    const expression = await client.publish({
      url: `${destination.url}/b`,
      retries: 3,
      retryDelay: "1000 * (1 + retried) + max(0, pow(2, retried))",
    });
    clock.advance(0);
    expect(await dueIn(expression.messageId)).toBe(1001); // retried = 0: 1000 * 1 + 2^0
    clock.advance(1001);
    expect(await dueIn(expression.messageId)).toBe(2002); // retried = 1: 1000 * 2 + 2^1

    retryAfter.value = "7";
    const honoured = await client.publish({ url: `${destination.url}/c`, retryDelay: "100000" });
    clock.advance(0);
    expect(await dueIn(honoured.messageId)).toBe(7000);
  });

  it("sends 489 with Upstash-NonRetryable-Error straight to the DLQ; the DLQ lists, retries and deletes", async () => {
    let fixed = false;
    const { client, destination, engine } = await startLocal({
      respond: (_d, response) =>
        fixed
          ? response.writeHead(200).end()
          : response
              .writeHead(489, { "upstash-nonretryable-error": "true" })
              .end('{"error":{"message":"card declined"}}'),
    });
    const { messageId } = await client.publish({ url: `${destination.url}/charge`, body: '{"cents":5}', retries: 3 });
    await engine.idle();
    expect(destination.deliveries).toHaveLength(1);
    const { messages } = await client.dlq.listMessages();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      messageId,
      url: `${destination.url}/charge`,
      responseStatus: 489,
      body: '{"cents":5}',
    });
    expect(messages[0]?.responseBody).toContain("card declined");

    fixed = true;
    const retried = await client.dlq.retry(messages[0]?.dlqId ?? "no dead letter");
    expect(retried.responses).toHaveLength(1);
    await engine.idle();
    expect(destination.deliveries).toHaveLength(2);
    expect(destination.deliveries[1]?.body.toString()).toBe('{"cents":5}');
    expect((await client.dlq.listMessages()).messages).toEqual([]);
  });

  it("treats a plain 489 (without the header) as retryable, and dead-letters when retries run out", async () => {
    const { client, destination, engine } = await startLocal({ respond: status(489) });
    await client.publish({ url: `${destination.url}/x`, retries: 2 });
    await engine.idle();
    expect(destination.deliveries).toHaveLength(3);
    const [entry] = (await client.dlq.listMessages()).messages;
    expect(entry?.responseStatus).toBe(489);
    await client.dlq.delete(entry?.dlqId ?? "no dead letter");
    expect((await client.dlq.listMessages()).messages).toEqual([]);
  });

  it("times an attempt out after Upstash-Timeout and retries it", async () => {
    const { client, destination, engine } = await startLocal({
      respond: (_d, response, index) => (index === 0 ? undefined : response.writeHead(200).end()), // the first one hangs
    });
    const { messageId } = await client.publish({ url: `${destination.url}/slow`, timeout: "1s" });
    await engine.idle();
    expect(destination.deliveries.map((d) => d.headers["upstash-retried"])).toEqual(["0", "1"]);
    const errors = (await client.logs({ filter: { messageId } })).logs.filter((log) => log.state === "ERROR");
    expect(errors[0]).toMatchObject({ error: "timed out after 1000 ms" });
  });

  it("calls the callback after each attempt and the failure callback once, with QStash's bodies, signed", async () => {
    const { client, destination, engine } = await startLocal({
      respond: (delivery, response) =>
        delivery.target.startsWith("/job")
          ? response.writeHead(500, { "x-why": "db" }).end("down")
          : response.writeHead(200).end(),
    });
    const { messageId } = await client.publish({
      url: `${destination.url}/job`,
      body: "payload",
      retries: 1,
      callback: `${destination.url}/callback`,
      failureCallback: `${destination.url}/failure`,
    });
    await destination.waitFor(5);
    await engine.idle();
    const byPath = (path: string) => destination.deliveries.filter((d) => d.target === path);
    expect(byPath("/job")).toHaveLength(2);
    expect(byPath("/callback")).toHaveLength(2);
    expect(byPath("/failure")).toHaveLength(1);
    const callback = JSON.parse(String(byPath("/callback")[0]?.body));
    expect(callback).toMatchObject({
      status: 500,
      retried: 0,
      maxRetries: 1,
      sourceMessageId: messageId,
      url: `${destination.url}/job`,
      method: "POST",
    });
    expect(Buffer.from(callback.body, "base64").toString()).toBe("down");
    expect(Buffer.from(callback.sourceBody, "base64").toString()).toBe("payload");
    expect(callback.header["x-why"]).toEqual(["db"]);
    const failure = JSON.parse(String(byPath("/failure")[0]?.body));
    expect(failure).toMatchObject({
      status: 500,
      retried: 1,
      maxRetries: 1,
      sourceMessageId: messageId,
      dlqId: expect.any(String),
    });
    for (const delivery of [...byPath("/callback"), ...byPath("/failure")])
      expect(await verified(destination, delivery)).toBe(true);
  });
});

describe("deduplication, delays and scheduling in time", () => {
  it("answers a duplicate with 202 and the first message's id, by id and by content", async () => {
    const { client, destination, engine } = await startLocal();
    const first = await client.publish({ url: `${destination.url}/d`, body: "a", deduplicationId: "order-1" });
    const again = await client.publish({ url: `${destination.url}/d`, body: "b", deduplicationId: "order-1" });
    expect(again).toMatchObject({ messageId: first.messageId, deduplicated: true });
    const byContent = await client.publish({
      url: `${destination.url}/d`,
      body: "same",
      contentBasedDeduplication: true,
    });
    const sameContent = await client.publish({
      url: `${destination.url}/d`,
      body: "same",
      contentBasedDeduplication: true,
    });
    const otherContent = await client.publish({
      url: `${destination.url}/d`,
      body: "other",
      contentBasedDeduplication: true,
    });
    expect(sameContent).toMatchObject({ messageId: byContent.messageId, deduplicated: true });
    expect(otherContent.messageId).not.toBe(byContent.messageId);
    await engine.idle();
    expect(destination.deliveries.map((d) => d.body.toString()).sort()).toEqual(["a", "other", "same"]);
  });

  it("holds a message until its delay or notBefore, and can cancel it meanwhile", async () => {
    const clock = new ManualClock();
    const { client, destination, engine } = await startLocal({ clock });
    const delayed = await client.publish({ url: `${destination.url}/delayed`, delay: "10s" });
    const later = await client.publish({ url: `${destination.url}/later`, notBefore: clock.now() / 1000 + 60 });
    const cancelled = await client.publish({ url: `${destination.url}/cancelled`, delay: 5 });
    expect(await client.messages.get(delayed.messageId)).toMatchObject({
      messageId: delayed.messageId,
      url: `${destination.url}/delayed`,
    });
    await client.messages.cancel(cancelled.messageId);
    await expect(client.messages.get(cancelled.messageId)).rejects.toThrow(/not found/);
    clock.advance(9_999);
    await engine.settled();
    expect(destination.deliveries).toEqual([]);
    clock.advance(1);
    await engine.settled();
    expect(destination.deliveries.map((d) => d.target)).toEqual(["/delayed"]);
    clock.advance(50_000);
    await engine.settled();
    expect(destination.deliveries.map((d) => d.target)).toEqual(["/delayed", "/later"]);
    expect(destination.deliveries[1]?.headers["upstash-message-id"]).toBe(later.messageId);
  });

  it("limits deliveries per flow-control key: parallelism at once, rate per period", async () => {
    const hold: (() => void)[] = [];
    const { client, destination, engine } = await startLocal({
      respond: (_d, response) => hold.push(() => response.writeHead(200).end()),
    });
    for (let i = 0; i < 4; i++)
      await client.publish({ url: `${destination.url}/p${i}`, flowControl: { key: "tenant", parallelism: 2 } });
    await destination.waitFor(2);
    // The publishes were answered, so the engine has decided: two deliveries under way, the others waiting.
    const states = () => [...engine.messages.values()].map((message) => message.state).sort();
    expect(states()).toEqual(["ACTIVE", "ACTIVE", "CREATED", "CREATED"]);
    expect(destination.deliveries).toHaveLength(2);
    // Each delivery released lets exactly one more start.
    hold.shift()?.();
    await destination.waitFor(3);
    hold.shift()?.();
    await destination.waitFor(4);
    for (const release of hold.splice(0)) release();
    expect(destination.deliveries).toHaveLength(4);
    await engine.idle();
    expect(destination.concurrency.max).toBe(2);

    const clock = new ManualClock();
    const rated = await startLocal({ clock });
    for (let i = 0; i < 5; i++)
      await rated.client.publish({
        url: `${rated.destination.url}/r${i}`,
        flowControl: { key: "api", rate: 2, period: "1m" },
      });
    clock.advance(0);
    await rated.engine.settled();
    expect(rated.destination.deliveries).toHaveLength(2);
    clock.advance(60_000);
    await rated.engine.settled();
    expect(rated.destination.deliveries).toHaveLength(4);
    clock.advance(60_000);
    await rated.engine.settled();
    expect(rated.destination.deliveries.map((d) => d.target)).toEqual(["/r0", "/r1", "/r2", "/r3", "/r4"]);
  });

  it("delivers a queue in order, at most its parallelism at once", async () => {
    const { client, destination, engine } = await startLocal({
      respond: (_d, response) => setTimeout(() => response.writeHead(200).end(), 5),
    });
    const queue = client.queue({ queueName: "emails" });
    await queue.upsert({ parallelism: 1 });
    for (let i = 0; i < 6; i++) await queue.enqueueJSON({ url: `${destination.url}/q?i=${i}`, body: { i } });
    await destination.waitFor(6);
    await engine.idle();
    expect(destination.deliveries.map((d) => d.target)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `/q?i=${i}`));
    expect(destination.concurrency.max).toBe(1);
    expect(await queue.get()).toMatchObject({ name: "emails", parallelism: 1, lag: 0 });
  });

  it("runs schedules on their cron in UTC, with Upstash-Schedule-Id; pause, resume, list, delete", async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1, 0, 0, 30));
    const { client, destination, engine } = await startLocal({ clock });
    const { scheduleId } = await client.schedules.create({
      destination: `${destination.url}/cron`,
      cron: "*/5 * * * *",
      body: "tick",
    });
    expect(await client.schedules.get(scheduleId)).toMatchObject({
      scheduleId,
      cron: "*/5 * * * *",
      isPaused: false,
      nextScheduleTime: Date.UTC(2030, 0, 1, 0, 5),
    });
    clock.advance(5 * 60_000);
    await engine.settled();
    expect(destination.deliveries).toHaveLength(1);
    expect(destination.deliveries[0]?.headers["upstash-schedule-id"]).toBe(scheduleId);
    await client.schedules.pause({ schedule: scheduleId });
    clock.advance(5 * 60_000);
    await engine.settled();
    expect(destination.deliveries).toHaveLength(1);
    await client.schedules.resume({ schedule: scheduleId });
    clock.advance(5 * 60_000);
    await engine.settled();
    expect(destination.deliveries).toHaveLength(2);
    expect((await client.schedules.list()).map((s) => s.scheduleId)).toEqual([scheduleId]);
    await client.schedules.delete(scheduleId);
    expect(await client.schedules.list()).toEqual([]);
  });
});

describe("bad input gets QStash's answers", () => {
  it("400 for a destination without a scheme, and for bad headers; 404 for unknown routes", async () => {
    const { client, server } = await startLocal();
    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (error: unknown) => error as QstashError,
      );
    const noScheme = await failure(client.publish({ url: "example.com/hook", body: "x" }));
    expect(noScheme?.status).toBe(400);
    expect(noScheme?.message).toMatch(
      /invalid destination url: endpoint has invalid scheme, add http:\/\/ or https:\/\//,
    );
    const headers = { authorization: `Bearer ${DEV_CREDENTIALS.token}` };
    for (const [name, value, message] of [
      ["upstash-delay", "soon", /invalid upstash-delay header/],
      ["upstash-retries", "-1", /invalid upstash-retries header/],
      ["upstash-retry-delay", "1000 * nope(2)", /invalid upstash-retry-delay header: .*unknown name "nope"/],
      ["upstash-method", "TRACE", /invalid upstash-method header/],
      ["upstash-flow-control-value", "speed=9", /invalid upstash-flow-control-value header/],
    ] as const) {
      const response = await fetch(`${server.url}/v2/publish/http://127.0.0.1:1/x`, {
        method: "POST",
        headers: {
          ...headers,
          "upstash-flow-control-key": "k",
          "upstash-flow-control-value": "parallelism=1",
          [name]: value,
        },
        body: "",
      });
      expect(response.status, name).toBe(400);
      expect((await response.json()).error, name).toMatch(message);
    }
    const unknown = await fetch(`${server.url}/v2/nothing-here`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: expect.stringMatching(/no route for GET \/v2\/nothing-here/) });
    const badBatch = await fetch(`${server.url}/v2/batch`, {
      method: "POST",
      headers,
      body: '[{"destination":"http://127.0.0.1:1/a"},{"destination":"nope"}]',
    });
    expect(badBatch.status).toBe(400);
    expect((await client.logs()).logs).toEqual([]); // a bad batch publishes nothing
  });
});
