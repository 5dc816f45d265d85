// qjobs dev answers the QStash REST API as QStash does, driven by the real @upstash/qstash Client (issue 11).
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import type { Client } from "@upstash/qstash";
import { describe, expect, it } from "vitest";
import type { Destination } from "../../../testkit/destination.js";
import { ManualClock } from "../../local/src/time.js";
import { startLocal } from "./dev-support.js";

const auth = { authorization: `Bearer ${DEV_CREDENTIALS.token}` };
const fail489 = (_delivery: unknown, response: import("node:http").ServerResponse) =>
  response.writeHead(489, { "upstash-nonretryable-error": "true" }).end("no");

/** Three dead letters: two labelled "billing" (one at /a, one at /b), one labelled "email" at /c. */
async function withDeadLetters() {
  const local = await startLocal({ respond: fail489 });
  const { client, destination, engine } = local;
  const ids = {
    a: (await client.publish({ url: `${destination.url}/a`, body: "1", label: "billing" })).messageId,
    b: (await client.publish({ url: `${destination.url}/b`, body: "2", label: "billing" })).messageId,
    c: (await client.publish({ url: `${destination.url}/c`, body: "3", label: "email" })).messageId,
  };
  await destination.waitFor(3);
  await engine.idle();
  return { ...local, ids };
}

const dlqIds = async (client: Client) =>
  (await client.dlq.listMessages()).messages.map((message) => message.messageId).sort();

