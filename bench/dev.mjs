// Deliveries per second through `qjobs dev` (a separate process, as in development): the real QStash
// Client publishes, the server signs and delivers to a loopback app that answers 200. Baseline, measured
// in the same run: the same requests posted straight to the app, with no QStash in between.
// Usage: pnpm bench:dev [-- --messages 5000 --concurrency 50 --rounds 3]
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { Client } from "@upstash/qstash";
import { arg, cliBin, median } from "./shared.mjs";

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

const dev = spawn(process.execPath, [cliBin, "dev", "--port", "0", "--quiet"], {
  env: { ...process.env, NO_COLOR: "1" },
  stdio: ["ignore", "pipe", "inherit"],
});
const qstashUrl = await new Promise((resolve, reject) => {
  let out = "";
  dev.stdout.on("data", (text) => {
    out += text;
    const match = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (match) resolve(match[1]);
  });
  dev.once("exit", (code) => reject(new Error(`qjobs dev exited with ${code}`)));
});
const client = new Client({ baseUrl: qstashUrl, token: TOKEN, devMode: false, enableTelemetry: false });

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

const viaQStash = (i) =>
  client.publish({ url: appUrl, body: JSON.stringify({ i }), headers: { "content-type": "application/json" } });
const direct = (i) =>
  fetch(appUrl, { method: "POST", body: JSON.stringify({ i }), headers: { "content-type": "application/json" } }).then(
    (r) => r.arrayBuffer(),
  );

await run(viaQStash); // warm-up
await run(direct);
const samples = { qstash: [], direct: [] };
for (let round = 0; round < rounds; round++) {
  samples.qstash.push(await run(viaQStash));
  samples.direct.push(await run(direct));
}
dev.kill("SIGINT");
app.close();

const summary = (list) => ({
  rate: median(list.map((s) => s.rate)),
  p50: median(list.map((s) => s.p50)),
  p95: median(list.map((s) => s.p95)),
});
const q = summary(samples.qstash);
const d = summary(samples.direct);
const line = (name, s) =>
  `  ${name.padEnd(34)} ${Math.round(s.rate).toLocaleString("en-US").padStart(6)} /s   latency p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms`;
console.log(
  `node ${process.version}, ${messages} messages, ${concurrency} publishing at once, medians of ${rounds} rounds`,
);
console.log(line("publish → qjobs dev → app (200)", q));
console.log(line("baseline: POST straight to the app", d));
console.log(`qjobs dev / direct: ${(q.rate / d.rate).toFixed(2)}x the throughput of a direct POST`);
