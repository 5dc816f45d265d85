// The real @upstash/redis client, unchanged, against the local Redis on 127.0.0.1: single commands, its
// automatic pipelining, pipelines, transactions, base64 responses (its default), and refused tokens; then
// the REST protocol's other forms and limits, spoken with plain fetch.
import { Redis } from "@upstash/redis";
import { describe, expect, test } from "vitest";
import { rawRequest } from "../../../testkit/raw-request.js";
import { MAX_PIPELINE_COMMANDS, RedisGateway, redisHandler } from "../src/redis/index.js";
import { ManualClock } from "../src/time.js";
import { REDIS_TOKEN, startStandIn } from "./redis-support.js";

const client = (url: string, token = REDIS_TOKEN, options: { enableAutoPipelining?: boolean } = {}) =>
  new Redis({ url, token, retry: false, enableTelemetry: false, ...options });

/** A raw request to the stand-in, answered as status and parsed JSON. */
async function call(url: string, init: RequestInit & { token?: string | null } = {}) {
  const { token = REDIS_TOKEN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  const response = await fetch(url, { method: "POST", ...rest, headers });
  return { status: response.status, body: (await response.json()) as unknown };
}

describe("@upstash/redis works against the local Redis unchanged", () => {
  test("strings, JSON values and text beyond ASCII round-trip through base64 responses; options reach the server", async () => {
    const { url, clock } = await startStandIn();
    const redis = client(url);
    expect(await redis.set("greeting", "héllo ✓ 👋")).toBe("OK");
    expect(await redis.get("greeting")).toBe("héllo ✓ 👋");
    await redis.set("run", { status: "queued", attempt: 0 }, { ex: 60 });
    expect(await redis.get("run")).toEqual({ status: "queued", attempt: 0 });
    expect(await redis.ttl("run")).toBe(60);
    expect(await redis.set("run", "taken", { nx: true })).toBeNull();
    expect(await redis.set("once", "first", { nx: true, get: true })).toBeNull();
    expect(await redis.incr("counter")).toBe(1);
    expect(await redis.mget("greeting", "missing", "counter")).toEqual(["héllo ✓ 👋", null, 1]);
    clock.advance(60_000);
    expect(await redis.get("run")).toBeNull();
    expect(await redis.exists("run", "greeting")).toBe(1);
    expect(await redis.ping()).toBe("PONG");
  });

  test("hashes, streams and sorted sets, as a run store uses them", async () => {
    const { url, clock } = await startStandIn();
    const redis = client(url);
    expect(await redis.hset("run:1", { status: "running", attempt: 1 })).toBe(2);
    expect(await redis.hsetnx("run:1", "finishedAt", 5)).toBe(1);
    expect(await redis.hsetnx("run:1", "finishedAt", 6)).toBe(0);
    expect(await redis.hincrby("run:1", "attempt", 1)).toBe(2);
    expect(await redis.hget("run:1", "status")).toBe("running");
    expect(await redis.hmget("run:1", "status", "nope")).toEqual({ status: "running", nope: null });
    expect(await redis.hgetall("run:1")).toEqual({ status: "running", attempt: 2, finishedAt: 5 });
    expect(await redis.hdel("run:1", "finishedAt")).toBe(1);
    expect(await redis.expire("run:1", 100, "GT")).toBe(0);
    expect(await redis.pexpire("run:1", 100_000)).toBe(1);
    expect(await redis.pttl("run:1")).toBe(100_000);

    const first = await redis.xadd("events:1", "*", { kind: "progress", value: "10%" });
    clock.advance(3);
    const second = await redis.xadd(
      "events:1",
      "*",
      { kind: "progress", value: "20%" },
      { trim: { type: "MAXLEN", threshold: 10, comparison: "~" } },
    );
    expect(first).toMatch(/^\d+-0$/);
    expect(Number(second.split("-")[0]) - Number(first.split("-")[0])).toBe(3);
    expect(await redis.xlen("events:1")).toBe(2);
    expect(await redis.xrange("events:1", "-", "+")).toEqual({
      [first]: { kind: "progress", value: "10%" },
      [second]: { kind: "progress", value: "20%" },
    });
    expect(Object.keys(await redis.xrevrange("events:1", "+", "-", 1))).toEqual([second]);

    await redis.zadd(
      "runs:app",
      { score: 1, member: "run:1" },
      { score: 3, member: "run:3" },
      { score: 2, member: "run:2" },
    );
    expect(await redis.zrange("runs:app", "+inf", "-inf", { byScore: true, rev: true, offset: 0, count: 2 })).toEqual([
      "run:3",
      "run:2",
    ]);
    expect(await redis.zrange("runs:app", 0, -1, { withScores: true })).toEqual(["run:1", 1, "run:2", 2, "run:3", 3]);
    expect(await redis.zrem("runs:app", "run:1")).toBe(1);
    expect(await redis.zcard("runs:app")).toBe(2);
    expect(await redis.zscore("runs:app", "run:3")).toBe(3);
    expect(await redis.del("run:1", "events:1", "runs:app")).toBe(3);
  });

  test("errors come back in Redis's words", async () => {
    const { url } = await startStandIn();
    const redis = client(url, REDIS_TOKEN, { enableAutoPipelining: false });
    await redis.set("text", "v");
    await expect(redis.hget("text", "f")).rejects.toThrow(
      "WRONGTYPE Operation against a key holding the wrong kind of value",
    );
    await expect(redis.incr("text")).rejects.toThrow("ERR value is not an integer or out of range");
    await expect(redis.lpush("list", "x")).rejects.toThrow(
      "ERR unknown command 'lpush', with args beginning with: 'list' 'x'",
    );
  });

  test("a pipeline answers each command in order, an error in its place", async () => {
    const { url } = await startStandIn();
    const redis = client(url);
    const answers = await redis.pipeline().set("a", "1").hget("a", "f").incr("a").get("a").exec({ keepErrors: true });
    expect(answers).toEqual([
      { result: "OK", error: undefined },
      { result: undefined, error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: 2, error: undefined },
      { result: 2, error: undefined },
    ]);
  });

  test("a transaction applies together; a command that fails while running fails alone", async () => {
    const { url } = await startStandIn();
    const redis = client(url);
    expect(await redis.multi().set("a", "1").incr("a").hset("h", { f: "v" }).exec()).toEqual(["OK", 2, 1]);
    await expect(redis.multi().set("b", "1").hget("b", "f").set("c", "1").exec()).rejects.toThrow("WRONGTYPE");
    expect(await redis.mget("b", "c")).toEqual([1, 1]);
  });

  test("an empty token is refused when the handler is made, so no request without one gets in", () => {
    const gateway = new RedisGateway({ clock: new ManualClock() });
    expect(() => redisHandler(gateway, { token: "" })).toThrow(
      "the local Redis needs a token (QJOBS_REDIS_REST_TOKEN)",
    );
  });

  test("a missing or wrong token is refused with 401, and nothing runs", async () => {
    const { url, gateway } = await startStandIn();
    await expect(client(url, "wrong-token").set("a", "1")).rejects.toThrow(/unauthorized/i);
    expect(await call(url, { token: null, body: JSON.stringify(["SET", "a", "1"]) })).toEqual({
      status: 401,
      body: { error: expect.stringMatching(/^ERR unauthorized: pass QJOBS_REDIS_REST_TOKEN/) },
    });
    expect(await call(`${url}/set/a/1?_token=wrong`, { token: null, method: "GET" })).toMatchObject({ status: 401 });
    expect(gateway.size).toBe(0);
  });
});

describe("the Upstash REST protocol", () => {
  test("the path form: arguments as segments, a POST body as the last one, query parameters after it", async () => {
    const { url } = await startStandIn();
    expect(await call(`${url}/set/path%20key/bar`, { method: "GET" })).toEqual({ status: 200, body: { result: "OK" } });
    expect(await call(`${url}/get/path%20key`, { method: "GET" })).toEqual({ status: 200, body: { result: "bar" } });
    expect(await call(`${url}/set/posted?EX=100`, { body: '{"a": "b c"}' })).toEqual({
      status: 200,
      body: { result: "OK" },
    });
    expect(await call(`${url}/get/posted?_token=${REDIS_TOKEN}`, { token: null, method: "GET" })).toEqual({
      status: 200,
      body: { result: '{"a": "b c"}' },
    });
    expect((await call(`${url}/ttl/posted`, { method: "GET" })).body).toEqual({ result: 100 });
    expect(await call(`${url}/get`, { method: "GET" })).toEqual({
      status: 400,
      body: { error: "ERR wrong number of arguments for 'get' command" },
    });
  });

  test("Upstash-Encoding: base64 encodes every string at any depth, but not OK and not errors", async () => {
    const { url } = await startStandIn();
    const base64 = { "upstash-encoding": "base64" };
    const encode = (text: string) => Buffer.from(text).toString("base64");
    expect((await call(url, { headers: base64, body: '["SET","k","v"]' })).body).toEqual({ result: "OK" });
    await call(url, { body: '["XADD","s","1-1","field","välue"]' });
    expect((await call(url, { headers: base64, body: '["XRANGE","s","-","+"]' })).body).toEqual({
      result: [[encode("1-1"), [encode("field"), encode("välue")]]],
    });
    expect(
      (await call(`${url}/pipeline`, { headers: base64, body: '[["PING"],["XLEN","s"],["GET","s"]]' })).body,
    ).toEqual([
      { result: encode("PONG") },
      { result: 1 },
      { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
    ]);
  });

  test("a transaction with an unknown command is discarded whole: one 400 error, nothing applied", async () => {
    const { url } = await startStandIn();
    expect(await call(`${url}/multi-exec`, { body: '[["SET","a","1"],["NOPE","x"]]' })).toEqual({
      status: 400,
      body: { error: "ERR unknown command 'NOPE', with args beginning with: 'x' " },
    });
    expect((await call(url, { body: '["EXISTS","a"]' })).body).toEqual({ result: 0 });
  });

  test("bad requests are refused with a clear error: not JSON, not a command, a wrong method", async () => {
    const { url } = await startStandIn();
    expect(await call(url, { body: "SET a 1" })).toEqual({
      status: 400,
      body: { error: "ERR the request body is not valid JSON" },
    });
    expect(await call(url, { body: '["SET","a",{"x":1}]' })).toEqual({
      status: 400,
      body: { error: 'ERR the command: argument 2 must be a string or a number, not {"x":1}' },
    });
    expect(await call(`${url}/pipeline`, { body: '[["PING"],"PING"]' })).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^ERR command 1 must be a non-empty JSON array/) },
    });
    expect(await call(`${url}/set/a/1`, { method: "DELETE" })).toMatchObject({
      status: 405,
      body: { error: "ERR DELETE is not allowed on /set/a/1: use HEAD, GET, POST, PUT" },
    });
  });

  test("caps: a body over the size limit is 413 and a pipeline over MAX_PIPELINE_COMMANDS is 400, nothing run", async () => {
    const { url, gateway } = await startStandIn({ router: { maxRequestBytes: 1024 } });
    const large = await call(url, { body: JSON.stringify(["SET", "big", "x".repeat(2048)]) });
    expect(large).toEqual({
      status: 413,
      body: { error: "ERR max request size exceeded: the body is over 1024 bytes" },
    });
    const { url: other } = await startStandIn();
    const commands = Array.from({ length: MAX_PIPELINE_COMMANDS + 1 }, (_, index) => ["SET", `k${index}`, "v"]);
    expect(await call(`${other}/pipeline`, { body: JSON.stringify(commands) })).toEqual({
      status: 400,
      body: { error: `ERR at most ${MAX_PIPELINE_COMMANDS} commands may be sent at once (MAX_PIPELINE_COMMANDS)` },
    });
    expect(gateway.size).toBe(0);
  });

  test("a web page cannot reach it: another Origin or a DNS-rebinding Host is refused, even with the token", async () => {
    const { url, gateway } = await startStandIn();
    const fromPage = await call(url, { headers: { origin: "https://evil.example" }, body: '["SET","a","1"]' });
    expect(fromPage).toMatchObject({
      status: 403,
      body: { error: expect.stringMatching(/Origin .* is not this server's/) },
    });
    const { port, pathname } = new URL(url);
    const rebound = await rawRequest(Number(port), {
      path: pathname,
      headers: { host: `rebind.evil.example:${port}`, authorization: `Bearer ${REDIS_TOKEN}` },
      body: '["SET","a","1"]',
    });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).error).toMatch(/Host "rebind\.evil\.example:\d+" is not a loopback address/);
    expect(gateway.size).toBe(0);
  });

  test("mounted under /redis, it leaves every other path to the server it is mounted in", async () => {
    const { url } = await startStandIn();
    const beside = await fetch(url.replace(/\/redis$/, "/v2/publish"), { method: "POST" });
    expect([beside.status, await beside.text()]).toEqual([404, "not the local Redis"]);
    const lookalike = await fetch(`${url}x/get/a`);
    expect(lookalike.status).toBe(404);
  });
});
