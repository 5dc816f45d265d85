// The dashboard in Chromium: first contentful paint of the page served by `qjobs dev`, against a static page of
// one line served by node:http in the same run (the floor a browser needs on loopback); then, with 10,000
// messages in history, how long each view takes to show its data, how long a filter takes, and the longest
// task that blocks the page while it polls.
// Usage: pnpm bench:dashboard [-- --messages 10000 --rounds 7]
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@upstash/qstash";
import { chromium } from "playwright-core";
import { arg, median, startDev } from "./shared.mjs";

const messages = arg("messages", 10_000);
const rounds = arg("rounds", 7);
const TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";

let delivered = 0;
const app = createServer((req, res) => {
  req.resume().on("end", () => {
    delivered++;
    res.writeHead(200).end("ok");
  });
});
const floor = createServer((_request, res) =>
  res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>floor</title><p>qjobs</p>"),
);
await Promise.all([app, floor].map((server) => new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))));
const jobsUrl = `http://127.0.0.1:${app.address().port}/api/jobs`;
const floorUrl = `http://127.0.0.1:${floor.address().port}/`;

const project = mkdtempSync(join(tmpdir(), "qjobs-bench-dashboard-"));
mkdirSync(join(project, "jobs"));
writeFileSync(
  join(project, "qjobs.config.json"),
  JSON.stringify({ jobs: ["jobs/*.job.ts"], registry: "gen.ts", route: "route.ts" }),
);
writeFileSync(
  join(project, "jobs/bench.job.ts"),
  'import { createJob } from "@qjobs/runtime";\nexport const bench = createJob("bench", async (payload: { i: number }) => {});\n',
);
const { child: dev, dashboard } = await startDev(["--cwd", project, "--in-memory", "--app-url", jobsUrl]);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});

/** First contentful paint of a fresh page at `url`, in ms from navigation start. */
async function firstPaint(url) {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: "load" });
  const fcp = await page.evaluate(
    () =>
      new Promise((resolve) =>
        new PerformanceObserver((list) => {
          const entry = list.getEntries().find((e) => e.name === "first-contentful-paint");
          if (entry) resolve(entry.startTime);
        }).observe({ type: "paint", buffered: true }),
      ),
  );
  await page.close();
  return fcp;
}

/** ms from navigation start until `selector` shows, on a fresh page. */
async function timeToData(hash, locate) {
  const page = await browser.newPage();
  const start = performance.now();
  await page.goto(`${dashboard}${hash}`);
  await locate(page).first().waitFor({ timeout: 60_000 });
  const elapsed = performance.now() - start;
  await page.close();
  return elapsed;
}

const fcp = async (label) => {
  const page = [];
  const base = [];
  for (let round = 0; round < rounds; round++) {
    base.push(await firstPaint(floorUrl));
    page.push(await firstPaint(dashboard));
  }
  console.log(
    `first contentful paint (${label}): dashboard ${median(page).toFixed(0)} ms, static page ${median(base).toFixed(0)} ms (x${(median(page) / median(base)).toFixed(2)}), median of ${rounds}`,
  );
};

await fcp("empty history");

// 10,000 messages, published in batches of 100 with the real Client, all delivered before measuring.
const client = new Client({
  baseUrl: dashboard.replace(/\/$/, ""),
  token: TOKEN,
  devMode: false,
  enableTelemetry: false,
});
const url = `${jobsUrl}?job=bench`;
for (let sent = 0; sent < messages; sent += 100) {
  await client.batchJSON(
    Array.from({ length: Math.min(100, messages - sent) }, (_, k) => ({ url, body: { i: sent + k } })),
  );
}
while (delivered < messages) await new Promise((resolve) => setTimeout(resolve, 100));
console.log(`${messages.toLocaleString("en")} messages delivered; measuring the views with them in history`);

await fcp(`${messages.toLocaleString("en")} messages`);
const views = [
  ["Jobs: counts shown", "#/jobs", (page) => page.getByRole("link", { name: /^[1-9][\d,]* delivered$/ })],
  ["Messages: first page", "#/messages", (page) => page.getByRole("link", { name: /^msg_/ })],
  [
    "Messages of a job, delivered",
    "#/messages?job=bench&state=delivered",
    (page) => page.getByRole("link", { name: /^msg_/ }),
  ],
];
for (const [label, hash, locate] of views) {
  const times = [];
  for (let round = 0; round < rounds; round++) times.push(await timeToData(hash, locate));
  console.log(`${label}: ${median(times).toFixed(0)} ms (median of ${rounds})`);
}

// Long tasks while the Messages view polls for 10 s: what a user would feel as jank.
const page = await browser.newPage();
await page.goto(`${dashboard}#/messages`);
await page.getByRole("link", { name: /^msg_/ }).first().waitFor();
const longest = await page.evaluate(
  () =>
    new Promise((resolve) => {
      let max = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) max = Math.max(max, entry.duration);
      }).observe({ type: "longtask" });
      setTimeout(() => resolve(max), 10_000);
    }),
);
console.log(`longest task while the Messages view polled for 10 s: ${longest.toFixed(0)} ms (0 = none over 50 ms)`);

await browser.close();
dev.kill();
app.close();
floor.close();
