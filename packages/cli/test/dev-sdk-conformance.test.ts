// What the @upstash/qstash SDK's own test suites for messages, queues, schedules, flow control, logs, the DLQ and
// URL groups check against QStash, checked here with the real SDK Client against the built `qjobs dev`, started
// as a user would (no flags but --port 0 and the harness's temporary state folder), issue 20. Our own tests,
// written from what those suites assert; their destinations on the internet are local ones here.
//
// Left out, on purpose:
// - schedules "should be able to schedule with correct headers": it checks the request the SDK sends to the
//   SDK's own mock QStash server, not what a server answers.
// - the messages suite's `delete(ids[])`, `delete(filter)` and `deleteAll(filter)` overloads: newer SDKs than the
//   2.12.0 this project pins; they send the same DELETE /v2/messages with a messageIds, flowControlKey or label
//   query that 2.12.0's `cancel` sends, which is what is checked here.
// - the suites' `https://example.com` and `httpstat.us` destinations: no internet here; a local destination
//   answers 200, 400 or holds its answer instead, which is what those URLs stand for in the suites.
import type { Client } from "@upstash/qstash";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SpawnedCli } from "../../../testkit/cli.js";
import { type Destination, startDestination } from "../../../testkit/destination.js";
import { until } from "../../../testkit/processes.js";
import { localClient } from "./dev-support.js";
import { spawnCli } from "./support.js";

let cli: SpawnedCli;
let client: Client;
let destination: Destination;
/** Answers held by /slow until a test releases them. */
const held: (() => void)[] = [];

beforeAll(async () => {
  destination = await startDestination((delivery, response) => {
    if (delivery.target.startsWith("/slow")) held.push(() => response.writeHead(500).end());
    else if (delivery.target.startsWith("/broken")) response.writeHead(400).end("broken");
    else response.writeHead(200).end();
  });
  cli = spawnCli(["dev", "--port", "0", "--quiet"], { lifetime: "file" });
  const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
  await cli.waitFor(/Ctrl-C stops/);
  client = localClient(url as string);
});
afterAll(async () => {
  for (const answer of held.splice(0)) answer();
  await destination?.close();
});
// Each test starts with no live message, as the suites' deleteAll in beforeAll makes sure.
beforeEach(async () => {
  await client.messages.deleteAll();
});

const later = (path = "/later") => `${destination.url}${path}`;
const dlqOf = async (messageId: string) =>
  until(`${messageId} in the DLQ`, async () => {
    const { messages } = await client.dlq.listMessages({ filter: { messageId } });
    return messages.length > 0 ? messages : undefined;
  });

