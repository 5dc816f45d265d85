// Signed deliveries per second through the jobs route, in one process, against two baselines
// measured in the same run: the official Next.js helper wrapping the same handler, and the floor
// (the SDK's Receiver.verify + JSON.parse + the handler, with no Request or Response at all).
// Then the route's steps, each timed alone on the same deliveries, in microseconds per delivery.
// With runs: the same route recording each delivery's run beside it, in the local Upstash Redis stand-in served
// on a loopback port (two store round trips beside the handler and one at the end: what runs may cost).
// Usage: pnpm bench:route [-- --rounds 7 --per-round 2000]

import { createServer } from "node:http";
import { createJob, createRouteHandler } from "@qjobs/runtime";
import { signDelivery } from "@qjobs/runtime/testing";
import { Receiver } from "@upstash/qstash";
import { verifySignatureAppRouter } from "@upstash/qstash/nextjs";
import { RedisGateway, redisHandler } from "../packages/local/dist/redis/index.js";
import { realClock } from "../packages/local/dist/time.js";
// The route's steps are internal: the breakdown imports them from the built files, not the package's API.
import { signedTarget } from "../packages/runtime/dist/binding.js";
import { readBody } from "../packages/runtime/dist/body.js";
import { validatePayload } from "../packages/runtime/dist/schema.js";
import { nodeCryptoSha256, webCrypto } from "../packages/runtime/dist/sha256.js";
import { verifySignatureWith } from "../packages/runtime/dist/verify.js";
import { arg, median } from "./shared.mjs";

const rounds = arg("rounds", 7);
const perRound = arg("per-round", 2000);

const currentSigningKey = "sig_bench_current_key_000000";
const nextSigningKey = "sig_bench_next_key_00000000";
const url = "https://app.example.com/api/jobs?job=welcome-email";
let handled = 0;
const job = createJob("welcome-email", async (payload) => {
  handled += payload.userId.length > 0 ? 1 : 0;
});

// Distinct, pre-signed deliveries, so signing is not part of what is measured.
const deliveries = await Promise.all(
  Array.from({ length: 256 }, async (_, i) => {
    const body = JSON.stringify({ userId: `user_${i}`, plan: "pro", tags: ["a", "b", "c"] });
    return { body, signature: await signDelivery({ url, body, signingKey: currentSigningKey }) };
  }),
);
const request = ({ body, signature }) =>
  new Request(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "upstash-signature": signature },
  });

const qjobs = createRouteHandler(
  { "welcome-email": async () => job },
  {
    env: {
      QSTASH_CURRENT_SIGNING_KEY: currentSigningKey,
      QSTASH_NEXT_SIGNING_KEY: nextSigningKey,
      QJOBS_URL: "https://app.example.com/api/jobs",
    },
  },
);
// The local Redis stand-in on a loopback port, for the route that records runs.
const redisToken = "bench-redis-token";
const redisServer = createServer((req, res) => {
  if (!storeHandler(req, res)) res.writeHead(404).end();
});
const storeHandler = redisHandler(new RedisGateway({ clock: realClock }), { token: redisToken });
await new Promise((resolve) => redisServer.listen(0, "127.0.0.1", resolve));
const withRuns = createRouteHandler(
  { "welcome-email": async () => job },
  {
    env: {
      QSTASH_CURRENT_SIGNING_KEY: currentSigningKey,
      QSTASH_NEXT_SIGNING_KEY: nextSigningKey,
      QJOBS_URL: "https://app.example.com/api/jobs",
      QJOBS_REDIS_REST_URL: `http://127.0.0.1:${redisServer.address().port}/redis`,
      QJOBS_REDIS_REST_TOKEN: redisToken,
    },
  },
);
// A signature is recorded once (its id is remembered): the runs variant gets a fresh one per delivery.
let fresh = 0;
async function freshDeliveries(count) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const { body } = deliveries[i % deliveries.length];
      const id = `msg_bench_${fresh++}`;
      return { body, id, signature: await signDelivery({ url, body, signingKey: currentSigningKey }) };
    }),
  );
}

const official = verifySignatureAppRouter(
  async (req) => {
    await job.handler(JSON.parse(await req.text()), { key: job.key, messageId: "", retried: 0, headers: req.headers });
    return Response.json({ ok: true });
  },
  { currentSigningKey, nextSigningKey },
);
const receiver = new Receiver({ currentSigningKey, nextSigningKey, devMode: false });

