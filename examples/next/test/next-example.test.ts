// examples/next in Chromium (issue 19): built with `next build`, started with `next start` against `qjobs dev`
// (QStash and the Redis stand-in); a person's clicks followed to the end of both runs with useRun.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, browserMissing } from "../../../testkit/browser.js";
import { runCli, spawnCli } from "../../../testkit/cli.js";
import { freePort, until } from "../../../testkit/processes.js";

const app = fileURLToPath(new URL("..", import.meta.url));
const next = join(app, "node_modules", "next", "dist", "bin", "next");
// `next start` runs with NODE_ENV=production, where the public development keys are refused (by design): qjobs dev
// runs with keys of its own here, as a production app would have.
const credentials = {
  token: "example_token_0123456789",
  current: "sig_example_current_0123456789",
  next: "sig_example_next_0123456789",
};
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NO_COLOR: "1" };

describe("the committed generated files", () => {
  it("are current: qjobs generate --check passes", async () => {
    const run = await runCli(["generate", "--check", "--cwd", app]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });
});

describe.skipIf(browserMissing())("examples/next: the page follows its runs to the end with useRun", () => {
  let server: ChildProcess | undefined;
  let appUrl = "";
  let page: Page;
  const requests: Request[] = [];

  beforeAll(async () => {
    const build = spawnSync(process.execPath, [next, "build"], { cwd: app, encoding: "utf8", env, timeout: 240_000 });
    if (build.status !== 0) throw new Error(`next build failed:\n${build.stdout}\n${build.stderr}`);
    // qjobs dev serves the run store too: the Upstash Redis stand-in under /redis, with the same token.
    const [qstashPort, redisPort, appPort] = [await freePort(), await freePort(), await freePort()];
    const qstashUrl = `http://127.0.0.1:${qstashPort}`;
    appUrl = `http://127.0.0.1:${appPort}`;
    const keys = [
      "--token",
      credentials.token,
      "--current-signing-key",
      credentials.current,
      "--next-signing-key",
      credentials.next,
    ];
    spawnCli(["dev", "--port", String(qstashPort), "--redis-port", String(redisPort), "--quiet", ...keys], {
      lifetime: "file",
    });
    server = spawn(process.execPath, [next, "start", "-p", String(appPort), "-H", "127.0.0.1"], {
      cwd: app,
      stdio: "ignore",
      env: {
        ...env,
        QSTASH_URL: qstashUrl,
        QSTASH_TOKEN: credentials.token,
        QSTASH_CURRENT_SIGNING_KEY: credentials.current,
        QSTASH_NEXT_SIGNING_KEY: credentials.next,
        QJOBS_URL: `${appUrl}/api/jobs`,
        QJOBS_REDIS_REST_URL: `http://127.0.0.1:${redisPort}/redis`,
        QJOBS_REDIS_REST_TOKEN: credentials.token,
      },
    });
    await until("next start", async () => ((await fetch(appUrl)).ok ? true : undefined), 60_000);
    await until("qjobs dev", async () =>
      (await fetch(`${qstashUrl}/v2/keys`, { headers: { authorization: `Bearer ${credentials.token}` } })).ok
        ? true
        : undefined,
    );
    page = await (await browser()).newPage();
    page.on("request", (request) => requests.push(request));
    await page.goto(appUrl);
  }, 300_000);

  afterAll(async () => {
    await page?.close();
    if (server && server.exitCode === null) {
      const exited = once(server, "exit");
      server.kill("SIGTERM");
      const killer = setTimeout(() => server?.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    }
  });

  const text = (testId: string) =>
    page
      .getByTestId(testId)
      .textContent({ timeout: 100 })
      .catch(() => null);

  it("a report: its progress shows while it runs, then its result, without a reload", async () => {
    await page.getByRole("button", { name: "Build the report" }).click();
    await expect.poll(() => text("report-progress"), { timeout: 20_000 }).toMatch(/^Step [123] of 3$/);
    await expect
      .poll(() => text("report-result"), { timeout: 20_000 })
      .toBe(JSON.stringify({ pages: 12, url: "/reports/12.pdf" }));
    expect(await text("report-status")).toBe("succeeded");
  });

  it("a charge that throws NonRetryableError: the page shows its message", async () => {
    await page.getByRole("button", { name: "Charge the card" }).click();
    await expect.poll(() => text("charge-error"), { timeout: 20_000 }).toBe("Your card was declined");
    expect(await text("charge-status")).toBe("failed");
  });

  it("the runs were read from the jobs route with a token in a header, never in a URL", async () => {
    const reads = requests.filter((request) => request.url().includes("/api/jobs?run="));
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) {
      expect(read.method()).toBe("GET");
      expect(await read.headerValue("authorization")).toMatch(/^Bearer v1\./);
      expect(read.url()).not.toContain("token");
    }
  });

  it("no request of the page carries the QStash token, a signing key or the store's token", async () => {
    const secrets = [credentials.token, credentials.current, credentials.next]; // the store takes qjobs dev's token
    for (const request of requests) {
      const sent = [request.url(), JSON.stringify(await request.allHeaders()), request.postData() ?? ""].join("\n");
      for (const secret of secrets) expect(sent).not.toContain(secret);
    }
    // Nor does any answer the page got: the HTML, the scripts, the server actions' returns.
    for (const request of requests) {
      const body = await (await request.response())?.text().catch(() => "");
      for (const secret of secrets) expect(body ?? "").not.toContain(secret);
    }
  });
});
