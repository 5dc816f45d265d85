// The local Redis's gateway alone, on a clock moved by hand: expiry to the millisecond, the bounded sweep,
// the key cap, transactions, and the write records that rebuild the same keyspace when replayed.
import { describe, expect, test } from "vitest";
import { type Outcome, RedisGateway, SWEEP_BUDGET, SWEEP_INTERVAL_MS, type WriteRecord } from "../src/redis/index.js";
import { ManualClock } from "../src/time.js";

const START = Date.UTC(2030, 0, 1);

function gateway(options: { maxKeys?: number } = {}) {
  const clock = new ManualClock(START);
  const batches: WriteRecord[][] = [];
  const redis = new RedisGateway({ clock, ...options, onWrite: (records) => void batches.push(records) });
  const run = (text: string) => redis.execute(text.split(" "));
  return { clock, redis, batches, run, records: () => batches.flat() };
}

const result = (outcome: Outcome) => ("result" in outcome ? outcome.result : outcome);

describe("expiry", () => {
  test("a key is there until the millisecond it expires, then gone for every command", () => {
    const { clock, run } = gateway();
    run("SET k v PX 1000");
    run("HSET h f v");
    run("PEXPIRE h 1000");
    clock.advance(999);
    expect([run("GET k"), run("PTTL k"), run("HGET h f")].map(result)).toEqual(["v", 1, "v"]);
    clock.advance(1);
    expect([run("GET k"), run("EXISTS k h"), run("TTL k"), run("HGETALL h")].map(result)).toEqual([null, 0, -2, []]);
  });

  test("keys nobody reads again are freed by the sweep, at most SWEEP_BUDGET per sweep", () => {
    const { clock, redis, run } = gateway();
    redis.start();
    const count = SWEEP_BUDGET * 2 + 10;
    for (let index = 0; index < count; index++) run(`SET k${index} v PX 10`);
    run("SET forever v");
    expect(redis.size).toBe(count + 1);
    clock.advance(SWEEP_INTERVAL_MS);
    expect(redis.size).toBe(count + 1 - SWEEP_BUDGET);
    clock.advance(SWEEP_INTERVAL_MS * 2);
    expect(redis.size).toBe(1);
    redis.stop();
    run("SET late v PX 10");
    clock.advance(SWEEP_INTERVAL_MS * 5);
    expect(redis.size).toBe(2);
  });

  test("the sweep keeps keys whose time has not come, and still reaches the ones behind them", () => {
    const { clock, redis, run } = gateway();
    for (let index = 0; index < SWEEP_BUDGET; index++) run(`SET later${index} v EX 3600`);
    run("SET soon v PX 10");
    clock.advance(100);
    expect(redis.sweep()).toBe(0);
    expect(redis.sweep()).toBe(1);
    expect(redis.size).toBe(SWEEP_BUDGET);
  });

  test("XADD * takes its id from the clock, and the next id in the same millisecond", () => {
    const { clock, run } = gateway();
    expect(result(run("XADD s * f 1"))).toBe(`${START}-0`);
    expect(result(run("XADD s * f 2"))).toBe(`${START}-1`);
    clock.advance(5);
    expect(result(run("XADD s * f 3"))).toBe(`${START + 5}-0`);
    expect(result(run(`XADD s ${START + 5}-* f 4`))).toBe(`${START + 5}-1`);
  });
});

describe("caps", () => {
  test("a new key over the cap is refused with an error naming the cap; existing keys still change", () => {
    const { run } = gateway({ maxKeys: 2 });
    run("SET a 1");
    run("HSET b f v");
    expect(run("SET c 1")).toEqual({ error: expect.stringMatching(/^OOM .*at most 2 keys \(MAX_KEYS\)/) });
    expect(run("XADD c 1-1 f v")).toEqual({ error: expect.stringMatching(/^OOM /) });
    expect(result(run("EXISTS c"))).toBe(0);
    expect([run("SET a 2"), run("HSET b g w"), run("INCR a")].map(result)).toEqual(["OK", 1, 3]);
  });
});

describe("transactions", () => {
  test("an unknown command or a wrong arity discards the whole transaction: nothing runs, nothing is recorded", () => {
    const { redis, batches, run } = gateway();
    expect(
      redis.transaction([
        ["SET", "a", "1"],
        ["LPUSH", "l", "x"],
      ]),
    ).toEqual({
      error: "ERR unknown command 'LPUSH', with args beginning with: 'l' 'x' ",
    });
    expect(redis.transaction([["SET", "a", "1"], ["GET"]])).toEqual({
      error: "ERR wrong number of arguments for 'get' command",
    });
    expect(result(run("GET a"))).toBeNull();
    expect(batches).toEqual([]);
  });

  test("an error while running answers that command alone; the others apply and are recorded as one batch", () => {
    const { redis, batches } = gateway();
    const outcomes = redis.transaction([
      ["SET", "a", "1"],
      ["HGET", "a", "f"],
      ["INCR", "a"],
    ]);
    expect(outcomes).toEqual([
      { result: "OK" },
      { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: 2 },
    ]);
    expect(batches).toEqual([
      [
        { at: START, command: ["SET", "a", "1"] },
        { at: START, command: ["INCR", "a"] },
      ],
    ]);
  });
});

