// The local Redis in the shared journal (issue 23): a request's writes are one journal line, so a crash
// mid-write keeps a transaction whole or drops it whole; a compaction by one service keeps the other's state.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Engine } from "../src/qstash/gateway.js";
import { startLocalRedis } from "../src/redis/index.js";
import { openJournal, shareJournal } from "../src/state.js";
import { ManualClock } from "../src/time.js";

const folders: string[] = [];
afterEach(async () => {
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function open(lines: string) {
  const dir = await mkdtemp(join(tmpdir(), "qjobs-redis-journal-"));
  folders.push(dir);
  await writeFile(join(dir, "journal.jsonl"), lines, { mode: 0o600 });
  const journal = openJournal(dir, dir);
  const shared = shareJournal(journal.store);
  const clock = new ManualClock(1_000);
  const redis = await startLocalRedis({
    port: 0,
    token: "t",
    clock,
    journal: { records: journal.records, section: shared.section },
  });
  return { dir, journal, shared, redis, clock };
}

const write = (at: number, ...command: string[]) => ({ at, command });

describe("the local Redis in the journal", () => {
  it("a transaction cut by a crash mid-write is dropped whole; the writes before it stay", async () => {
    const complete = JSON.stringify({ k: "redis", w: [write(1_000, "SET", "a", "1")] });
    const transaction = JSON.stringify({
      k: "redis",
      w: [write(1_000, "SET", "b", "2"), write(1_000, "SET", "c", "3")],
    });
    const { journal, redis } = await open(`${complete}\n${transaction.slice(0, transaction.length - 20)}`);
    try {
      expect(journal.notice.cut).toBe(true);
      expect(redis.gateway.execute(["MGET", "a", "b", "c"])).toEqual({ result: ["1", null, null] });
    } finally {
      await redis.close();
      journal.store.close();
    }
  });

  it("the Redis's writes do not count toward the QStash engine's compaction (each compacts on its own traffic)", async () => {
    const { shared, redis, journal } = await open("");
    const engineStore = shared.section(() => []);
    try {
      engineStore.append({ k: "gone", id: "msg_1" });
      const before = engineStore.size;
      for (let i = 0; i < 50; i++) redis.gateway.execute(["SET", `k${i}`, "v"]);
      expect(engineStore.size).toBe(before);
      expect(journal.store.size).toBe(before + 50); // they are in the journal, all the same
    } finally {
      await redis.close();
      journal.store.close();
    }
  });

  it("a compaction by the QStash engine keeps the Redis keys: each section writes the others' live records too", async () => {
    const { dir, shared, redis, clock } = await open("");
    const engineStore = shared.section(() => engine.journalRecords());
    const engine: Engine = new Engine({
      clock,
      deliver: () => new Promise(() => {}),
      retryScale: 1,
      store: engineStore,
    });
    try {
      redis.gateway.execute(["SET", "kept", "yes"]);
      engine.createSchedule("0 * * * *", {
        url: "http://127.0.0.1:1/api/jobs",
        method: "POST",
        headers: {},
        body: Buffer.alloc(0),
        delayMs: 0,
        maxRetries: 0,
        labels: [],
        callerIp: "127.0.0.1",
      });
      // What the engine does when its journal outgrows its state: compact with its own live records.
      engineStore.compact([...engine.journalRecords()]);
      const text = await readFile(join(dir, "journal.jsonl"), "utf8");
      expect(text).toContain('"k":"schedule"');
      // The compacted journal, opened again, gives the Redis key back (a line with an empty snapshot would not).
      const reopened = await open(text);
      try {
        expect(reopened.redis.gateway.execute(["GET", "kept"])).toEqual({ result: "yes" });
      } finally {
        await reopened.redis.close();
        reopened.journal.store.close();
      }
    } finally {
      await redis.close();
      engine.stop();
    }
  });
});
