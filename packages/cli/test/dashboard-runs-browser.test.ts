// Runs in the dashboard (issue 18), in Chromium: the built CLI spawned as a process, the real route
// (createRouteHandler) on a loopback server recording runs in the local Redis stand-in. The test serves a stand-in
// of its own (127.0.0.1, port 0) with a token of its own, given to the CLI and the app as QJOBS_REDIS_REST_URL/
// TOKEN: a configured store wins over qjobs dev's own, and a private token lets it check the page never sees it.
import { mkdtempSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJob, createRouteHandler, DEV_CREDENTIALS, deliveryUrl } from "@qjobs/runtime";
import { toNodeHandler } from "@qjobs/runtime/node";
import { Client } from "@upstash/qstash";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { browser, browserMissing } from "../../../testkit/browser.js";
import { type StandIn, startStandIn } from "../../local/test/redis-support.js";
import { recordRequests, recordResponses } from "./dashboard-support.js";
import { localClient } from "./dev-support.js";
import { repoRoot, spawnCli, tempProject } from "./support.js";

// `pnpm screenshots` writes the README's pictures into docs/; otherwise they go to a temporary folder.
const shots =
  process.env.QJOBS_SCREENSHOTS === "docs" ? join(repoRoot, "docs") : mkdtempSync(join(tmpdir(), "qjobs-shots-"));

// The store's token: it stays in the CLI (and the app); the page must never see it.
const STORE_TOKEN = "store-token-8b2e41-never-shown-to-the-page";

const importJob = createJob("orders/import", {
  handler: async (payload: { orders: number }, ctx) => {
    ctx.progress({ done: payload.orders, of: payload.orders });
    return { imported: payload.orders };
  },
});
const syncJob = createJob("shop/sync", {
  handler: async () => {
    throw new Error("shop API returned 502");
  },
});

// Fails the first delivery of each payload, then succeeds: a dead letter whose Retry works.
const seen = new Set<string>();
const onceJob = createJob("orders/once", {
  handler: async (payload: { ref: string }) => {
    if (!seen.has(payload.ref)) {
      seen.add(payload.ref);
      throw new Error(`first try of ${payload.ref} failed`);
    }
    return { ref: payload.ref, ok: true };
  },
});

/** The project the CLI scans: the same two keys as the route serves (no job code runs in the CLI). */
const project = (env: Record<string, string> = {}) =>
  tempProject({
    "qjobs.config.json": JSON.stringify({ jobs: ["jobs/*.job.ts"], registry: "qjobs.gen.ts", route: "route.ts" }),
    "jobs/import.job.ts": `import { createJob } from "@qjobs/runtime";\nexport const importJob = createJob("orders/import", { handler: async () => ({}) });\n`,
    "jobs/once.job.ts": `import { createJob } from "@qjobs/runtime";\nexport const onceJob = createJob("orders/once", { retries: 0, handler: async () => {} });\n`,
    "jobs/sync.job.ts": `import { createJob } from "@qjobs/runtime";\nexport const syncJob = createJob("shop/sync", { retries: 0, handler: async () => {} });\n`,
    ".env.local": Object.entries(env)
      .map(([name, value]) => `${name}=${value}\n`)
      .join(""),
  });

