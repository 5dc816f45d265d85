// qjobs dev serves the Upstash Redis stand-in too (issue 23, from issue 18): the real @upstash/redis client
// against the spawned CLI, its data in the same on-disk state as the messages (kill -9 keeps it, expiry
// times included), and runs recorded through it by a job the registry dispatched.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJob, createRouteHandler, DEV_CREDENTIALS } from "@qjobs/runtime";
import { Redis } from "@upstash/redis";
import { afterEach, describe, expect, it } from "vitest";
import { type Destination, startDestination } from "../../../testkit/destination.js";
import { freePort } from "../../../testkit/processes.js";
import { DEFAULT_REDIS_PORT } from "../../local/src/redis/index.js";
import { fixturesDir, runCli, spawnCli } from "./support.js";

const folders: string[] = [];
afterEach(async () => {
  await Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});
async function stateFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "qjobs-dev-redis-"));
  folders.push(dir);
  return dir;
}

/** Starts `qjobs dev` and reads the Redis variables off its banner. */
async function startDev(args: string[], env: Record<string, string> = {}) {
  const cli = spawnCli(["dev", "--quiet", "--no-schedules", ...args], { env });
  await cli.waitFor(/running at http:\/\/127\.0\.0\.1:\d+/);
  const [, url] = await cli.waitFor(/QJOBS_REDIS_REST_URL=(\S+)/);
  const [, token] = await cli.waitFor(/QJOBS_REDIS_REST_TOKEN=(\S+)/);
  const [, qstash] = await cli.waitFor(/QSTASH_URL=(\S+)/);
  return { cli, url: url as string, token: token as string, qstash: qstash as string };
}

const client = (url: string, token: string) => new Redis({ url, token, enableTelemetry: false });

