import { Client } from "@upstash/qstash";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, browserMissing } from "../../../testkit/browser.js";
import type { Destination } from "../../../testkit/destination.js";
import { rawRequest } from "../../../testkit/raw-request.js";
import { DECLARED_CALLBACK, dashboardProject, recordRequests, recordResponses, startApp } from "./dashboard-support.js";
import { runCli, spawnCli } from "./support.js";

// `qjobs dashboard` against a QStash other than its own: a second `qjobs dev` process (its own state folder, its
// own token) stands in for the cloud.
const CLOUD_TOKEN = "cloud-token-3f9c1a7e-never-shown-to-the-page";
const BYPASS_SECRET = "bypass-5d1e0c-never-shown-to-the-page";

let app: Destination;
let jobsUrl: string;
let cloudUrl: string;
let dashboard: string;
let cloud: Client;

beforeAll(async () => {
  app = await startApp();
  jobsUrl = `${app.url}/api/jobs`;
  const project = await dashboardProject();
  const qstash = spawnCli(
    ["dev", "--cwd", project, "--port", "0", "--retry-scale", "0.0001", "--token", CLOUD_TOKEN, "--app-url", jobsUrl],
    { lifetime: "file" },
  );
  [, cloudUrl = ""] = await qstash.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
  const cli = spawnCli(["dashboard", "--cwd", project, "--port", "0", "--app-url", jobsUrl], {
    lifetime: "file",
    env: { QSTASH_URL: cloudUrl, QSTASH_TOKEN: CLOUD_TOKEN, VERCEL_AUTOMATION_BYPASS_SECRET: BYPASS_SECRET },
  });
  [, dashboard = ""] = await cli.waitFor(/Open (\S+)/);
  cloud = new Client({ baseUrl: cloudUrl, token: CLOUD_TOKEN, devMode: false, enableTelemetry: false, retry: false });
});
afterAll(() => app.close());

/** A raw request to the dashboard's server, with whatever Host and headers an attacker would send. */
function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const url = new URL(path, dashboard);
  return rawRequest(Number(url.port), { method: "GET", ...options, path: url.pathname + url.search });
}