describe("messages, as the SDK's messages suite checks them", () => {
  it("publishJSON with headers, a delay, retries, callbacks, GET and a retry delay: get shows them; delete cancels", async () => {
    const retryDelay = "1000 * retried";
    const { messageId } = await client.publishJSON({
      url: later(),
      body: { hello: "world" },
      headers: { "test-header": "test-value", "Upstash-Forward-bypass-tunnel-reminder": "client-test" },
      delay: 60,
      retries: 5,
      callback: `${later("/callback")}?foo=bar`,
      failureCallback: `${later("/failure")}?bar=baz`,
      method: "GET",
      retryDelay,
    });
    const message = await client.messages.get(messageId);
    expect(message.header?.["Test-Header"]).toEqual(["test-value"]);
    expect(message.retryDelayExpression).toBe(retryDelay);
    await client.messages.delete(messageId);
    await expect(client.messages.get(messageId)).rejects.toMatchObject({ status: 404 });
  });

  it("a message with a timeout can be read back", async () => {
    const { messageId } = await client.publishJSON({ url: later(), body: { hello: "world" }, timeout: 90, delay: 60 });
    expect((await client.messages.get(messageId)).messageId).toBe(messageId);
  });

  it("batchJSON, then deleteMany of two (2) and deleteAll of the rest (1)", async () => {
    const messages = await client.batchJSON([
      { url: later(), body: { hello: "world" }, timeout: 90, delay: 10 },
      { url: later(), body: { hello: "world" }, timeout: 90, delay: 10 },
      { url: later(), body: { hello: "world" }, timeout: 90, delay: "10d" },
    ]);
    expect(messages).toHaveLength(3);
    expect(await client.messages.deleteMany([messages[0]?.messageId ?? "", messages[1]?.messageId ?? ""])).toBe(2);
    expect(await client.messages.deleteAll()).toBe(1);
  });

  it("a message's flow control reads back: key, parallelism, rate and ratePerSecond, period in seconds", async () => {
    const { messageId } = await client.publish({
      url: later(),
      body: "hello",
      delay: 60,
      flowControl: { key: "flow-key", parallelism: 10, ratePerSecond: 5, period: "1d" },
    });
    const message = await client.messages.get(messageId);
    expect(message).toMatchObject({ flowControlKey: "flow-key", parallelism: 10, rate: 5, ratePerSecond: 5 });
    expect(message.period).toBe(86_400);
  });

  it("cancel with a flowControlKey cancels that key's messages only", async () => {
    const publish = (key: string) =>
      client.publish({
        url: later(),
        body: "hello",
        delay: 60,
        flowControl: { key, parallelism: 5, ratePerSecond: 10 },
      });
    await publish("flow-key");
    await publish("flow-key");
    const other = await publish("different-flow-key");
    expect(await client.messages.cancel({ filter: { flowControlKey: "flow-key" } })).toEqual({ cancelled: 2 });
    expect((await client.messages.get(other.messageId)).flowControlKey).toBe("different-flow-key");
    await publish("filter-key");
    await publish("filter-key");
    expect(await client.messages.cancel({ filter: { flowControlKey: "filter-key" } })).toEqual({ cancelled: 2 });
  });

  it("cancel a list of ids, by label, and everything", async () => {
    const batch = await client.batchJSON(
      [0, 1, 2].map(() => ({ url: later(), body: { hello: "world" }, timeout: 90, delay: "10d" as const })),
    );
    expect(await client.messages.cancel([batch[0]?.messageId ?? "", batch[1]?.messageId ?? ""])).toEqual({
      cancelled: 2,
    });
    const label = `msg-label-${Date.now()}`;
    for (let i = 0; i < 2; i++) await client.publish({ url: later(), body: "hello", delay: "10d", label });
    expect(await client.messages.cancel({ filter: { label } })).toEqual({ cancelled: 2 });
    await client.publish({ url: later(), body: "hello", delay: "10d" });
    expect(await client.messages.cancel({ all: true })).toEqual({ cancelled: 2 }); // the batch's third and this one
  });

  it("delete of a message whose attempt is in flight succeeds, and no retry follows", async () => {
    const { messageId } = await client.publish({ url: later("/slow"), body: "hello", retries: 3 });
    await until("the attempt in flight", async () => (held.length > 0 ? true : undefined));
    await client.messages.delete(messageId);
    const before = destination.deliveries.length;
    for (const answer of held.splice(0)) answer();
    // The attempt is over once nothing is in flight; a retry would have been logged (RETRY) as it ended.
    await until("the attempt's end", async () =>
      (await client.flowControl.getGlobalParallelism()).parallelismCount === 0 ? true : undefined,
    );
    const states = (await client.logs({ filter: { messageId } })).logs.map((log) => log.state);
    expect(states).not.toContain("RETRY");
    expect(destination.deliveries.length).toBe(before);
  });
});

