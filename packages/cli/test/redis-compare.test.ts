// The local Redis against a real redis-server: the same command sequences sent to both, every reply (and
// every error, word for word) compared. Expiry is driven by the stand-in's clock and, on the real server, by
// waiting (polled, bounded) for keys given a few milliseconds to live.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { until } from "../../../testkit/processes.js";
import type { Outcome } from "../src/redis/index.js";
import { type RealRedis, redisServerInstalled, type StandIn, startRealRedis, startStandIn } from "./redis-support.js";

/** A command (`"SET k v"`, split on spaces, or an array), a reply compared within `near`, or a wait for expiry. */
type Step = string | string[] | { near: number; command: string } | { wait: number; gone: string[] };

const requireRedis = process.env.CI === "true";
if (!redisServerInstalled && !requireRedis)
  console.warn(
    "redis-server is not installed: the comparison with a real Redis is skipped (apt-get install -y redis-server)",
  );

describe.skipIf(!redisServerInstalled && !requireRedis)("the local Redis answers as a real Redis does", () => {
  let real: { redis: RealRedis; stop: () => Promise<void> } | undefined;
  beforeAll(async () => {
    real = await startRealRedis();
  });
  afterAll(() => real?.stop());
  beforeEach(async () => {
    await real?.redis.send(["FLUSHALL"]);
  });

  /** Runs the steps on both and expects the same transcript: command by command, reply by reply. */
  async function compare(steps: (now: number) => Step[]): Promise<void> {
    const redis = real as { redis: RealRedis };
    const now = Date.now();
    const standIn: StandIn = await startStandIn({ start: now });
    const expected: [string, Outcome][] = [];
    const actual: [string, Outcome][] = [];
    for (const step of steps(now)) {
      if (typeof step === "object" && "wait" in step) {
        standIn.clock.advance(step.wait);
        await until(`${step.gone.join(", ")} to expire on redis-server`, async () => {
          const left = await redis.redis.send(["EXISTS", ...step.gone]);
          return "result" in left && left.result === 0 ? true : undefined;
        });
        continue;
      }
      // The stand-in's time keeps up with the real server's, so absolute times (EXAT, PXAT) mean the same to both.
      standIn.clock.advance(Math.max(0, Date.now() - standIn.clock.now()));
      const text = typeof step === "object" && !Array.isArray(step) ? step.command : step;
      const command = Array.isArray(text) ? text : text.split(" ");
      const [fromRedis, fromStandIn] = [await redis.redis.send(command), await standIn.send(command)];
      const label = JSON.stringify(command);
      if (typeof step === "object" && "near" in step) {
        const [a, b] = [fromRedis, fromStandIn].map((outcome) => ("result" in outcome ? outcome.result : outcome));
        expect(
          typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= step.near,
          `${label}: ${a} vs ${b}`,
        ).toBe(true);
        continue;
      }
      expected.push([label, fromRedis]);
      actual.push([label, fromStandIn]);
    }
    expect(actual).toEqual(expected);
  }

  test("strings: GET, SET with every option, MGET, INCR, and their errors", async () => {
    await compare((now) => [
      "GET missing",
      "SET s v",
      "GET s",
      "SET s w GET",
      "SET s x NX",
      "SET s x XX GET",
      "SET n 1 XX",
      "SET n 1 NX GET",
      "SET n 2 nx",
      "GET n",
      "SET s v EX 0",
      "SET s v EX abc",
      "SET s v PX -5",
      "SET s v NX XX",
      "SET s v EX 10 PX 100",
      "SET s v KEEPTTL EX 10",
      "SET s v EX 10 KEEPTTL",
      "SET s v EX",
      "SET s v BOGUS",
      "SET s v EX 10 EX 100",
      "TTL s",
      "SET s v2 KEEPTTL",
      "TTL s",
      "SET s v3",
      "TTL s",
      `SET s v PXAT ${now + 60_000}`,
      { near: 250, command: "PTTL s" },
      `SET s v EXAT ${Math.floor(now / 1000) + 3600}`,
      { near: 1250, command: "PTTL s" },
      "SET s v EX 9223372036854775807",
      "SET s",
      "INCR c",
      "INCR c",
      "SET c 9223372036854775806 EX 100",
      "INCR c",
      "INCR c",
      "TTL c",
      "SET c abc",
      "INCR c",
      "SET c 007",
      "INCR c",
      ["SET", "c", " 1"],
      "INCR c",
      "SET c -0",
      "INCR c",
      "INCR c x",
      "HSET h f v",
      "INCR h",
      "GET h",
      "SET h v GET",
      "MGET s missing h n",
      "SET h v",
      "GET h",
    ]);
  });

  test("keys: DEL, EXISTS, EXPIRE and PEXPIRE with NX/XX/GT/LT, EXPIREAT, PEXPIREAT, TTL, PTTL, PING", async () => {
    await compare((now) => [
      "SET a 1",
      "SET b 2",
      "EXISTS a a b missing",
      "DEL a a missing",
      "EXISTS a b",
      "EXPIRE missing 10",
      "TTL missing",
      "PTTL missing",
      "TTL b",
      "PTTL b",
      "EXPIRE b 100",
      "TTL b",
      "EXPIRE b 200 NX",
      "EXPIRE b 200 XX",
      "TTL b",
      "EXPIRE b 50 GT",
      "EXPIRE b 300 gt",
      "EXPIRE b 400 LT",
      "EXPIRE b 30 LT",
      "TTL b",
      "EXPIRE b 31 XX GT",
      "EXPIRE b 20 XX GT",
      "EXPIRE b 10 NX XX",
      "EXPIRE b 10 GT LT",
      "EXPIRE b 10 NX GT",
      "EXPIRE b 10 FOO",
      "EXPIRE b abc",
      "EXPIRE b 9223372036854775807",
      "PEXPIRE b 9223372036854775807",
      "EXPIRE b",
      "SET c 3",
      "EXPIRE c 10 GT",
      "EXPIRE c 10 XX",
      "EXPIRE c 10 LT",
      "TTL c",
      "PEXPIRE c 20000",
      { near: 250, command: "PTTL c" },
      `PEXPIREAT c ${now + 90_000}`,
      { near: 250, command: "PTTL c" },
      `EXPIREAT c ${Math.floor(now / 1000) + 7200}`,
      { near: 1250, command: "PTTL c" },
      `EXPIREAT c ${Math.floor(now / 1000) - 10}`,
      "EXISTS c",
      "SET d 4",
      "EXPIRE d -1",
      "GET d",
      "SET e 5",
      `PEXPIREAT e ${now - 1}`,
      "EXISTS e",
      "PING",
      "PING hello",
      "PING a b",
      "DEL",
      "TTL",
    ]);
  });

  test("unknown commands and wrong numbers of arguments are refused in Redis's words", async () => {
    await compare(() => [
      "FOO",
      "FOO a b",
      "foo a",
      ["FOO", "x".repeat(100), "y".repeat(100), "z"],
      ["BAD\r\nNAME", "line\nbreak"],
      "GET",
      "GET a b",
      "HSET h f",
      "HSET h f v g",
      "XADD x * f",
      "TTL a b",
      "sEt mixed case",
      "gEt mixed",
    ]);
  });

  test("hashes: HSET, HSETNX, HGET, HMGET, HGETALL, HDEL, HINCRBY, and WRONGTYPE", async () => {
    await compare(() => [
      "HSET h f1 v1 f2 v2",
      "HSET h f1 v9 f3 v3",
      "HGET h f1",
      "HGET h nope",
      "HGET missing f",
      "HGETALL h",
      "HGETALL missing",
      "HSETNX h f1 x",
      "HSETNX h f4 v4",
      "HDEL h f2 nope",
      "HGETALL h",
      "HSET h f2 again",
      "HGETALL h",
      "HMGET h f1 nope f3",
      "HMGET missing a b",
      "HINCRBY h n 5",
      "HINCRBY h n -7",
      "HINCRBY h f1 1",
      "HINCRBY h n abc",
      "HINCRBY h big 9223372036854775807",
      "HINCRBY h big 1",
      "HINCRBY new n 3",
      "HDEL h f1 f2 f3 f4 n big",
      "EXISTS h",
      "HDEL h f1",
      "SET s v",
      "HGET s f",
      "HSET s f v",
      "HSETNX s f v",
      "HGETALL s",
      "HDEL s f",
      "HINCRBY s f 1",
      "HINCRBY s f x",
      "HMGET s f",
    ]);
  });

  test("streams: XADD with explicit ids, MAXLEN and NOMKSTREAM, XRANGE, XREVRANGE, XLEN, and their errors", async () => {
    await compare(() => [
      "XADD x 1-1 a 1",
      "XADD x 1-1 a 2",
      "XADD x 1-* a 3",
      "XADD x 2 a 4 b 5",
      "XADD x 0-0 f v",
      "XADD y 0-0 f v",
      "EXISTS y",
      "XADD x abc f v",
      "XADD x + f v",
      "XADD x 1-0 f v",
      "XADD x 5-1 f",
      "XLEN x",
      "XRANGE x - +",
      "XRANGE x - + COUNT 1",
      "XRANGE x - + COUNT 0",
      "XRANGE x - + COUNT -3",
      "XRANGE x (1-1 +",
      "XRANGE x (1-2 (2-0",
      "XRANGE x 1 1",
      "XRANGE x 2 2",
      "XRANGE x + -",
      "XRANGE x - + COUNT",
      "XRANGE x - + FOO 1",
      "XRANGE x abc +",
      "XRANGE x ( +",
      "XRANGE x (- +",
      "XREVRANGE x + -",
      "XREVRANGE x + - COUNT 2",
      "XREVRANGE x (2-0 -",
      "XRANGE missing - +",
      "XLEN missing",
      "XADD x MAXLEN 2 6-1 f v",
      "XLEN x",
      "XADD x NOMKSTREAM 7-1 f v",
      "XADD z NOMKSTREAM * f v",
      "EXISTS z",
      "XADD x MAXLEN ~ 1 8-1 f v",
      "XLEN x",
      "XADD x MAXLEN = 1 9-1 f v",
      "XRANGE x - +",
      "XADD x MAXLEN -1 10-1 f v",
      "XADD x LIMIT 10 11-1 f v",
      "XADD x MAXLEN 5 LIMIT 10 11-1 f v",
      "XADD x MAXLEN 0 12-1 f v",
      "XLEN x",
      "EXISTS x",
      "XRANGE x - +",
      "XADD x 12-1 f v",
      "SET s v",
      "XADD s 1-1 f v",
      "XLEN s",
      "XRANGE s - +",
      "XREVRANGE s + -",
    ]);
  });

  test("streams: approximate trimming keeps whole nodes of 100 entries, as Redis does", async () => {
    const adds = Array.from({ length: 250 }, (_, index) => `XADD t MAXLEN ~ 120 ${index + 1}-1 f ${index}`);
    await compare(() => [
      ...adds,
      "XLEN t",
      "XRANGE t - + COUNT 2",
      "XADD t MAXLEN ~ 10 LIMIT 100 999-1 f v",
      "XLEN t",
    ]);
  });

  test("streams: approximate trimming counts a node's bytes too, so large entries trim almost exactly", async () => {
    const large = (size: number, count: number, maxlen: number) =>
      Array.from(
        { length: count },
        (_, index) => `XADD s${size} MAXLEN ~ ${maxlen} ${index + 1}-1 f ${"x".repeat(size)}`,
      );
    await compare(() => [...large(5000, 10, 3), "XLEN s5000", ...large(1500, 7, 4), "XLEN s1500"]);
  });

  test("sorted sets: ZADD with its options, ZRANGE by rank and BYSCORE with REV and LIMIT, ZREVRANGE, ZREM, ZCARD, ZSCORE", async () => {
    await compare(() => [
      "ZADD z 1 a 2 b 3 c",
      "ZADD z 1 a",
      "ZADD z CH 5 a",
      "ZADD z NX 9 a 4 d",
      "ZADD z XX 7 d 8 e",
      "ZSCORE z d",
      "ZADD z GT 6 d",
      "ZADD z GT CH 8 d",
      "ZADD z LT CH 10 d",
      "ZADD z INCR 2 a",
      "ZADD z XX INCR 1 nope",
      "ZADD z NX XX 1 a",
      "ZADD z GT LT 1 a",
      "ZADD z NX GT 1 a",
      "ZADD z INCR 1 a 2 b",
      "ZADD z abc a",
      "ZADD z 1",
      "ZADD z 1.5 f",
      "ZADD z inf g -inf h",
      "ZSCORE z g",
      "ZSCORE z h",
      "ZSCORE z nope",
      "ZCARD z",
      "ZRANGE z 0 -1",
      "ZRANGE z 0 -1 WITHSCORES",
      "ZRANGE z -2 -1",
      "ZRANGE z 5 1",
      "ZRANGE z 0 100",
      "ZRANGE z -100 1",
      "ZREVRANGE z 0 1 WITHSCORES",
      "ZREVRANGE z -3 -1",
      "ZRANGE z 2 7 BYSCORE",
      "ZRANGE z (2 7 BYSCORE",
      "ZRANGE z 2 (7 BYSCORE WITHSCORES",
      "ZRANGE z -inf +inf BYSCORE LIMIT 1 2",
      "ZRANGE z +inf -inf BYSCORE REV LIMIT 0 2 WITHSCORES",
      "ZRANGE z 7 2 BYSCORE REV",
      "ZRANGE z 0 -1 REV",
      "ZRANGE z -inf +inf BYSCORE LIMIT -1 5",
      "ZRANGE z -inf +inf BYSCORE LIMIT 10 5",
      "ZRANGE z -inf +inf BYSCORE LIMIT 2 -1",
      "ZRANGE z 0 -1 LIMIT 0 1",
      "ZRANGE z a b BYSCORE",
      "ZRANGE z 0 x",
      "ZRANGE z 0 1 REV REV",
      "ZRANGE z 0 1 FOO",
      "ZREVRANGE z 0 -1 BYSCORE",
      "ZREVRANGE z 0 -1 REV",
      "ZRANGE missing 0 -1",
      "ZRANGE missing a b",
      "ZADD t 1 b 1 a 1 c 0 z",
      "ZRANGE t 0 -1",
      "ZREM z a nope",
      "ZREM missing a",
      "ZCARD missing",
      "ZREM t a b c z",
      "EXISTS t",
      "SET s v",
      "ZADD s 1 a",
      "ZRANGE s 0 -1",
      "ZCARD s",
      "ZREM s a",
      "ZSCORE s a",
    ]);
  });

  test("every type expires on time: reads, writes and TTL after expiry", async () => {
    await compare(() => [
      "SET e v PX 40",
      "HSET eh f v",
      "PEXPIRE eh 40",
      "XADD ex 1-1 f v",
      "PEXPIRE ex 40",
      "ZADD ez 1 a",
      "PEXPIRE ez 40",
      "SET kept v PX 600000",
      { wait: 60, gone: ["e", "eh", "ex", "ez"] },
      "GET e",
      "EXISTS e eh ex ez kept",
      "TTL e",
      "PTTL eh",
      "HGETALL eh",
      "XLEN ex",
      "XRANGE ex - +",
      "ZCARD ez",
      "MGET e kept",
      "INCR e",
      "TTL e",
      "XADD ex 1-1 f v",
      "HSETNX eh f v",
      "EXPIRE eh 1 NX",
    ]);
  });
});