describe("write records", () => {
  test("reads and writes that change nothing are not recorded", () => {
    const { run, records } = gateway();
    run("SET a 1");
    const before = records().length;
    expect(before).toBe(1); // the write that changed something was recorded
    for (const command of ["GET a", "SET a 2 NX", "DEL missing", "EXPIRE a 10 XX", "HDEL h f", "ZREM z m", "TTL a"])
      run(command);
    run("XADD s NOMKSTREAM * f v");
    expect(records().length).toBe(before);
  });

  test("relative times are recorded as absolute ones, and XADD * as the id it gave", () => {
    const { run, records } = gateway();
    run("SET a 1 EX 10");
    run("SET b 1 PX 500 GET");
    run("EXPIRE a 20 GT");
    run("XADD s MAXLEN ~ 5 * f v");
    expect(records().map((record) => record.command)).toEqual([
      ["SET", "a", "1", "PXAT", String(START + 10_000)],
      ["SET", "b", "1", "PXAT", String(START + 500)],
      ["PEXPIREAT", "a", String(START + 20_000)],
      ["XADD", "s", "MAXLEN", "~", "5", "LIMIT", "10000", `${START}-0`, "f", "v"],
    ]);
  });

  test("replaying the records (through JSON) rebuilds the same keyspace, with what expired meanwhile gone", () => {
    const { clock, redis, run, records } = gateway();
    run("SET s v EX 100");
    run("INCR n");
    run("HSET h f 1 g 2");
    run("HINCRBY h f 5");
    run("HDEL h g");
    run("HSETNX h k v");
    run("XADD x MAXLEN 3 * a 1");
    clock.advance(1);
    run("XADD x * a 2");
    run("ZADD z 1 a 2 b 3 c");
    run("ZREM z b");
    // A hash written to after its expiry was set, then expired: a replay must not bring it back.
    run("HSET gone f v");
    run("PEXPIRE gone 1000");
    clock.advance(500);
    run("HSET gone g w");
    run("SET temp v PX 100");
    run("DEL n");
    run("SET n 10 KEEPTTL");
    run("SETEX p 1 v");
    run("PERSIST p");
    clock.advance(600);
    run("EXPIRE s 50 LT");

    const replayed = new RedisGateway({ clock });
    replayed.restore(JSON.parse(JSON.stringify(records())) as WriteRecord[]);
    const view = (source: RedisGateway) =>
      [
        "GET s",
        "PTTL s",
        "GET n",
        "PTTL n",
        "HGETALL h",
        "XRANGE x - +",
        "ZRANGE z 0 -1 WITHSCORES",
        "EXISTS gone temp",
        "TTL p",
      ].map((text) => result(source.execute(text.split(" "))));
    expect(view(redis)).toEqual([
      "v",
      50_000,
      "10",
      -1,
      ["f", "6", "k", "v"],
      [
        [`${START}-0`, ["a", "1"]],
        [`${START + 1}-0`, ["a", "2"]],
      ],
      ["a", "1", "c", "3"],
      0,
      -1,
    ]);
    expect(view(replayed)).toEqual(view(redis));
  });

  test("a snapshot rebuilds the live keyspace from one record per key and stream entry, expired keys left out", () => {
    const { clock, redis, run, records } = gateway();
    for (let round = 0; round < 20; round++) run(`HINCRBY h n ${round}`);
    run("HSET h text v");
    run("EXPIRE h 3600");
    run("SET s v PX 5000");
    run("SET gone v PX 10");
    run("ZADD z 1.5 a inf b -3 c");
    run("XADD x * f 1");
    run("XADD x MAXLEN 1 * f 2");
    run("XADD trimmed MAXLEN 0 * f v");
    run("XADD moved 5-1 f v");
    run("XSETID moved 9-0");
    clock.advance(100);

    const snapshot = redis.snapshot();
    expect(snapshot.length).toBeLessThan(records().length / 2);
    expect(snapshot.some((record) => record.command[1] === "gone")).toBe(false);
    const rebuilt = new RedisGateway({ clock });
    rebuilt.restore(JSON.parse(JSON.stringify(snapshot)) as WriteRecord[]);
    const view = (source: RedisGateway) =>
      [
        "HGETALL h",
        "PTTL h",
        "GET s",
        "PTTL s",
        "ZRANGE z 0 -1 WITHSCORES",
        "XRANGE x - +",
        "XLEN trimmed",
        `XADD trimmed ${START}-* f v`,
        `XADD x ${START}-* f 3`,
        "XADD moved 9-* f v",
        "EXISTS gone",
      ].map((text) => result(source.execute(text.split(" "))));
    const expected = view(redis);
    expect(expected).toEqual([
      ["n", "190", "text", "v"],
      3_600_000 - 100,
      "v",
      4900,
      ["c", "-3", "a", "1.5", "b", "inf"],
      [[`${START}-1`, ["f", "2"]]],
      0,
      `${START}-1`,
      `${START}-2`,
      "9-1",
      0,
    ]);
    expect(view(rebuilt)).toEqual(expected);
  });

  test("a record that cannot be replayed stops the restore, naming it", () => {
    const redis = new RedisGateway({ clock: new ManualClock(START) });
    expect(() =>
      redis.restore([
        { at: START, command: ["SET", "a", "1"] },
        { at: START, command: ["HSET", "a", "f", "v"] },
      ]),
    ).toThrow("Redis write 1 (HSET) could not be replayed: WRONGTYPE");
  });
});