describe("queues, as the SDK's queue suite checks them", () => {
  it("upsert, get, delete, and list is empty again", async () => {
    await client.queue({ queueName: "upstash-queue" }).upsert({ parallelism: 2 });
    expect((await client.queue({ queueName: "upstash-queue" }).get()).name).toBe("upstash-queue");
    await client.queue({ queueName: "upstash-queue" }).delete();
    expect(await client.queue().list()).toEqual([]);
  });

  it("two queues are listed, then deleted", async () => {
    await client.queue({ queueName: "upstash-queue1" }).upsert({ parallelism: 2 });
    await client.queue({ queueName: "upstash-queue2" }).upsert({ parallelism: 2 });
    expect((await client.queue().list()).map((queue) => queue.name).sort()).toEqual([
      "upstash-queue1",
      "upstash-queue2",
    ]);
    await client.queue({ queueName: "upstash-queue1" }).delete();
    await client.queue({ queueName: "upstash-queue2" }).delete();
  });

  it("pause and resume, by their calls and by upsert", async () => {
    const queue = client.queue({ queueName: "upstash-pause-resume-queue" });
    await queue.upsert({ parallelism: 1 });
    expect((await queue.get()).paused).toBe(false);
    await queue.pause();
    expect((await queue.get()).paused).toBe(true);
    await queue.resume();
    expect((await queue.get()).paused).toBe(false);
    await queue.upsert({ paused: true });
    expect((await queue.get()).paused).toBe(true);
    await queue.upsert({ paused: false });
    expect((await queue.get()).paused).toBe(false);
    await queue.delete();
  });
});