describe("the dashboard's servers: what they refuse", () => {
  it("prints an address with a secret made for this launch", () => {
    expect(dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{22}\/$/);
  });

  it("dashboard-without-secret-refused: the page, the project and the proxy need the secret in the address", async () => {
    const origin = new URL(dashboard).origin;
    for (const path of [
      "/",
      "/api/project",
      "/api/qstash/v2/dlq",
      "/not-the-secret/",
      "/not-the-secret/api/qstash/v2/dlq",
    ]) {
      const answer = await raw(`${origin}${path}`);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.body).not.toContain(CLOUD_TOKEN);
    }
    expect((await raw(dashboard)).status).toBe(200);
  });

  it("dashboard-proxy-unlisted-endpoint-refused: no signing keys, no schedule or queue changes through it", async () => {
    const attempts = [
      { method: "GET", path: "api/qstash/v2/keys" },
      {
        method: "POST",
        path: "api/qstash/v2/schedules/https://evil.example/",
        headers: { "upstash-cron": "* * * * *" },
      },
      { method: "DELETE", path: "api/qstash/v2/schedules/anything" },
      { method: "POST", path: "api/qstash/v2/queues", body: '{"queueName":"q"}' },
      { method: "DELETE", path: "api/qstash/v2/dlq" },
    ];
    for (const attempt of attempts) {
      const answer = await raw(new URL(attempt.path, dashboard).href, attempt);
      expect({ ...attempt, status: answer.status }).toEqual({ ...attempt, status: 403 });
      expect(answer.body).toContain("The dashboard does not call");
    }
    expect(await cloud.schedules.list()).toHaveLength(1); // only the declared one
  });

  it("dashboard-proxy-foreign-destination-refused: it publishes only to the app's jobs route", async () => {
    const before = (await cloud.logs({ filter: { state: "CREATED" } })).logs.length;
    for (const destination of [
      "https://evil.example/api/jobs?job=flaky",
      `${app.url}/elsewhere?job=flaky`,
      "my-url-group",
    ]) {
      const answer = await raw(new URL(`api/qstash/v2/publish/${destination}`, dashboard).href, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect({ destination, status: answer.status }).toEqual({ destination, status: 403 });
    }
    expect((await cloud.logs({ filter: { state: "CREATED" } })).logs.length).toBe(before);
  });

  it("dashboard-proxy-foreign-callback-refused: a job's answer goes nowhere the project did not declare", async () => {
    const publish = (headers: Record<string, string>) =>
      raw(new URL(`api/qstash/v2/publish/${jobsUrl}?job=notify`, dashboard).href, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: "{}",
      });
    const attacks: Record<string, string>[] = [
      { "upstash-callback": "https://evil.example/steal" },
      { "upstash-failure-callback": "https://evil.example/steal" },
      { "upstash-callback": DECLARED_CALLBACK, "upstash-failure-callback": "http://127.0.0.1:9/other" },
    ];
    for (const headers of attacks) {
      const answer = await publish(headers);
      expect({ headers, status: answer.status }).toEqual({ headers, status: 403 });
      expect(answer.body).toContain("callbacks only to the job's hook or where the job declares them");
    }
    // What the project declares goes through, and the job's own failure callback to the route (every message
    // carries it, so the run ends failed when QStash gives up); another job's hook does not.
    expect((await publish({ "upstash-callback": DECLARED_CALLBACK })).status).toBe(200);
    expect((await publish({ "upstash-failure-callback": `${jobsUrl}?job=notify&hook=failure` })).status).toBe(200);
    expect((await publish({ "upstash-failure-callback": `${jobsUrl}?job=flaky&hook=failure` })).status).toBe(403);
  });

  it("dashboard-cross-site-request-refused: another site's page cannot drive it", async () => {
    const publish = new URL(`api/qstash/v2/publish/${jobsUrl}?job=flaky`, dashboard).href;
    const attacks: Record<string, string>[] = [
      { origin: "http://evil.example" },
      { "sec-fetch-site": "cross-site" },
      { origin: "null" },
    ];
    for (const headers of attacks) {
      const answer = await raw(publish, { method: "POST", headers, body: "{}" });
      expect({ headers, status: answer.status }).toEqual({ headers, status: 403 });
    }
  });

  it("dashboard-dns-rebinding-refused: a Host that is not loopback gets nothing, secret or not", async () => {
    const answer = await raw(dashboard, { headers: { host: `evil.example:${new URL(dashboard).port}` } });
    expect(answer.status).toBe(403);
    expect(answer.body).toContain("not a loopback address");
  });

  it("dev-dashboard-own-token-without-secret-refused: with a token of the user's own, qjobs dev's page needs a secret too", async () => {
    const dev = spawnCli(["dev", "--cwd", await dashboardProject(), "--port", "0", "--token", "my-own-token"]);
    const [, url = ""] = await dev.waitFor(/Dashboard: (\S+)/);
    const { origin } = new URL(url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{22}\/$/);
    expect((await fetch(`${origin}/`)).status).toBe(404);
    expect((await fetch(`${origin}/api/qstash/v2/dlq`)).status).toBe(404);
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(`${url}api/qstash/v2/dlq`)).status).toBe(200);
  });

  it("dev-dashboard-cross-site-request-refused: a page on another port cannot use qjobs dev's proxy", async () => {
    const dev = spawnCli(["dev", "--cwd", await dashboardProject(), "--port", "0", "--app-url", jobsUrl]);
    const [, url = ""] = await dev.waitFor(/Dashboard: (\S+)/);
    const publish = `${url}api/qstash/v2/publish/${jobsUrl}?job=flaky`;
    const attacks: Record<string, string>[] = [{ origin: "http://localhost:3000" }, { "sec-fetch-site": "same-site" }];
    for (const headers of attacks) {
      const answer = await fetch(publish, { method: "POST", headers, body: "{}" });
      expect({ headers, status: answer.status }).toEqual({ headers, status: 403 });
    }
    expect((await fetch(publish, { method: "POST", body: "{}" })).status).toBe(200);
  });

  it("refuses an app URL that is not absolute, in qjobs dev and qjobs dashboard", async () => {
    const project = await dashboardProject();
    for (const args of [
      ["dev", "--cwd", project, "--port", "0"],
      ["dashboard", "--cwd", project, "--port", "0"],
    ]) {
      const run = await runCli([...args, "--app-url", "localhost:3000/api/jobs"], {
        env: { QSTASH_TOKEN: CLOUD_TOKEN, QSTASH_URL: cloudUrl },
      });
      expect({ args: args[0], code: run.code }).toEqual({ args: args[0], code: 1 });
      expect(run.stderr).toContain('must be an absolute http(s) URL, got "localhost:3000/api/jobs"');
    }
  });

  it("refuses to start without QSTASH_TOKEN, saying where to put it", async () => {
    const run = await runCli(["dashboard", "--cwd", await dashboardProject(), "--port", "0"], {
      env: { QSTASH_TOKEN: "", QSTASH_URL: cloudUrl },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("QSTASH_TOKEN is not set");
  });
});