describe("qjobs dev serves the local Upstash Redis", () => {
  it("prints QJOBS_REDIS_REST_URL and _TOKEN; the real @upstash/redis client works against it, and no token is a 401", async () => {
    const dev = await startDev(["--port", "0", "--in-memory"]);
    expect(dev.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/redis$/);
    expect(new URL(dev.url).port).not.toBe(new URL(dev.qstash).port); // its own port
    expect(dev.token).toBe(DEV_CREDENTIALS.token);
    const redis = client(dev.url, dev.token);
    expect(await redis.set("greeting", "hello", { ex: 100 })).toBe("OK");
    expect(await redis.get("greeting")).toBe("hello");
    expect(await redis.ttl("greeting")).toBeGreaterThan(90);
    await redis.hset("order:1", { status: "paid", total: 12 });
    expect(await redis.hgetall("order:1")).toEqual({ status: "paid", total: 12 });
    const pipeline = redis.pipeline();
    pipeline.incr("count");
    pipeline.incr("count");
    expect(await pipeline.exec()).toEqual([1, 2]);
    const transaction = redis.multi();
    transaction.set("a", "1");
    transaction.incr("a");
    expect(await transaction.exec()).toEqual(["OK", 2]);
    const anonymous = await fetch(dev.url, { method: "POST", body: JSON.stringify(["GET", "greeting"]) });
    expect(anonymous.status).toBe(401);
    // Behind the same Host and Origin rules as the local QStash: a page elsewhere cannot read it.
    const crossSite = await fetch(dev.url, {
      method: "POST",
      headers: { authorization: `Bearer ${dev.token}`, origin: "http://evil.example" },
      body: JSON.stringify(["GET", "greeting"]),
    });
    expect(crossSite.status).toBe(403);
  });

  it("with QJOBS_DEV_TOKEN its token is that one, shown hidden, and the public one is refused", async () => {
    const own = "my-own-dev-token";
    const dev = await startDev(["--port", "0", "--in-memory"], { QJOBS_DEV_TOKEN: own });
    expect(dev.token).toBe("<yours,");
    expect(dev.cli.output()).not.toContain(own);
    expect(await client(dev.url, own).set("k", "v")).toBe("OK");
    await expect(client(dev.url, DEV_CREDENTIALS.token).get("k")).rejects.toThrow(/unauthorized/i);
  });

  it("kill -9 after writes, then a restart: the keys, a transaction's writes and the expiry times are kept", async () => {
    const dir = await stateFolder();
    const [port, redisPort] = [await freePort(), await freePort()];
    const args = ["--port", String(port), "--redis-port", String(redisPort), "--state-dir", dir];
    const first = await startDev(args);
    const redis = client(first.url, first.token);
    await redis.set("kept", "v1");
    await redis.set("expiring", "soon", { px: 600_000 });
    await redis.set("gone", "briefly", { px: 1 });
    const transaction = redis.multi();
    transaction.hset("run:1", { status: "running" });
    transaction.xadd("events", "*", { state: "started" });
    await transaction.exec();
    const ttlBefore = await redis.pttl("expiring");
    first.cli.child.kill("SIGKILL");
    await first.cli.exited;

    const second = await startDev(args);
    expect(second.url).toBe(first.url);
    const again = client(second.url, second.token);
    expect(await again.get("kept")).toBe("v1");
    expect(await again.get("gone")).toBeNull(); // its expiry time passed while qjobs dev was down
    const ttlAfter = await again.pttl("expiring");
    // The same absolute expiry time, not a fresh 10 minutes from the restart.
    expect(ttlAfter).toBeGreaterThan(0);
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore);
    expect(await again.hgetall("run:1")).toEqual({ status: "running" });
    expect(await again.xlen("events")).toBe(1);
  });

  it("a second qjobs dev on the default Redis port takes any free one and says so; an explicit --redis-port in use is an error", async () => {
    // Port 8079 taken: by this server, or already by someone else (either way, taken while the test runs).
    const holder = createServer();
    await new Promise<void>((resolve) => {
      holder.once("error", () => resolve());
      holder.listen(DEFAULT_REDIS_PORT, "127.0.0.1", () => resolve());
    });
    try {
      const dev = await startDev(["--port", String(await freePort()), "--in-memory"]);
      await dev.cli.waitFor(/Port 8079 is in use: the local Redis listens on http:\/\/127\.0\.0\.1:\d+\/redis instead/);
      expect(new URL(dev.url).port).not.toBe(String(DEFAULT_REDIS_PORT));
      expect(await client(dev.url, dev.token).set("k", "v")).toBe("OK");
      const explicit = await runCli(["dev", "--port", "0", "--redis-port", String(DEFAULT_REDIS_PORT), "--in-memory"]);
      expect(explicit.code).toBe(1);
      expect(explicit.stderr).toContain("Port 8079 is in use (another qjobs dev?). Pick another with --redis-port.");
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("--in-memory keeps the Redis data in memory only: a restart forgets it", async () => {
    const dev = await startDev(["--port", "0", "--in-memory"]);
    await client(dev.url, dev.token).set("k", "v");
    await dev.cli.stop();
    const next = await startDev(["--port", "0", "--in-memory"]);
    expect(await client(next.url, next.token).get("k")).toBeNull();
  });
});

describe("runs recorded in qjobs dev's Redis", () => {
  const project = join(fixturesDir, "export-forms");

  /** What `qjobs run` and `qjobs runs` read: qjobs dev's QStash and Redis, and the app's jobs route. */
  const runsEnv = (dev: { qstash: string; url: string; token: string }, jobsUrl: string) => ({
    QSTASH_URL: dev.qstash,
    QSTASH_TOKEN: dev.token,
    QJOBS_URL: jobsUrl,
    QJOBS_REDIS_REST_URL: dev.url,
    QJOBS_REDIS_REST_TOKEN: dev.token,
  });

  /** The app: a jobs route with billing.refund, recording runs in the Redis qjobs dev serves. */
  async function startApp(redis: () => { url: string; token: string }, gate: () => Promise<void>) {
    const refund = createJob("billing.refund", async (payload: { orderId: string }) => {
      await gate();
      return payload.orderId;
    });
    let jobsUrl = "";
    const route = createRouteHandler(
      { "billing.refund": async () => refund },
      {
        env: () => ({
          QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
          QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
          QJOBS_URL: jobsUrl,
          QJOBS_REDIS_REST_URL: redis().url,
          QJOBS_REDIS_REST_TOKEN: redis().token,
        }),
        logger: { error: () => {}, warn: () => {} },
      },
    );
    const app: Destination = await startDestination((delivery, response) => {
      const request = new Request(new URL(delivery.target, jobsUrl), {
        method: delivery.method,
        headers: Object.entries(delivery.headers).flatMap(([name, value]) =>
          typeof value === "string" ? [[name, value] as [string, string]] : [],
        ),
        body: new Uint8Array(delivery.body),
      });
      void route(request).then(
        async (answer) => response.writeHead(answer.status).end(Buffer.from(await answer.arrayBuffer())),
        () => response.writeHead(500).end(),
      );
    });
    jobsUrl = `${app.url}/api/jobs`;
    return { app, jobsUrl };
  }

  it("a job dispatched through the registry records its run there, and qjobs runs get reads it", async () => {
    const dev = await startDev(["--port", "0", "--in-memory"]);
    const { app, jobsUrl } = await startApp(
      () => dev,
      async () => undefined,
    );
    try {
      const env = runsEnv(dev, jobsUrl);
      const run = await runCli(
        ["run", "billing.refund", "--payload", '{"orderId":"o_1"}', "--json", "--cwd", project],
        {
          env,
        },
      );
      expect(run.stderr).toBe("");
      const { id } = JSON.parse(run.stdout) as { id: string };
      await expect
        .poll(async () => {
          const got = await runCli(["runs", "get", id, "--json", "--cwd", project], { env });
          return JSON.parse(got.stdout || "{}") as { status?: string; result?: unknown };
        })
        .toMatchObject({ status: "succeeded", result: "o_1" });
    } finally {
      await app.close();
    }
  });

  it("kill -9 of qjobs dev between a dispatch and its result loses nothing: after a restart the run succeeds", async () => {
    const dir = await stateFolder();
    const [port, redisPort] = [await freePort(), await freePort()];
    const args = [
      "--port",
      String(port),
      "--redis-port",
      String(redisPort),
      "--state-dir",
      dir,
      "--retry-scale",
      "0.001",
    ];
    let dev = await startDev(args);
    let release = () => {};
    let started = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first attempt waits until qjobs dev has been killed; any later one answers at once.
    let attempts = 0;
    const { app, jobsUrl } = await startApp(
      () => dev,
      async () => {
        if (++attempts > 1) return;
        started();
        await released;
      },
    );
    try {
      const env = () => runsEnv(dev, jobsUrl);
      const run = await runCli(
        ["run", "billing.refund", "--payload", '{"orderId":"o_2"}', "--json", "--cwd", project],
        {
          env: env(),
        },
      );
      const { id } = JSON.parse(run.stdout) as { id: string };
      await running; // delivered, the run recorded as running: now the crash
      dev.cli.child.kill("SIGKILL");
      await dev.cli.exited;
      release();

      dev = await startDev(args);
      await expect
        .poll(async () => {
          const got = await runCli(["runs", "get", id, "--json", "--cwd", project], { env: env() });
          return JSON.parse(got.stdout || "{}") as { status?: string; result?: unknown };
        })
        .toMatchObject({ id, key: "billing.refund", status: "succeeded", result: "o_2" });
      expect(attempts).toBeGreaterThan(1); // delivered again after the restart, as QStash does after a crash
    } finally {
      await app.close();
    }
  });
});
