import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, ErrorReply } from "@redis/client";
import { afterAll, afterEach } from "vitest";
import { freePort } from "../../../testkit/processes.js";
import {
  type Outcome,
  RedisGateway,
  type RedisGatewayOptions,
  type RedisRouterOptions,
  type Reply,
  redisHandler,
} from "../src/redis/index.js";
import { ManualClock } from "../src/time.js";

export const REDIS_TOKEN = "test-redis-token";

export interface StandIn {
  gateway: RedisGateway;
  clock: ManualClock;
  /** The Upstash REST base URL: `http://127.0.0.1:<port>/redis`. */
  url: string;
  /** One command through the REST protocol (POST, JSON array), answered as `{ result }` or `{ error }`. */
  send(command: (string | number)[]): Promise<Outcome>;
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});
/** Stand-ins kept for a whole test file (a served app holds their URL): stopped after it. */
const openForFile: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(openForFile.splice(0).map((close) => close()));
});

/**
 * The local Redis served on 127.0.0.1 (port 0) under /redis by a plain node:http server, as `qjobs dev`
 * will mount it; other paths answer 404 from the server itself. Stopped after the test (`lifetime: "file"`:
 * after the test file, for one started in beforeAll).
 */
export async function startStandIn(
  options: {
    start?: number;
    gateway?: Partial<RedisGatewayOptions>;
    router?: Partial<RedisRouterOptions>;
    /** Stopped after each test (the default), or after the test file. */
    lifetime?: "test" | "file";
  } = {},
): Promise<StandIn> {
  const clock = new ManualClock(options.start ?? Date.UTC(2030, 0, 1));
  const gateway = new RedisGateway({ clock, ...options.gateway });
  const handler = redisHandler(gateway, { token: REDIS_TOKEN, ...options.router });
  const server: Server = createServer((request, response) => {
    if (!handler(request, response)) response.writeHead(404).end("not the local Redis");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  (options.lifetime === "file" ? openForFile : open).push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/redis`;
  const send = async (command: (string | number)[]) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${REDIS_TOKEN}` },
      body: JSON.stringify(command),
    });
    return (await response.json()) as Outcome;
  };
  return { gateway, clock, url, send };
}

export interface RealRedis {
  send(command: string[]): Promise<Outcome>;
}

/** The redis-server to compare with: Debian's (CI installs it in .ci/run), or the one this names. */
const REDIS_SERVER = process.env.QJOBS_TEST_REDIS_SERVER || "redis-server";
export const redisServerInstalled = spawnSync(REDIS_SERVER, ["--version"]).status === 0;

/**
 * A real redis-server on a free loopback port, nothing saved to disk, talked to with node-redis's client
 * (RESP2, the protocol whose replies Upstash's JSON mirrors). Stopped after the test file.
 */
export async function startRealRedis(): Promise<{ redis: RealRedis; stop: () => Promise<void> }> {
  if (!redisServerInstalled)
    throw new Error(`${REDIS_SERVER} is not installed: run \`apt-get install -y redis-server\``);
  // The port was free a moment ago; if another process took it since, try another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      REDIS_SERVER,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      await ready(child);
    } catch (error) {
      child.kill("SIGKILL");
      if (attempt >= 3) throw error;
      continue;
    }
    const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, RESP: 2 });
    await client.connect();
    const redis: RealRedis = {
      async send(command) {
        try {
          return { result: (await client.sendCommand(command)) as Reply };
        } catch (error) {
          if (error instanceof ErrorReply) return { error: error.message };
          throw error;
        }
      },
    };
    const stop = async () => {
      await client.close();
      child.kill("SIGTERM");
      await exited;
    };
    return { redis, stop };
  }
}

/** Resolves once redis-server says it is ready; rejects if it exits first or takes over 20 s. */
function ready(child: ChildProcess): Promise<void> {
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server was not ready after 20 s: ${output}`)), 20_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (!output.includes("Ready to accept connections")) return;
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) before it was ready: ${output.slice(-2000)}`));
    });
  });
}