const missing = browserMissing();

describe.skipIf(missing)("qjobs dashboard in Chromium, against another QStash", () => {
  let page: Page;

  it("shows the other QStash's jobs, messages, schedules and dead letters; deletes a dead letter once confirmed; dispatches; never sees the token or the bypass secret", async () => {
    const delivered = await cloud.publishJSON({
      url: `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`,
      body: { name: "Prod" },
    });
    const failed = await cloud.publishJSON({ url: `${jobsUrl}?job=flaky`, body: { n: 1 }, retries: 0 });
    await expect
      .poll(async () => (await cloud.dlq.listMessages({ filter: { messageId: failed.messageId } })).messages.length)
      .toBe(1);

    page = await (await browser()).newPage();
    const requests = recordRequests(page, dashboard);
    const seen = recordResponses(page);
    await page.goto(dashboard);
    expect(await page.title()).toBe(`qjobs dashboard · ${new URL(cloudUrl).host}`);

    const nav = page.getByRole("navigation", { name: "Views" });
    const greet = page.getByRole("article", { name: "emails/greet" });
    await greet.getByRole("link", { name: "1 delivered" }).waitFor();

    await nav.getByRole("link", { name: "Messages" }).click();
    await page.getByRole("link", { name: delivered.messageId }).waitFor();
    await page.getByRole("link", { name: failed.messageId }).waitFor();

    await nav.getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("row", { name: "nightly reports" }).getByText("active").waitFor();

    await nav.getByRole("link", { name: "Dead letters" }).click();
    const dead = page.getByRole("row", { name: `Dead letter ${failed.messageId}` });
    await dead.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain("cannot be retried afterwards");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await dead.waitFor({ state: "detached" });
    expect((await cloud.dlq.listMessages({ filter: { messageId: failed.messageId } })).messages).toEqual([]);

    // A dispatch from the page passes Vercel's deployment protection: the CLI adds the bypass secret.
    await nav.getByRole("link", { name: "Jobs" }).click();
    await greet.getByRole("button", { name: "Run" }).click();
    await expect.poll(() => greet.getByRole("textbox", { name: "Payload" }).inputValue()).toContain('"Prod"');
    await greet.getByRole("button", { name: "Dispatch" }).click();
    const sent = (await greet.getByRole("status").getByRole("link").textContent()) ?? "";
    await expect
      .poll(
        () =>
          app.deliveries.find((delivery) => delivery.headers["upstash-message-id"] === sent)?.headers[
            "x-vercel-protection-bypass"
          ],
      )
      .toBe(BYPASS_SECRET);
    // QStash's log of that message lists the header it was published with: the page sees it redacted.
    await greet.getByRole("status").getByRole("link").click();
    await page
      .getByRole("row", { name: /X-Vercel-Protection-Bypass/i })
      .getByText("REDACTED")
      .waitFor();

    requests.expectAllListed();
    const everything = await seen.answers();
    expect(everything.length).toBeGreaterThan(5);
    expect(everything.filter((text) => text.includes(CLOUD_TOKEN) || text.includes(BYPASS_SECRET))).toEqual([]);
    expect(await seen.held()).not.toContain(CLOUD_TOKEN);
    await page.close();
  });
});