let redis: StandIn;
let app: Server;
let jobsUrl: string;
beforeAll(async () => {
  redis = await startStandIn({ start: Date.now(), router: { token: STORE_TOKEN }, lifetime: "file" });
  let env: Record<string, string> = {};
  app = createServer(
    toNodeHandler(
      createRouteHandler(
        {
          "orders/import": async () => importJob,
          "shop/sync": async () => syncJob,
          "orders/once": async () => onceJob,
        },
        { env: () => env, logger: { error() {}, warn() {} } },
      ),
    ),
  );
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  jobsUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/api/jobs`;
  env = {
    QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
    QJOBS_URL: jobsUrl,
    QJOBS_REDIS_REST_URL: redis.url,
    QJOBS_REDIS_REST_TOKEN: STORE_TOKEN,
  };
});
afterAll(async () => {
  app.closeAllConnections();
  await new Promise<void>((resolve) => app.close(() => resolve()));
});

const missing = browserMissing();

describe.skipIf(missing)("runs in the dashboard of qjobs dev, in Chromium", () => {
  let dashboard: string;
  let qstash: Client;
  let page: Page;
  let requests: ReturnType<typeof recordRequests>;

  beforeAll(async () => {
    const cli = spawnCli(
      ["dev", "--cwd", await project(), "--port", "0", "--retry-scale", "0.0001", "--app-url", jobsUrl],
      { lifetime: "file", env: { QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: STORE_TOKEN } },
    );
    const [, qstashUrl = ""] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    [, dashboard = ""] = await cli.waitFor(/Dashboard: (\S+)/);
    qstash = localClient(qstashUrl);
  });
  const open = async (hash: string) => {
    page = await (await browser()).newPage();
    requests = recordRequests(page, dashboard);
    await page.goto(`${dashboard}${hash}`);
  };
  afterEach(async () => {
    requests.expectAllListed();
    await page.close();
  });
  const publish = async (key: string, body: unknown) =>
    (await qstash.publishJSON({ url: deliveryUrl(jobsUrl, key), body, retries: 0 })).messageId;

  it("the message view shows the run succeeded, with its result, progress, attempt and times", async () => {
    const id = await publish("orders/import", { orders: 3 });
    await open(`#/messages/${encodeURIComponent(id)}`);
    const run = page.getByRole("region", { name: "Run" });
    await run.locator(".badge", { hasText: "succeeded" }).waitFor();
    const result = run.getByRole("figure", { name: "Run result" });
    expect(JSON.parse((await result.textContent()) ?? "")).toEqual({ imported: 3 });
    const progress = run.getByRole("figure", { name: "Run progress" });
    expect(JSON.parse((await progress.textContent()) ?? "")).toEqual({ done: 3, of: 3 });
    const facts = (await run.locator("dl").textContent()) ?? "";
    expect(facts).toMatch(/Attempt\s*1/);
    expect(facts).toContain("Finished");
  });

  it("a failing job's run shows its real error, not QStash's", async () => {
    const id = await publish("shop/sync", {});
    await open(`#/messages/${encodeURIComponent(id)}`);
    const error = page.getByRole("region", { name: "Run" }).getByTestId("run-error");
    await error.filter({ hasText: "Error: shop API returned 502" }).waitFor();
  });

  it("the Jobs view lists a job's recent runs, newest first, each linked to its message", async () => {
    const older = await publish("orders/import", { orders: 1 });
    const newer = await publish("orders/import", { orders: 2 });
    await open("#/jobs");
    const list = page.getByRole("list", { name: "Recent runs of orders/import" });
    await list.getByRole("link", { name: newer }).waitFor();
    const links = await list.getByRole("link").allTextContents();
    expect(links.indexOf(newer)).toBeLessThan(links.indexOf(older));
    expect(links.indexOf(older)).toBeGreaterThanOrEqual(0);
    await list.getByRole("link", { name: newer }).click();
    await page.getByRole("region", { name: "Run" }).locator(".badge", { hasText: "succeeded" }).waitFor();
  });

  it("the dead-letter Retry links the runs: the old message's run follows to the retry's, which links back", async () => {
    const failed = await publish("orders/once", { ref: "r1" });
    await open("#/dlq");
    const dead = page.getByRole("row", { name: `Dead letter ${failed}` });
    await dead.getByRole("button", { name: "Retry" }).click();
    await page.getByRole("status").filter({ hasText: "Retried 1 message" }).waitFor();
    await page.goto(`${dashboard}#/messages/${encodeURIComponent(failed)}`);
    const run = page.getByRole("region", { name: "Run" });
    await run.locator(".badge", { hasText: "succeeded" }).waitFor();
    const retried = run.getByText("Retried from the dead letters as");
    const retry = (await retried.getByRole("link").textContent()) ?? "";
    expect(retry).toMatch(/^msg_/);
    expect(retry).not.toBe(failed);
    expect(JSON.parse((await run.getByRole("figure", { name: "Run result" }).textContent()) ?? "")).toEqual({
      ref: "r1",
      ok: true,
    });
    // The retry's run is shown here: its "Retry of" would name this very message, so it is left out.
    expect(await run.locator("dd").getByRole("link", { name: failed, exact: true }).count()).toBe(0);
    await retried.getByRole("link").click();
    await run.locator("dd").getByRole("link", { name: failed }).waitFor();
  });

  it("reads in light and dark: a message's run and a job's runs (screenshots)", async () => {
    const id = await publish("orders/import", { orders: 12 });
    await publish("shop/sync", {});
    for (const scheme of ["light", "dark"] as const) {
      if (scheme === "dark") {
        requests.expectAllListed();
        await page.close();
      }
      page = await (await browser()).newPage({ colorScheme: scheme, viewport: { width: 1200, height: 900 } });
      requests = recordRequests(page, dashboard);
      await page.goto(`${dashboard}#/messages/${encodeURIComponent(id)}`);
      const run = page.getByRole("region", { name: "Run" });
      await run.getByRole("figure", { name: "Run result" }).waitFor();
      const file = join(shots, `dashboard-run${scheme === "dark" ? "-dark" : ""}.png`);
      await run.screenshot({ path: file });
      expect(statSync(file).size).toBeGreaterThan(5_000);
      await page.goto(`${dashboard}#/jobs`);
      const card = page.getByRole("article", { name: "shop/sync" });
      await card.getByRole("list", { name: "Recent runs of shop/sync" }).waitFor();
      const cardFile = join(shots, `dashboard-job-runs${scheme === "dark" ? "-dark" : ""}.png`);
      await card.screenshot({ path: cardFile });
      expect(statSync(cardFile).size).toBeGreaterThan(5_000);
    }
  });
});

