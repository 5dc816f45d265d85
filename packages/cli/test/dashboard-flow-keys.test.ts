// The Jobs view shows each job's flow-control keys (issue 22): qjobs dev holds messages waiting on a templated
// key, and the page lists the tenant keys on the job that declared the template, with their counts, from one
// GET /v2/flowControl a poll.
import type { ServerResponse } from "node:http";
import { createDispatch, DEV_CREDENTIALS } from "@qjobs/runtime";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { browser, browserMissing } from "../../../testkit/browser.js";
import { type Destination, startDestination } from "../../../testkit/destination.js";
import { recordRequests } from "./dashboard-support.js";
import { spawnCli, tempProject } from "./support.js";

const job = (name: string, key: string, definition: string) =>
  `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob(${JSON.stringify(key)}, { ${definition}, handler: async () => {} });\n`;

describe.skipIf(browserMissing())("the Jobs view's flow-control keys, in Chromium", () => {
  // Every delivery is held until the end, so what was dispatched stays in flight or waiting on its key.
  const held: ServerResponse[] = [];
  let app: Destination;
  let dashboard: string;
  let page: Page;

  beforeAll(async () => {
    app = await startDestination((_delivery, response) => held.push(response));
    const project = await tempProject({
      "qjobs.config.json": JSON.stringify({ jobs: ["jobs/*.job.ts"], registry: "qjobs.gen.ts", route: "route.ts" }),
      "jobs/sync.job.ts": job("sync", "crm/sync", 'flowControl: { key: "tenant:{tenantId}", parallelism: 1 }'),
      "jobs/reindex.job.ts": job("reindex", "search/reindex", 'flowControl: { key: "site:{siteId}", parallelism: 1 }'),
      "jobs/plain.job.ts": job("plain", "plain", "retries: 0"),
    });
    const cli = spawnCli(["dev", "--cwd", project, "--port", "0", "--app-url", `${app.url}/api/jobs`], {
      lifetime: "file",
    });
    const [, qstashUrl = ""] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    [, dashboard = ""] = await cli.waitFor(/Dashboard: (\S+)/);
    // The registry's dispatch fills the templates, as an app's would.
    vi.stubEnv("QSTASH_URL", qstashUrl);
    vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
    vi.stubEnv("QJOBS_URL", `${app.url}/api/jobs`);
    const { dispatchMany } = createDispatch({
      "crm/sync": { flowControl: { key: "tenant:{tenantId}", parallelism: 1 } },
      "search/reindex": { flowControl: { key: "site:{siteId}", parallelism: 1 } },
    });
    const tenants = ["acme", "acme", "acme", "acme", "globex", "globex", "a/b"];
    await dispatchMany("crm/sync" as never, tenants.map((tenantId) => ({ tenantId })) as never);
    await dispatchMany("search/reindex" as never, [{ siteId: "docs" }] as never);
    // One delivery per key is in flight (parallelism 1); the rest wait.
    await app.waitFor(4);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    for (const response of held.splice(0)) response.writeHead(200).end("{}");
    await page?.close();
    await app.close();
  });

  it("lists a templated job's keys, busiest first, with waiting and parallelism used/max; not on another job", async () => {
    page = await (await browser()).newPage();
    const requests = recordRequests(page, dashboard);
    await page.goto(`${dashboard}#/jobs`);
    const sync = page.getByRole("article", { name: "crm/sync" });
    const table = sync.getByRole("table", { name: "Flow-control keys of tenant:{tenantId}" });
    await table.getByRole("rowheader", { name: /tenant:a_2Fb/ }).waitFor();
    const rows = await table
      .getByRole("row")
      .evaluateAll((found) =>
        found.slice(1).map((row) => [...row.querySelectorAll("th code, td")].map((cell) => cell.textContent)),
      );
    expect(rows).toEqual([
      ["tenant:acme", "3", "1/1", "0"],
      ["tenant:globex", "1", "1/1", "0"],
      ["tenant:a_2Fb", "0", "1/1", "0"],
    ]);
    const reindex = page.getByRole("article", { name: "search/reindex" });
    await reindex.getByRole("rowheader", { name: /site:docs/ }).waitFor();
    expect(await reindex.getByText("tenant:").count()).toBe(0);
    expect(await page.getByRole("article", { name: "plain" }).getByRole("table").count()).toBe(0);

    // One key's detail, on demand, from GET /v2/flowControl/{key}.
    await sync.getByRole("button", { name: "Detail of tenant:acme" }).click();
    const detail = sync.getByRole("cell", { name: "tenant:acme, detail" });
    await detail.getByText("running").waitFor();
    expect(await detail.getByText("nothing (each message's own limits)").count()).toBe(1);
    const keyUrls = requests.seen.map((request) => new URL(request.url()).pathname);
    expect(keyUrls.filter((path) => path.endsWith("/api/qstash/v2/flowControl/tenant%3Aacme"))).toHaveLength(1);

    // One list call a poll for the whole page, not one per job: never more than the logs' own polls, plus one.
    const lists = keyUrls.filter((path) => path.endsWith("/api/qstash/v2/flowControl")).length;
    const logs = keyUrls.filter((path) => path.endsWith("/api/qstash/v2/events")).length;
    expect(lists).toBeGreaterThan(0);
    expect(lists).toBeLessThanOrEqual(logs + 1);
    requests.expectAllListed();
  });
});