describe("schedules, as the SDK's schedules suite checks them", () => {
  beforeEach(async () => {
    for (const schedule of await client.schedules.list()) await client.schedules.delete(schedule.scheduleId);
  });

  it("a schedule with every option reads back as created (cron trimmed, headers canonical)", async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${destination.url}/`,
      body: JSON.stringify({ hello: "world" }),
      headers: { "test-header": "test-value", "Upstash-Forward-bypass-tunnel-reminder": "client-test" },
      method: "GET",
      callback: later("/callback"),
      failureCallback: later("/failure"),
      delay: 10,
      retries: 5,
      queueName: "scheduleQueue",
      cron: "*/10 * * * * ",
    });
    expect(await client.schedules.get(scheduleId)).toMatchObject({
      cron: "*/10 * * * *",
      destination: `${destination.url}/`,
      method: "GET",
      header: {
        "Bypass-Tunnel-Reminder": ["client-test"],
        "Content-Type": ["application/json"],
        "Test-Header": ["test-value"],
      },
      body: '{"hello":"world"}',
      retries: 5,
      delay: 10,
      callback: later("/callback"),
      failureCallback: later("/failure"),
      queueName: "scheduleQueue",
    });
  });

  it("two schedules are listed", async () => {
    const first = await client.schedules.create({ destination: later("/a"), cron: "*/10 * * * * " });
    const second = await client.schedules.create({ destination: later("/b"), cron: "*/10 * * * * " });
    expect((await client.schedules.list()).map((schedule) => schedule.scheduleId).sort()).toEqual(
      [first.scheduleId, second.scheduleId].sort(),
    );
  });

  it("pause and resume", async () => {
    const { scheduleId } = await client.schedules.create({
      cron: "1 1 1 1 1",
      destination: later(),
      body: JSON.stringify({ ex_key: "ex_value" }),
    });
    expect(await client.schedules.get(scheduleId)).toMatchObject({ scheduleId, cron: "1 1 1 1 1", isPaused: false });
    await client.schedules.pause({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(true);
    await client.schedules.resume({ schedule: scheduleId });
    expect((await client.schedules.get(scheduleId)).isPaused).toBe(false);
  });

  it("creating with a known id replaces that schedule (a body not given is gone)", async () => {
    expect(await client.schedules.list()).toEqual([]);
    await client.schedules.create({
      destination: later("/initial"),
      cron: "*/5 * * * *",
      scheduleId: "edit-me",
      body: "my-payload",
    });
    let schedules = await client.schedules.list();
    expect(schedules.map((schedule) => [schedule.scheduleId, schedule.destination])).toEqual([
      ["edit-me", later("/initial")],
    ]);
    await client.schedules.create({ destination: later("/updated"), cron: "*/5 * * * *", scheduleId: "edit-me" });
    schedules = await client.schedules.list();
    expect(schedules.map((schedule) => [schedule.scheduleId, schedule.destination])).toEqual([
      ["edit-me", later("/updated")],
    ]);
    expect(schedules[0]?.body).toBeUndefined();
  });
});

describe("flow control, as the SDK's flow-control suite checks it", () => {
  const publishWithKey = (key: string) =>
    client.publish({
      url: later(),
      body: "hello",
      delay: 60,
      flowControl: { key, parallelism: 5, rate: 10, period: "1m" },
    });

  it("get after a publish, and the global parallelism, with numbers where numbers are due", async () => {
    await publishWithKey("fc-info");
    const info = await client.flowControl.get("fc-info");
    expect(info.flowControlKey).toBe("fc-info");
    for (const field of ["waitListSize", "parallelismMax", "parallelismCount"] as const)
      expect(typeof info[field]).toBe("number");
    const global = await client.flowControl.getGlobalParallelism();
    expect(typeof global.parallelismMax).toBe("number");
    expect(typeof global.parallelismCount).toBe("number");
  });

  it("pause and resume a key", async () => {
    await publishWithKey("fc-pause");
    await client.flowControl.pause("fc-pause");
    expect((await client.flowControl.get("fc-pause")).isPaused).toBe(true);
    await client.flowControl.resume("fc-pause");
    expect((await client.flowControl.get("fc-pause")).isPaused).toBe(false);
  });

  it("pin both settings, read them back pinned, unpin both", async () => {
    await publishWithKey("fc-pin");
    await client.flowControl.pin("fc-pin", { parallelism: 3, rate: 20, period: 120 });
    expect(await client.flowControl.get("fc-pin")).toMatchObject({
      isPinnedParallelism: true,
      isPinnedRate: true,
      parallelismMax: 3,
      rateMax: 20,
      ratePeriod: 120,
    });
    await client.flowControl.unpin("fc-pin", { parallelism: true, rate: true });
    expect(await client.flowControl.get("fc-pin")).toMatchObject({ isPinnedParallelism: false, isPinnedRate: false });
  });

  it("unpin one setting and keep the other pinned", async () => {
    await publishWithKey("fc-unpin-single");
    await client.flowControl.pin("fc-unpin-single", { parallelism: 3, rate: 20, period: 120 });
    await client.flowControl.unpin("fc-unpin-single", { parallelism: true });
    expect(await client.flowControl.get("fc-unpin-single")).toMatchObject({
      isPinnedParallelism: false,
      isPinnedRate: true,
    });
  });

  it("resetRate brings the rate count back to 0, and lets the waiting message go", async () => {
    // A rate of one a minute: the first message is delivered and counted, the second waits for the next period.
    const flowControl = { key: "fc-reset", rate: 1, period: "1m" } as const;
    const before = destination.deliveries.length;
    await client.publish({ url: later("/reset"), body: "1", flowControl });
    const { messageId } = await client.publish({ url: later("/reset"), body: "2", flowControl });
    await destination.waitFor(before + 1);
    await expect.poll(async () => (await client.flowControl.get("fc-reset")).rateCount).toBe(1);
    expect(destination.deliveries.length).toBe(before + 1);
    await client.flowControl.resetRate("fc-reset");
    expect((await client.flowControl.get("fc-reset")).rateCount).toBeLessThanOrEqual(1);
    const [second] = (await destination.waitFor(before + 2)).slice(before + 1);
    expect(second?.headers["upstash-message-id"]).toBe(messageId);
  });
});

describe("logs, as the SDK's logs suite checks them", () => {
  it("logs and the deprecated events page with a cursor, the next page older than the first", async () => {
    for (let i = 0; i < 3; i++) await client.publish({ url: later(), body: String(i), delay: 60 });
    const first = await client.logs({ filter: { count: 1 } });
    expect(first.logs).toHaveLength(1);
    const second = await client.logs({ cursor: first.cursor, filter: { count: 1 } });
    expect(second.logs).toHaveLength(1);
    expect(second.logs[0]?.time).toBeLessThanOrEqual(first.logs[0]?.time ?? 0);
    expect(Number(second.cursor)).toBeLessThan(Number(first.cursor));
    const events = await client.events({ filter: { count: 1 } });
    expect(Array.isArray(events.events)).toBe(true);
    expect(events.events).toHaveLength(1);
  });
});

describe("the DLQ, as the SDK's DLQ suite checks it", () => {
  it("a failed message is found by its id and by its label, and deleted singly", async () => {
    const label = `dlq-label-${Date.now()}`;
    const { messageId } = await client.publish({ url: later("/broken/123/?asdasd=ooo"), retries: 0, label });
    const [entry] = await dlqOf(messageId);
    expect(entry?.messageId).toBe(messageId);
    const byLabel = await client.dlq.listMessages({ filter: { label } });
    expect(byLabel.messages.map((message) => message.label)).toEqual([label]);
    await client.dlq.delete(entry?.dlqId ?? "");
    expect((await client.dlq.listMessages({ filter: { messageId } })).messages).toEqual([]);
  });

  it("filters by URL group (the SDK sends urlGroup and topicName both)", async () => {
    await client.urlGroups.addEndpoints({
      name: "someUrlGroup",
      endpoints: [{ name: "myEndpoint", url: later("/broken/789/?asdasd=ooo") }],
    });
    const [published] = await client.publish({ urlGroup: "someUrlGroup", retries: 0 });
    const result = await until("the group's dead letter", async () => {
      const { messages } = await client.dlq.listMessages({ filter: { urlGroup: "someUrlGroup" } });
      return messages.length > 0 ? messages : undefined;
    });
    expect(result.map((message) => message.messageId)).toEqual([published?.messageId]);
    await client.dlq.delete(result[0]?.dlqId ?? "");
    await client.urlGroups.delete("someUrlGroup");
  });

  it("a dead letter keeps its flow control and retry delay", async () => {
    const retryDelay = "2000 * retried";
    const { messageId } = await client.publish({
      url: later("/broken/400"),
      body: "hello",
      retries: 0,
      flowControl: { key: "flow-key", parallelism: 10, ratePerSecond: 5, period: "1d" },
      retryDelay,
    });
    const [message] = await dlqOf(messageId);
    expect(message).toMatchObject({
      flowControlKey: "flow-key",
      parallelism: 10,
      ratePerSecond: 5,
      rate: 5,
      period: 86_400,
      retryDelayExpression: retryDelay,
    });
  });
});

describe("URL groups, as the SDK's URL-group suite checks them", () => {
  it("add endpoints, get the group with them, add one more, list, delete", async () => {
    const endpoint = { name: "urlGroup1", url: later("/one") };
    const endpoint1 = { name: "urlGroup2", url: later("/two") };
    await client.urlGroups.addEndpoints({ endpoints: [endpoint], name: "my-proxy-url-group" });
    expect((await client.urlGroups.get("my-proxy-url-group")).endpoints).toContainEqual(endpoint);
    await client.urlGroups.addEndpoints({ name: "my-proxy-url-group", endpoints: [endpoint1] });
    const group = (await client.urlGroups.list()).find((listed) => listed.name === "my-proxy-url-group");
    expect(group?.endpoints).toContainEqual(endpoint);
    expect(group?.endpoints).toContainEqual(endpoint1);
    await client.urlGroups.delete("my-proxy-url-group");
    await expect(client.urlGroups.get("my-proxy-url-group")).rejects.toMatchObject({ status: 404 });
  });
});