describe("filters that filter: a filter that matches nothing acts on nothing", () => {
  it("dlq.retry with a messageId that does not exist retries nothing", async () => {
    const { client, ids, destination } = await withDeadLetters();
    const result = await client.dlq.retry({ filter: { messageId: "does-not-exist" } });
    expect(result.responses).toEqual([]);
    expect(await dlqIds(client)).toEqual(Object.values(ids).sort());
    expect(destination.deliveries).toHaveLength(3);
  });

  it("dlq.delete with a label deletes only that label's entries, and one nobody has deletes nothing", async () => {
    const { client, ids } = await withDeadLetters();
    expect(await client.dlq.delete({ filter: { label: "nobody" } })).toMatchObject({ deleted: 0 });
    expect(await dlqIds(client)).toHaveLength(3);
    expect(await client.dlq.delete({ filter: { label: "billing" } })).toMatchObject({ deleted: 2 });
    expect(await dlqIds(client)).toEqual([ids.c]);
  });

  it("dlq.retry by url takes several values (OR), and by dlqIds exactly those", async () => {
    const { client, destination, ids } = await withDeadLetters();
    const retried = await client.dlq.retry({ filter: { url: [`${destination.url}/a`, `${destination.url}/c`] } });
    expect(retried.responses).toHaveLength(2);
    expect(await dlqIds(client)).toEqual([ids.b]);
  });

  it("a dead letter's retry takes configuration headers over the dead letter's (QStash's docs), forwarded ones too", async () => {
    const { client, destination, engine, server, ids } = await withDeadLetters();
    const [dead] = (await client.dlq.listMessages({ filter: { messageId: ids.a } })).messages;
    const answer = await fetch(`${server.url}/v2/dlq/retry/${dead?.dlqId}`, {
      method: "POST",
      headers: { ...auth, "Upstash-Label": "again", "Upstash-Queue-Name": "redo", "Upstash-Forward-X-Trace": "t1" },
    });
    expect(answer.status).toBe(200);
    const { messageId } = (await answer.json()) as { messageId: string };
    const [delivery] = (await destination.waitFor(4)).slice(3);
    expect(delivery?.headers["upstash-message-id"]).toBe(messageId);
    expect(delivery?.headers["x-trace"]).toBe("t1");
    await engine.idle();
    const [created] = (await client.logs({ filter: { messageId, state: "CREATED" } })).logs;
    expect(created?.label).toBe("again");
    // Enqueued: the queue it named was made for it, as a publish to a new queue makes one.
    expect((await client.queue().list()).map((queue) => queue.name)).toContain("redo");
    // What was not sent stays the dead letter's: its body and destination.
    expect(created?.url).toBe(`${destination.url}/a`);
    expect(delivery?.body.toString()).toBe("1");
    const bad = await fetch(`${server.url}/v2/dlq/retry/${dead?.dlqId}`, {
      method: "POST",
      headers: { ...auth, "Upstash-Retries": "many" },
    });
    expect(bad.status).toBe(400);
  });

  it("dlq.listMessages filters by responseStatus, label, url and date; dlq.delete({ all: true }) empties it", async () => {
    const { client, destination } = await withDeadLetters();
    const list = async (filter: Parameters<Client["dlq"]["listMessages"]>[0]) =>
      (await client.dlq.listMessages(filter)).messages.length;
    expect(await list({ filter: { responseStatus: 489 } })).toBe(3);
    expect(await list({ filter: { responseStatus: 500 } })).toBe(0);
    expect(await list({ filter: { label: ["email", "billing"] } })).toBe(3);
    expect(await list({ filter: { url: `${destination.url}/b`, label: "email" } })).toBe(0); // AND across filters
    expect(await list({ filter: { fromDate: Date.now() + 60_000 } })).toBe(0);
    expect(await list({ filter: { toDate: Date.now() + 60_000 } })).toBe(3);
    expect(await client.dlq.delete({ all: true })).toMatchObject({ deleted: 3 });
    expect(await list({})).toBe(0);
  });

  it("messages.cancel with a filter cancels the matches only; { all: true } cancels every waiting message", async () => {
    const { client, destination, engine } = await startLocal();
    const later = { url: `${destination.url}/later`, body: "{}", delay: 3600 } as const;
    await client.publish({ ...later, label: "a" });
    await client.publish({ ...later, label: "b" });
    await client.publish({ ...later, url: `${destination.url}/other`, label: "b" });
    expect(await client.messages.cancel({ filter: { label: "nope" } })).toEqual({ cancelled: 0 });
    expect(engine.messages.size).toBe(3);
    expect(await client.messages.cancel({ filter: { label: "b", path: "/later" } })).toEqual({ cancelled: 1 });
    expect(engine.messages.size).toBe(2);
    expect(await client.messages.cancel({ all: true })).toEqual({ cancelled: 2 });
    expect(engine.messages.size).toBe(0);
    const canceled = (await client.logs({ filter: { state: "CANCELED" } })).logs;
    expect(canceled).toHaveLength(3);
  });

  it("refuses a query key the endpoint does not take with a 400, instead of acting on everything", async () => {
    const { server, engine } = await withDeadLetters();
    for (const [method, path] of [
      ["GET", "/v2/dlq?host=example.com"],
      ["DELETE", "/v2/dlq?lable=billing"],
      ["POST", "/v2/dlq/retry?messageID=x"],
      ["DELETE", "/v2/messages?cursor=1"],
      ["GET", "/v2/events?responseStatus=200"],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, { method, headers: auth });
      expect(response.status, path).toBe(400);
      expect((await response.json()).error, path).toMatch(/takes no "/);
    }
    expect(engine.dlq.size).toBe(3);
  });
});

describe("the event log", () => {
  it("filters by state, label, url, host and path, and by messageIds", async () => {
    const { client, destination, engine } = await startLocal();
    const first = await client.publish({ url: `${destination.url}/one`, body: "{}", label: ["x", "y"] });
    await client.publish({ url: `${destination.url}/two`, body: "{}" });
    await destination.waitFor(2);
    await engine.idle();
    const logs = async (request: Parameters<Client["logs"]>[0]) => (await client.logs(request)).logs;
    expect((await logs({ filter: { state: "DELIVERED" } })).map((log) => log.url).sort()).toEqual([
      `${destination.url}/one`,
      `${destination.url}/two`,
    ]);
    expect((await logs({ filter: { label: "y" } })).every((log) => log.messageId === first.messageId)).toBe(true);
    expect(await logs({ filter: { path: "/two", state: "CREATED" } })).toHaveLength(1);
    expect(await logs({ filter: { host: new URL(destination.url).host } })).toHaveLength(6);
    expect((await logs({ messageIds: [first.messageId] })).map((log) => log.state)).toEqual([
      "DELIVERED",
      "ACTIVE",
      "CREATED",
    ]);
  });

  it("pages newest first with a cursor, without repeating or skipping entries while new ones arrive", async () => {
    const { client, destination, engine } = await startLocal();
    for (let i = 0; i < 7; i++) await client.publish({ url: `${destination.url}/p${i}`, body: String(i), delay: 3600 });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pageIndex = 0; pageIndex < 10; pageIndex++) {
      const page = await client.logs({ count: 3, cursor });
      seen.push(...page.logs.map((log) => log.messageId));
      // A new message between two pages lands at the head, never inside the pages still to come.
      if (pageIndex === 0) await client.publish({ url: `${destination.url}/late`, body: "x", delay: 3600 });
      cursor = page.cursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    expect(engine.events).toHaveLength(8);
  });

  it("says when a delayed message is due on its CREATED entry, as QStash does (the dashboard shows it)", async () => {
    const { client } = await startLocal();
    const before = Date.now();
    const { messageId } = await client.publish({ url: "http://127.0.0.1:9/later", body: "{}", delay: 3600 });
    const { messageId: now } = await client.publish({ url: "http://127.0.0.1:9/now", body: "{}", delay: 0 });
    const created = (await client.logs({ filter: { state: "CREATED" } })).logs as unknown as Record<string, unknown>[];
    const due = created.find((log) => log.messageId === messageId)?.nextDeliveryTime as number;
    expect(due).toBeGreaterThanOrEqual(before + 3600_000);
    expect(due).toBeLessThan(Date.now() + 3600_000 + 1000);
    expect(created.find((log) => log.messageId === now)).not.toHaveProperty("nextDeliveryTime");
  });

  it("carries what QStash's logs carry: the request, and the response of a failed attempt", async () => {
    const { client, destination, engine } = await startLocal({
      respond: (_delivery, response) => response.writeHead(500, { "x-why": "db" }).end("database down"),
    });
    await client.publish({ url: `${destination.url}/f`, body: '{"a":1}', retries: 0, headers: { "X-Trace": "t" } });
    await engine.idle();
    const logs = (await client.logs()).logs as unknown as Record<string, unknown>[];
    const created = logs.find((log) => log.state === "CREATED");
    expect(created).toMatchObject({ method: "POST", body: '{"a":1}', header: { "X-Trace": "t" } });
    const failed = logs.find((log) => log.state === "FAILED");
    expect(failed).toMatchObject({
      responseStatus: 500,
      responseBody: "database down",
      responseHeader: { "X-Why": "db" },
    });
  });
});

describe("views as QStash returns them", () => {
  it("a message: canonical header names, labels, flow control, retry-delay expression, queue; no body when empty", async () => {
    const { client, destination } = await startLocal();
    const { messageId } = await client.publish({
      url: `${destination.url}/v`,
      headers: { "x-trace-id": "t1" },
      delay: 3600,
      label: ["first", "second"],
      retryDelay: "1000 * retried",
      flowControl: { key: "tenant-1", parallelism: 2, rate: 10, period: "1m" },
    });
    const message = (await client.messages.get(messageId)) as unknown as Record<string, unknown>;
    expect(message).toMatchObject({
      header: { "X-Trace-Id": ["t1"] },
      label: "first",
      labels: ["first", "second"],
      retryDelayExpression: "1000 * retried",
      flowControlKey: "tenant-1",
      parallelism: 2,
      rate: 10,
      period: 60,
      callerIp: "127.0.0.1",
    });
    expect(message).not.toHaveProperty("body");
  });

  it("honours Upstash-Redact-Fields in views and logs, and still delivers the real values", async () => {
    const { client, destination, engine } = await startLocal({ respond: fail489 });
    await client.publish({
      url: `${destination.url}/secret`,
      body: "card 4242",
      headers: { Authorization: "Bearer s3cret", "X-Other": "kept" },
      redact: { body: true, header: ["Authorization"] },
    });
    const [delivery] = await destination.waitFor(1);
    await engine.idle();
    expect(delivery?.body.toString()).toBe("card 4242");
    expect(delivery?.headers.authorization).toBe("Bearer s3cret");
    const [dead] = (await client.dlq.listMessages()).messages as unknown as Record<string, unknown>[];
    expect(dead).toMatchObject({ body: "REDACTED", header: { Authorization: ["REDACTED"], "X-Other": ["kept"] } });
    const created = (await client.logs({ filter: { state: "CREATED" } })).logs[0] as unknown as Record<string, unknown>;
    expect(created).toMatchObject({ body: "REDACTED", header: { Authorization: "REDACTED" } });
  });
});

describe("flow control as an API", () => {
  it("get, pause, resume, pin and unpin, resetRate, and the global parallelism", async () => {
    const { client, destination, engine } = await startLocal();
    const publish = () =>
      client.publish({ url: `${destination.url}/fc`, body: "{}", flowControl: { key: "k", parallelism: 5 } });
    await publish();
    await destination.waitFor(1);
    await engine.idle();
    const info = await client.flowControl.get("k");
    expect(info).toMatchObject({ flowControlKey: "k", parallelismMax: 5, isPaused: false });
    // In unix seconds, as QStash documents it: within the last minute.
    expect(Math.abs(info.ratePeriodStart - Date.now() / 1000)).toBeLessThan(60);

    await client.flowControl.pause("k");
    await publish();
    await engine.settled();
    expect(destination.deliveries).toHaveLength(1);
    expect(await client.flowControl.get("k")).toMatchObject({ isPaused: true, waitListSize: 1 });
    await client.flowControl.resume("k");
    await destination.waitFor(2);

    await client.flowControl.pin("k", { parallelism: 1 });
    expect(await client.flowControl.get("k")).toMatchObject({ parallelismMax: 1 });
    await client.flowControl.unpin("k", { parallelism: true });
    expect(await client.flowControl.get("k")).toMatchObject({ parallelismMax: 5 });
    await client.flowControl.resetRate("k");
    expect(await client.flowControl.getGlobalParallelism()).toEqual({ parallelismMax: 100, parallelismCount: 0 });
    await expect(client.flowControl.get("unknown-key")).rejects.toMatchObject({ status: 404 });
  });

  it("a pinned rate holds back deliveries the messages would allow", async () => {
    const clock = new ManualClock();
    const { client, destination, engine } = await startLocal({ clock });
    await client.publish({ url: `${destination.url}/r0`, body: "{}", flowControl: { key: "r", rate: 100 } });
    await destination.waitFor(1);
    await engine.idle();
    await client.flowControl.pin("r", { rate: 1, period: 60 });
    await client.publish({ url: `${destination.url}/r1`, body: "{}", flowControl: { key: "r", rate: 100 } });
    await client.publish({ url: `${destination.url}/r2`, body: "{}", flowControl: { key: "r", rate: 100 } });
    await engine.settled();
    // The first delivery used this period's one start: the others wait a period each.
    expect(destination.deliveries).toHaveLength(1);
    clock.advance(60_000);
    await destination.waitFor(2);
    await engine.settled();
    expect(destination.deliveries).toHaveLength(2);
    clock.advance(60_000);
    await destination.waitFor(3);
  });
});

describe("URL groups", () => {
  async function group(destination: Destination, client: Client) {
    await client.urlGroups.addEndpoints({
      name: "fanout",
      endpoints: [{ name: "ok", url: `${destination.url}/ok` }, { url: `${destination.url}/broken` }],
    });
  }

  it("creates, lists, gets, removes endpoints from and deletes a group", async () => {
    const { client, destination } = await startLocal();
    await group(destination, client);
    expect((await client.urlGroups.list()).map((g) => g.name)).toEqual(["fanout"]);
    expect((await client.urlGroups.get("fanout")).endpoints).toEqual([
      { name: "ok", url: `${destination.url}/ok` },
      { url: `${destination.url}/broken` },
    ]);
    await client.urlGroups.removeEndpoints({ name: "fanout", endpoints: [{ name: "ok" }] });
    expect((await client.urlGroups.get("fanout")).endpoints).toEqual([{ url: `${destination.url}/broken` }]);
    await client.urlGroups.delete("fanout");
    await expect(client.urlGroups.get("fanout")).rejects.toMatchObject({ status: 404 });
  });

  it("fans a publish out: one message per endpoint, each with its own retries and dead letter", async () => {
    const { client, destination, engine } = await startLocal({
      respond: (delivery, response) =>
        delivery.target === "/broken" ? fail489(delivery, response) : response.writeHead(200).end(),
    });
    await group(destination, client);
    const results = (await client.publish({ urlGroup: "fanout", body: "hello" })) as unknown as {
      messageId: string;
      url: string;
    }[];
    expect(results.map((result) => result.url).sort()).toEqual([`${destination.url}/broken`, `${destination.url}/ok`]);
    const deliveries = await destination.waitFor(2);
    await engine.idle();
    expect(deliveries.every((delivery) => delivery.headers["upstash-topic-name"] === "fanout")).toBe(true);
    expect(new Set(deliveries.map((delivery) => delivery.headers["upstash-message-id"])).size).toBe(2);
    const dead = (await client.dlq.listMessages({ filter: { urlGroup: "fanout" } })).messages;
    expect(dead.map((message) => message.url)).toEqual([`${destination.url}/broken`]);
    await expect(client.publish({ urlGroup: "no-such-group", body: "x" })).rejects.toMatchObject({ status: 404 });
  });
});

describe("what it does not implement", () => {
  it("answers 501 naming it, not a generic 404", async () => {
    const { server } = await startLocal();
    const response = await fetch(`${server.url}/v2/notify/some-event`, { method: "POST", headers: auth, body: "{}" });
    expect(response.status).toBe(501);
    expect((await response.json()).error).toMatch(/does not implement Upstash Workflow notify/);
  });
});

describe("cancelling a message whose attempt is in flight, as QStash does (issue 20, fidelity)", () => {
  /** A destination that holds each response until released, then answers 500 (so a retry would follow). */
  async function heldDestination() {
    const held: (() => void)[] = [];
    const local = await startLocal({
      respond: (_delivery, response) => held.push(() => response.writeHead(500).end("failed")),
    });
    const release = () => {
      for (const answer of held.splice(0)) answer();
    };
    return { ...local, release };
  }

  it("messages.delete answers as for a live message, and no attempt follows the one in flight", async () => {
    const { client, destination, engine, release } = await heldDestination();
    const { messageId } = await client.publish({ url: `${destination.url}/slow`, body: "{}", retries: 3 });
    await destination.waitFor(1);
    await client.messages.delete(messageId);
    await expect(client.messages.get(messageId)).rejects.toMatchObject({ status: 404 });
    release();
    await engine.idle();
    expect(destination.deliveries).toHaveLength(1);
    expect((await client.dlq.listMessages()).messages).toEqual([]);
    const states = (await client.logs({ filter: { messageId } })).logs.map((log) => log.state).reverse();
    expect(states).toEqual(["CREATED", "ACTIVE", "CANCELED"]);
  });

  it("messages.cancel({ all: true }) cancels messages in flight too", async () => {
    const { client, destination, engine, release } = await heldDestination();
    await client.publish({ url: `${destination.url}/slow`, body: "{}", retries: 3 });
    await destination.waitFor(1);
    expect(await client.messages.cancel({ all: true })).toEqual({ cancelled: 1 });
    release();
    await engine.idle();
    expect(destination.deliveries).toHaveLength(1);
  });
});

describe("flow control's pinned flags, as QStash reports them (issue 20, fidelity)", () => {
  it("flowControl.get says isPinnedParallelism and isPinnedRate", async () => {
    const { client, destination, engine } = await startLocal();
    await client.publish({ url: `${destination.url}/fc`, body: "{}", flowControl: { key: "k", parallelism: 5 } });
    await engine.idle();
    expect(await client.flowControl.get("k")).toMatchObject({ isPinnedParallelism: false, isPinnedRate: false });
    await client.flowControl.pin("k", { parallelism: 1 });
    expect(await client.flowControl.get("k")).toMatchObject({ isPinnedParallelism: true, isPinnedRate: false });
    await client.flowControl.pin("k", { rate: 10, period: 60 });
    expect(await client.flowControl.get("k")).toMatchObject({ isPinnedParallelism: true, isPinnedRate: true });
    await client.flowControl.unpin("k", { parallelism: true, rate: true });
    expect(await client.flowControl.get("k")).toMatchObject({ isPinnedParallelism: false, isPinnedRate: false });
  });
});

describe("times are whole milliseconds, as QStash's (issue 20, fidelity)", () => {
  it("a retry's notBefore and the log's nextDeliveryTime under a scaled backoff are integers", async () => {
    const clock = new ManualClock();
    const { client, destination, engine } = await startLocal({
      clock,
      respond: (_delivery, response) => response.writeHead(500).end(),
      engine: { retryScale: 0.0123 },
    });
    const { messageId } = await client.publish({ url: `${destination.url}/x`, body: "{}", retries: 2 });
    await destination.waitFor(1);
    await engine.settled();
    const message = await client.messages.get(messageId);
    expect(message.notBefore).toBeGreaterThan(clock.now());
    expect(Number.isInteger(message.notBefore)).toBe(true);
    const [retry] = (await client.logs({ filter: { messageId, state: "RETRY" } })).logs;
    expect(Number.isInteger(retry?.nextDeliveryTime)).toBe(true);
  });
});

describe("caps on what one client can make qjobs dev hold (issue 20, item 12)", () => {
  const publishRaw = (url: string, path: string, body: string) =>
    fetch(`${url}${path}`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body });

  it("a batch of more than 1,000 messages is refused with a 400 saying so, and publishes nothing", async () => {
    const { server, destination, engine } = await startLocal();
    const entries = Array.from({ length: 1001 }, () => ({ destination: `${destination.url}/x`, body: "{}" }));
    const response = await publishRaw(server.url, "/v2/batch", JSON.stringify(entries));
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: "batch has 1001 messages: qjobs dev takes at most 1000 in one request; split it",
    });
    expect(engine.messages.size).toBe(0);
  });

  it("past the live-message cap a publish is refused 429 with QStash's quota headers; a batch is all or nothing", async () => {
    const { client, server, destination, engine } = await startLocal({ engine: { maxMessages: 3 } });
    for (let i = 0; i < 2; i++) await client.publish({ url: `${destination.url}/later`, body: "{}", delay: 3600 });
    const batch = [0, 1].map(() => ({ destination: `${destination.url}/later`, headers: { "upstash-delay": "1h" } }));
    const refused = await publishRaw(server.url, "/v2/batch", JSON.stringify(batch));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("ratelimit-limit")).toBe("3");
    expect(refused.headers.get("ratelimit-remaining")).toBe("1");
    expect((await refused.json()).error).toMatch(/at most 3 waiting or in-flight messages \(2 now, 2 more asked\)/);
    expect(engine.messages.size).toBe(2);
    await client.publish({ url: `${destination.url}/later`, body: "{}", delay: 3600 });
    await expect(client.publish({ url: `${destination.url}/later`, body: "{}", delay: 3600 })).rejects.toMatchObject({
      status: 429,
      name: "QstashDailyRatelimitError",
    });
    expect(engine.messages.size).toBe(3);
  });

  it("past the cap a dead letter's retry is refused 429 and the dead letter kept, one or many", async () => {
    const { client, destination, engine, server } = await startLocal({
      engine: { maxMessages: 2 },
      respond: (_delivery, response) => response.writeHead(489, { "upstash-nonretryable-error": "true" }).end(),
    });
    for (const n of [1, 2]) await client.publish({ url: `${destination.url}/dead`, body: String(n) });
    await destination.waitFor(2);
    await engine.idle();
    for (let i = 0; i < 2; i++) await client.publish({ url: `${destination.url}/later`, body: "{}", delay: 3600 });
    const [dead] = (await client.dlq.listMessages()).messages;
    const one = await fetch(`${server.url}/v2/dlq/retry/${dead?.dlqId}`, { method: "POST", headers: auth });
    expect(one.status).toBe(429);
    await expect(client.dlq.retry({ dlqIds: [dead?.dlqId ?? ""] })).rejects.toMatchObject({ status: 429 });
    await expect(client.dlq.retry({ all: true })).rejects.toMatchObject({ status: 429 });
    expect((await client.dlq.listMessages()).messages).toHaveLength(2);
    expect(engine.messages.size).toBe(2);
  });

  it("a queue's lag is kept as messages wait, start, retry and are cancelled", async () => {
    const clock = new ManualClock();
    const { client, destination, engine } = await startLocal({
      clock,
      respond: (_delivery, response) => response.writeHead(500).end(),
    });
    const queue = client.queue({ queueName: "orders" });
    await queue.upsert({ parallelism: 1 });
    await queue.pause();
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await queue.enqueue({ url: `${destination.url}/q`, body: "{}", retries: 1 })).messageId);
    expect((await queue.get()).lag).toBe(3);
    await client.messages.delete(ids[2] as string);
    expect((await queue.get()).lag).toBe(2);
    await queue.resume();
    await destination.waitFor(1);
    await engine.settled();
    // The first failed once and waits for its retry; FIFO keeps the second behind it.
    expect((await queue.get()).lag).toBe(2);
    // The retry fails for good (dead-lettered); the second starts, fails and waits for its retry.
    clock.advance(60_000);
    await destination.waitFor(3);
    await engine.settled();
    expect((await queue.get()).lag).toBe(1);
  });
  it("GET /v2/queues answers from kept counts: 1,000 queues over 50,000 waiting messages, not a walk per queue", async () => {
    const { server, engine } = await startLocal();
    for (let q = 0; q < 1000; q++) {
      for (let m = 0; m < 50; m++) {
        engine.publish({
          url: "http://127.0.0.1:9/later",
          method: "POST",
          headers: {},
          body: Buffer.alloc(0),
          delayMs: 3_600_000,
          maxRetries: 0,
          labels: [],
          callerIp: "127.0.0.1",
          queueName: `q${q}`,
        });
      }
    }
    const started = performance.now();
    const response = await fetch(`${server.url}/v2/queues`, { headers: auth });
    const queues = (await response.json()) as { lag: number }[];
    const elapsed = performance.now() - started;
    expect(queues).toHaveLength(1000);
    expect(queues.every((queue) => queue.lag === 50)).toBe(true);
    // Walking every message for each queue took seconds here (50 million steps); counts take milliseconds.
    expect(elapsed).toBeLessThan(1500);
  }, 30_000);
});
