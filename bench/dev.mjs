// Deliveries per second through `qjobs dev` (a separate process, as in development): the real QStash
// Client publishes, the server signs and delivers to a loopback app that answers 200. Baseline, measured
// in the same run: the same requests posted straight to the app, with no QStash in between.
// Measured twice: with its state on disk (the default) and in memory only.
// Usage: pnpm bench:dev [-- --messages 5000 --concurrency 50 --rounds 3]
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@upstash/qstash";
import { arg, median, startDev } from "./shared.mjs";

const messages = arg("messages", 5000);
const concurrency = arg("concurrency", 50);
const rounds = arg("rounds", 3);
const TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";

// The app: answers 200 and notes when each message arrived.
let arrivals = new Map();
let onArrival = () => {};
const app = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const { i } = JSON.parse(Buffer.concat(chunks).toString());
    arrivals.set(i, performance.now());
    res.writeHead(200).end("ok");
    onArrival();
  });
});
await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
const appUrl = `http://127.0.0.1:${app.address().port}/api/jobs?job=bench`;

/** Starts `qjobs dev` with these extra flags; resolves to the process and a Client pointed at it. */
async function startServer(flags) {
  const { child, url } = await startDev(flags);
  return { dev: child, client: new Client({ baseUrl: url, token: TOKEN, devMode: false, enableTelemetry: false }) };
}

// Its state on disk (the default), and in memory only (--in-memory), side by side.
const stateDir = mkdtempSync(join(tmpdir(), "qjobs-bench-state-"));
const onDisk = await startServer(["--state-dir", stateDir]);
const inMemory = await startServer(["--in-memory"]);

/** Sends `messages` with `send`, `concurrency` at a time; resolves when all have arrived at the app. */
async function run(send) {
  arrivals = new Map();
  const sentAt = new Array(messages);
  const allArrived = new Promise((resolve) => {
    onArrival = () => arrivals.size === messages && resolve();
  });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages) {
        const i = next++;
        sentAt[i] = performance.now();
        await send(i);
      }
    }),
  );
  await allArrived;
  const seconds = (performance.now() - started) / 1000;
  const latencies = sentAt.map((at, i) => arrivals.get(i) - at).sort((a, b) => a - b);
  return {
    rate: messages / seconds,
    p50: latencies[Math.floor(messages / 2)],
    p95: latencies[Math.floor(messages * 0.95)],
  };
}

const publishWith = (client) => (i) =>
  client.publish({ url: appUrl, body: JSON.stringify({ i }), headers: { "content-type": "application/json" } });
const variants = {
  disk: publishWith(onDisk.client),
  memory: publishWith(inMemory.client),
  direct: (i) =>
    fetch(appUrl, {
      method: "POST",
      body: JSON.stringify({ i }),
      headers: { "content-type": "application/json" },
    }).then((r) => r.arrayBuffer()),
};

for (const send of Object.values(variants)) await run(send); // warm-up
const samples = { disk: [], memory: [], direct: [] };
for (let round = 0; round < rounds; round++) {
  // Interleaved, so that machine noise falls on all of them alike.
  for (const [name, send] of Object.entries(variants)) samples[name].push(await run(send));
}
onDisk.dev.kill("SIGINT");
inMemory.dev.kill("SIGINT");
app.close();
rmSync(stateDir, { recursive: true, force: true });

const summary = (list) => ({
  rate: median(list.map((s) => s.rate)),
  p50: median(list.map((s) => s.p50)),
  p95: median(list.map((s) => s.p95)),
});
const [disk, memory, direct] = [summary(samples.disk), summary(samples.memory), summary(samples.direct)];
const line = (name, s) =>
  `  ${name.padEnd(44)} ${Math.round(s.rate).toLocaleString("en-US").padStart(6)} /s   latency p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms`;
console.log(
  `node ${process.version}, ${messages} messages, ${concurrency} publishing at once, medians of ${rounds} rounds`,
);
console.log(line("publish → qjobs dev (state on disk) → app", disk));
console.log(line("publish → qjobs dev --in-memory → app", memory));
console.log(line("baseline: POST straight to the app", direct));
console.log(
  `qjobs dev, state on disk / direct: ${(disk.rate / direct.rate).toFixed(2)}x the throughput of a direct POST`,
);
console.log(`state on disk / in memory:         ${(disk.rate / memory.rate).toFixed(2)}x`);