describe("runs in qjobs dashboard, against another QStash", () => {
  const CLOUD_TOKEN = "cloud-token-runs-77d0-never-shown-to-the-page";
  let dashboard: string;
  let cloudUrl: string;

  beforeAll(async () => {
    const cloud = spawnCli(
      ["dev", "--cwd", await project(), "--port", "0", "--retry-scale", "0.0001", "--token", CLOUD_TOKEN],
      { lifetime: "file" },
    );
    [, cloudUrl = ""] = await cloud.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    const root = await project({ QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: STORE_TOKEN });
    const cli = spawnCli(["dashboard", "--cwd", root, "--port", "0", "--app-url", jobsUrl], {
      lifetime: "file",
      env: { QSTASH_URL: cloudUrl, QSTASH_TOKEN: CLOUD_TOKEN },
    });
    [, dashboard = ""] = await cli.waitFor(/Open (\S+)/);
  });

  it("run-endpoints-read-only: they need the launch's secret, answer GET only, and refuse what is not a run id or a job key", async () => {
    const origin = new URL(dashboard).origin;
    expect((await fetch(`${origin}/api/runs?key=orders%2Fimport`)).status).toBe(404);
    const post = await fetch(`${dashboard}api/runs/msg_1`, { method: "POST", body: '["FLUSHALL"]' });
    expect(post.status).toBe(405);
    const del = await fetch(`${dashboard}api/runs?key=orders%2Fimport`, { method: "DELETE" });
    expect(del.status).toBe(405);
    const badId = await fetch(`${dashboard}api/runs/a%2Fb`);
    expect(badId.status).toBe(400);
    expect(await badId.json()).toEqual({ error: 'Not a run id: "a/b"' });
    const badKey = await fetch(`${dashboard}api/runs?key=orders%20import`);
    expect(badKey.status).toBe(400);
    const listed = await fetch(`${dashboard}api/runs?key=orders%2Fimport`);
    expect(listed.status).toBe(200);
    expect(await listed.text()).not.toContain(STORE_TOKEN);
  });

  it.skipIf(missing)(
    "reads the store's variables from .env.local as it reads QSTASH_TOKEN; the store's token never reaches the page (Chromium)",
    async () => {
      const { messageId } = await new Client({
        baseUrl: cloudUrl,
        token: CLOUD_TOKEN,
        devMode: false,
        retry: false,
        enableTelemetry: false,
      }).publishJSON({ url: deliveryUrl(jobsUrl, "orders/import"), body: { orders: 7 }, retries: 0 });

      const page = await (await browser()).newPage();
      const requests = recordRequests(page, dashboard);
      const seen = recordResponses(page);
      try {
        await page.goto(`${dashboard}#/messages/${encodeURIComponent(messageId)}`);
        const run = page.getByRole("region", { name: "Run" });
        await run.locator(".badge", { hasText: "succeeded" }).waitFor();
        expect(JSON.parse((await run.getByRole("figure", { name: "Run result" }).textContent()) ?? "")).toEqual({
          imported: 7,
        });
        await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: "Jobs" }).click();
        await page
          .getByRole("list", { name: "Recent runs of orders/import" })
          .getByRole("link", { name: messageId })
          .waitFor();

        requests.expectAllListed();
        const everything = await seen.answers();
        expect(everything.some((text) => text.includes('"imported":7'))).toBe(true);
        expect(everything.filter((text) => text.includes(STORE_TOKEN) || text.includes(redis.url))).toEqual([]);
        expect(await seen.held()).not.toContain(STORE_TOKEN);
      } finally {
        await page.close();
      }
    },
  );
});
