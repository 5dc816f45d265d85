// qjobs dev keeps its state on disk: a restart or a crash (kill -9) loses no accepted message (issue 11).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startDestination } from "../../../testkit/destination.js";
import { until } from "../../../testkit/processes.js";
import { deliverHttp } from "../../local/src/qstash/deliver.js";
import { Engine } from "../../local/src/qstash/gateway.js";
import { startServer } from "../../local/src/qstash/server.js";
import { openJournal } from "../../local/src/state.js";
import { ManualClock } from "../../local/src/time.js";
import { localClient } from "./dev-support.js";
import { runCli, spawnCli } from "./support.js";

const folders: string[] = [];
afterEach(() => Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true }))));
const stateFolder = async () => {
  const dir = await mkdtemp(join(tmpdir(), "qjobs-state-test-"));
  folders.push(dir);
  return dir;
};

/** A qjobs dev engine and server over the journal in `dir`, and the real Client pointed at it. */
async function open(dir: string, clock: ManualClock) {
  const journal = openJournal(dir, dir);
  const engine = new Engine({
    clock,
    deliver: deliverHttp,
    retryScale: 0.0001,
    store: journal.store,
    restore: journal.records,
  });
  const server = await startServer(engine, { port: 0 });
  const client = localClient(server.url);
  return { engine, server, client };
}

describe("state that survives a restart", () => {
  it("keeps delayed messages, dead letters, schedules, queues, URL groups, paused flow keys and the log", async () => {
    const dir = await stateFolder();
    const clock = new ManualClock();
    const destination = await startDestination((delivery, response) =>
      delivery.target === "/doomed"
        ? response.writeHead(489, { "upstash-nonretryable-error": "true" }).end("no")
        : response.writeHead(200).end(),
    );
    try {
      const first = await open(dir, clock);
      const delayed = await first.client.publish({
        url: `${destination.url}/later`,
        body: "kept",
        delay: 60,
        label: "keep",
      });
      await first.client.publish({ url: `${destination.url}/doomed`, body: "{}" });
      await destination.waitFor(1);
      await first.engine.settled(); // the delayed message keeps it from ever being idle

      await first.client.schedules.create({
        destination: `${destination.url}/cron`,
        cron: "*/5 * * * *",
        scheduleId: "five",
      });
      await first.client.queue({ queueName: "orders" }).upsert({ parallelism: 2 });
      await first.client.urlGroups.addEndpoints({ name: "team", endpoints: [{ url: `${destination.url}/team` }] });
      await first.client.publish({
        url: `${destination.url}/fc`,
        body: "{}",
        delay: 3600,
        flowControl: { key: "tenant", parallelism: 1 },
      });
      await first.client.flowControl.pause("tenant");
      await first.server.close();

      const second = await open(dir, clock);
      expect((await second.client.messages.get(delayed.messageId)).labels).toEqual(["keep"]);
      expect((await second.client.dlq.listMessages()).messages.map((message) => message.url)).toEqual([
        `${destination.url}/doomed`,
      ]);
      expect((await second.client.schedules.get("five")).cron).toBe("*/5 * * * *");
      expect((await second.client.queue({ queueName: "orders" }).get()).parallelism).toBe(2);
      expect((await second.client.urlGroups.get("team")).endpoints).toHaveLength(1);
      expect((await second.client.flowControl.get("tenant")).isPaused).toBe(true);
      expect((await second.client.logs({ filter: { state: "FAILED" } })).logs).toHaveLength(1);
      // And it goes on: the delayed message is delivered when its time comes.
      clock.advance(60_000);
      await destination.waitFor(2);
      expect(destination.deliveries[1]?.headers["upstash-message-id"]).toBe(delayed.messageId);
      await second.server.close();
    } finally {
      await destination.close();
    }
  });

  it("--fresh starts empty", async () => {
    const dir = await stateFolder();
    const clock = new ManualClock();
    const first = await open(dir, clock);
    await first.client.publish({ url: "http://127.0.0.1:9/x", body: "{}", delay: 3600 });
    await first.server.close();
    const journal = openJournal(dir, dir, { fresh: true });
    expect(journal.records).toEqual([]);
    journal.store.close();
  });

  it("refuses a second server on the same state, naming the first one's process", async () => {
    const dir = await stateFolder();
    const first = spawnCli(["dev", "--port", "0", "--state-dir", dir]);
    await first.waitFor(/running at/);
    const second = await runCli(["dev", "--port", "0", "--state-dir", dir]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`Another qjobs dev (process ${first.child.pid}) is using the state in ${dir}`);
    expect(await first.stop()).toBe(0);
  });
});

/** How many messages the crash test sends: QJOBS_CRASH_MESSAGES (`pnpm bench:crash` sends 1,000). */
const MESSAGES = Number(process.env.QJOBS_CRASH_MESSAGES ?? 200);

describe("a crash loses nothing", () => {
  it(`${MESSAGES} messages in flight (some delayed, some failing into the DLQ), kill -9, restart: every one delivered or dead-lettered`, async () => {
    const dir = await stateFolder();
    const delivered = new Set<string>();
    // The app: /slow takes a while (so deliveries are in flight at the kill), /doomed fails for good.
    const destination = await startDestination((delivery, response) => {
      const id = String(delivery.headers["upstash-message-id"]);
      if (delivery.target.startsWith("/doomed"))
        return void response.writeHead(489, { "upstash-nonretryable-error": "true" }).end();
      setTimeout(
        () => {
          delivered.add(id);
          response.writeHead(200).end();
        },
        delivery.target.startsWith("/slow") ? 50 : 0,
      );
    });
    const start = async () => {
      const cli = spawnCli(["dev", "--port", "0", "--state-dir", dir, "--quiet", "--retry-scale", "0.001"]);
      const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
      return {
        cli,
        client: localClient(url as string),
      };
    };
    try {
      const first = await start();
      const sent = { ok: [] as string[], doomed: [] as string[] };
      for (let i = 0; i < MESSAGES; i++) {
        const kind = i % 10 === 0 ? "doomed" : "ok";
        const path = kind === "doomed" ? `/doomed/${i}` : i % 3 === 0 ? `/slow/${i}` : `/fast/${i}`;
        const delay = i % 5 === 0 ? 2 : undefined; // due after the restart
        const { messageId } = await first.client.publish({ url: `${destination.url}${path}`, body: String(i), delay });
        sent[kind].push(messageId);
      }
      first.cli.child.kill("SIGKILL");
      await first.cli.exited;
      const before = delivered.size;

      const second = await start();
      const settledIds = await until(
        "every message delivered or dead-lettered",
        async () => {
          const dead = new Set<string>();
          let cursor: string | undefined;
          do {
            const page = await second.client.dlq.listMessages({ cursor });
            for (const message of page.messages) dead.add(message.messageId);
            cursor = page.cursor;
          } while (cursor);
          const done = sent.ok.every((id) => delivered.has(id)) && sent.doomed.every((id) => dead.has(id));
          return done ? dead : undefined;
        },
        60_000,
      );
      // Counts add up: every accepted message is exactly once in one of the two outcomes.
      expect(sent.ok.length + sent.doomed.length).toBe(MESSAGES);
      expect([...delivered].filter((id) => sent.ok.includes(id))).toHaveLength(sent.ok.length);
      expect([...settledIds].filter((id) => sent.doomed.includes(id))).toHaveLength(sent.doomed.length);
      expect(sent.ok.some((id) => !delivered.has(id)) || before < sent.ok.length).toBe(true); // the kill really cut the run short
      await second.cli.stop();
    } finally {
      await destination.close();
    }
  }, 120_000);
});