const variants = {
  "qjobs route": async (d) => {
    const response = await qjobs(request(d));
    if (response.status !== 200) throw new Error(`qjobs answered ${response.status}: ${await response.text()}`);
  },
  "qjobs route, runs recorded (local Redis)": async (d) => {
    const req = request(d);
    req.headers.set("upstash-message-id", d.id);
    const response = await withRuns(req);
    if (response.status !== 200) throw new Error(`qjobs answered ${response.status}: ${await response.text()}`);
  },
  "official verifySignatureAppRouter": async (d) => {
    const response = await official(request(d));
    if (response.status !== 200) throw new Error(`official answered ${response.status}`);
  },
  "floor: Receiver.verify + JSON.parse + handler": async (d) => {
    await receiver.verify({ signature: d.signature, body: d.body });
    await job.handler(JSON.parse(d.body), { key: job.key, messageId: "", retried: 0, headers: new Headers() });
  },
};

async function measure(run) {
  const pool =
    run === variants["qjobs route, runs recorded (local Redis)"] ? await freshDeliveries(perRound) : deliveries;
  const start = performance.now();
  for (let i = 0; i < perRound; i++) await run(pool[i % pool.length]);
  return perRound / ((performance.now() - start) / 1000);
}

for (const run of Object.values(variants)) await measure(run); // warm-up
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  // Interleave the variants so machine noise falls on all of them alike.
  for (const [name, run] of Object.entries(variants)) samples[name].push(await measure(run));
}

const rates = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
const width = Math.max(...Object.keys(rates).map((name) => name.length));
console.log(`node ${process.version}, ${rounds} rounds x ${perRound} signed deliveries, medians (${handled} handled)`);
for (const [name, rate] of Object.entries(rates))
  console.log(`  ${name.padEnd(width)}  ${Math.round(rate).toLocaleString("en-US").padStart(7)} deliveries/s`);
const ours = rates["qjobs route"];
console.log(`qjobs route / official helper: ${(ours / rates["official verifySignatureAppRouter"]).toFixed(2)}x`);
console.log(
  `qjobs route / floor:           ${(ours / rates["floor: Receiver.verify + JSON.parse + handler"]).toFixed(2)}x`,
);
const recorded = rates["qjobs route, runs recorded (local Redis)"];
console.log(
  `runs recorded beside / without: ${(recorded / ours).toFixed(2)}x (${(1e3 / recorded - 1e3 / ours).toFixed(2)} ms more a delivery: its store round trips)`,
);
redisServer.closeAllConnections();
redisServer.close();

// Each step of a delivery, alone, on the same deliveries: where the route's time goes.
const keys = { current: currentSigningKey, next: nextSigningKey };
const appUrls = [new URL("https://app.example.com/api/jobs")];
const encoder = new TextEncoder();
const bodies = deliveries.map((d) => encoder.encode(d.body));
const nodeCrypto = nodeCryptoSha256();
const steps = {
  "new Request (the caller's, every variant pays it)": async (d) => request(d),
  "new Request, then read its body (bounded)": async (d) => readBody(request(d), 16 * 1024 * 1024),
  ...(nodeCrypto && {
    "verify the signature, node:crypto (used on Node)": async (d, i) =>
      verifySignatureWith(nodeCrypto, { signature: d.signature, body: bodies[i], keys }),
  }),
  "verify the signature, Web Crypto (edge runtimes)": async (d, i) =>
    verifySignatureWith(webCrypto, { signature: d.signature, body: bodies[i], keys }),
  "bind: the signed URL and the request's ?job=": async () => {
    if (!signedTarget(url, appUrls)) throw new Error("not bound");
    new URL(url).searchParams.getAll("job");
  },
  "parse and validate the payload": async (d) => validatePayload(job.key, undefined, JSON.parse(d.body)),
  "the handler": async (d) => job.handler(JSON.parse(d.body), { key: job.key, messageId: "", retried: 0 }),
  "new Response": async () =>
    new Response('{"ok":true}', { status: 200, headers: { "Content-Type": "application/json" } }),
};
async function microseconds(step) {
  const start = performance.now();
  for (let i = 0; i < perRound; i++) await step(deliveries[i % deliveries.length], i % deliveries.length);
  return ((performance.now() - start) * 1000) / perRound;
}
const stepSamples = Object.fromEntries(Object.keys(steps).map((name) => [name, []]));
for (const step of Object.values(steps)) await microseconds(step); // warm-up
for (let round = 0; round < rounds; round++) {
  for (const [name, step] of Object.entries(steps)) stepSamples[name].push(await microseconds(step));
}
const stepWidth = Math.max(...Object.keys(steps).map((name) => name.length));
console.log(`\nthe route's steps alone, medians (the route took ${(1e6 / ours).toFixed(1)} us a delivery):`);
for (const [name, values] of Object.entries(stepSamples))
  console.log(`  ${name.padEnd(stepWidth)}  ${median(values).toFixed(1).padStart(6)} us`);
