// 100 viewers following one run through `next start` of examples/next (issue 19), for 30 s each way: streaming
// (what useRun does for up to two runs per page) and polling (what it does for the rest). Each viewer is a page of
// its own: its own copy of @qjobs/runtime/client. The run's progress changes in the store every second; measured:
// requests/s at the app, store reads per viewer-minute, and p95 latency from a change in the store to a viewer.
// Usage: pnpm bench:runs [-- --viewers 100 --seconds 30]
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RedisGateway, redisHandler } from "../packages/local/dist/redis/index.js";
import { ManualClock } from "../packages/local/dist/time.js";
import { arg, median, p95 } from "./shared.mjs";

const viewers = arg("viewers", 100);
const seconds = arg("seconds", 30);
const here = fileURLToPath(new URL(".", import.meta.url));
const app = join(here, "..", "examples", "next");
const next = join(app, "node_modules", "next", "dist", "bin", "next");
const clientEntry = pathToFileURL(join(here, "..", "packages", "runtime", "dist", "client.js")).href;
const REDIS_TOKEN = "bench-redis-token";
const keys = {
  QSTASH_CURRENT_SIGNING_KEY: "sig_bench_current_000000000",
  QSTASH_NEXT_SIGNING_KEY: "sig_bench_next_000000000000",
};
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...keys };

const listen = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));

// The Redis stand-in, served on 127.0.0.1 as qjobs dev will serve it; every HGETALL is a read of the run.
const gateway = new RedisGateway({ clock: new ManualClock(Date.now()) });
let storeReads = 0;
const execute = gateway.execute.bind(gateway);
gateway.execute = (command) => {
  if (String(command[0]).toUpperCase() === "HGETALL") storeReads++;
  return execute(command);
};
const handler = redisHandler(gateway, { token: REDIS_TOKEN });
const redisServer = createServer((request, response) => {
  if (!handler(request, response)) response.writeHead(404).end();
});
const redisUrl = `http://127.0.0.1:${await listen(redisServer)}/redis`;

/** A port free a moment ago, for next start. */
const freePort = async () => {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
};
const appPort = await freePort();
const appUrl = `http://127.0.0.1:${appPort}`;
const jobsUrl = `${appUrl}/api/jobs`;
Object.assign(process.env, keys, { QJOBS_URL: jobsUrl });

console.log("next build of examples/next ...");
const build = spawnSync(process.execPath, [next, "build"], { cwd: app, env, encoding: "utf8" });
if (build.status !== 0) throw new Error(`next build failed:\n${build.stdout}\n${build.stderr}`);
const server = spawn(process.execPath, [next, "start", "-p", String(appPort), "-H", "127.0.0.1"], {
  cwd: app,
  stdio: "ignore",
  env: { ...env, QJOBS_URL: jobsUrl, QJOBS_REDIS_REST_URL: redisUrl, QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN },
});
for (let i = 0; i < 600; i++) {
  if (
    await fetch(appUrl).then(
      (response) => response.ok,
      () => false,
    )
  )
    break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}

const { createRuns } = await import("@qjobs/runtime");
const { runToken } = createRuns({ routePath: "/api/jobs" });
const key = "reports/build";

/** A run in the store, as the route records it, whose progress the bench changes. */
function storeRun(id) {
  const hash = `qjobs:run:${id}`;
  const now = Date.now();
  execute(["HSET", hash, "key", key, "app", "bench", "createdAt", String(now)]);
  execute(["HSET", hash, `start:${key}`, JSON.stringify({ attempt: 1, at: now })]);
  return (seq) =>
    execute(["HSET", hash, `progress:${key}`, JSON.stringify({ value: { seq, at: Date.now() }, at: Date.now() })]);
}

async function measure(mode) {
  const id = `msg_bench_${mode}`;
  const setProgress = storeRun(id);
  const token = await runToken(id, { expiresIn: 3600 });
  const handle = { id, key, messageId: id, token, route: "/api/jobs" };
  let requests = 0;
  const latencies = [];
  const stops = [];
  for (let i = 0; i < viewers; i++) {
    // Its own copy of the client module: one page, with its own shared connections and stream slots.
    const { watchRun } = await import(`${clientEntry}?viewer=${mode}-${i}`);
    let seen = -1;
    const fetcher = (url, init) => {
      requests++;
      if (mode === "polling") init = { ...init, headers: { ...init.headers, accept: "application/json" } };
      return fetch(url, init);
    };
    stops.push(
      watchRun(
        handle,
        (state) => {
          const progress = state.run?.progress;
          if (progress && progress.seq > seen) {
            seen = progress.seq;
            latencies.push(Date.now() - progress.at);
          }
        },
        { origin: appUrl, fetch: fetcher },
      ),
    );
  }
  // Let every viewer connect, then count from zero.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  requests = 0;
  storeReads = 0;
  latencies.length = 0;
  const started = Date.now();
  let seq = 0;
  const ticker = setInterval(() => setProgress(++seq), 1000);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(ticker);
  const elapsed = (Date.now() - started) / 1000;
  for (const stop of stops) stop();
  return {
    mode,
    requestsPerSecond: +(requests / elapsed).toFixed(1),
    storeReadsPerViewerMinute: +(storeReads / viewers / (elapsed / 60)).toFixed(1),
    changes: seq,
    latencyMedianMs: median(latencies),
    latencyP95Ms: p95(latencies),
    missed: seq * viewers - latencies.length,
  };
}

try {
  const results = [];
  for (const mode of ["streaming", "polling"]) results.push(await measure(mode));
  console.table(results);
  console.log(
    `${viewers} viewers, ${seconds} s each, one change a second. Streaming: a connection per viewer, renewed every 25 s; polling: a GET a second with If-None-Match.`,
  );
} finally {
  server.kill("SIGTERM");
  redisServer.closeAllConnections();
  redisServer.close();
}
