// examples/next in Chromium (issue 19): built with `next build`, started with `next start` against `qjobs dev`
// (QStash and the Redis stand-in); a person's clicks followed to the end of both runs with useRun.
import { fileURLToPath } from "node:url";
import type { Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browser, browserMissing } from "../../../testkit/browser.js";
import { runCli } from "../../../testkit/cli.js";
import { buildNext, NEXT_CREDENTIALS, type StartedNext, startNext } from "../../../testkit/next.js";

const app = fileURLToPath(new URL("..", import.meta.url));
const credentials = NEXT_CREDENTIALS;

describe("the committed generated files", () => {
  it("are current: qjobs generate --check passes", async () => {
    const run = await runCli(["generate", "--check", "--cwd", app]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });
});

describe.skipIf(browserMissing())("examples/next: the page follows its runs to the end with useRun", () => {
  let started: StartedNext | undefined;
  let appUrl = "";
  let page: Page;
  const requests: Request[] = [];

  beforeAll(async () => {
    buildNext(app, 240_000);
    started = await startNext(app);
    ({ appUrl } = started);
    page = await (await browser()).newPage();
    page.on("request", (request) => requests.push(request));
    await page.goto(appUrl);
  }, 300_000);

  afterAll(async () => {
    await page?.close();
    await started?.stop();
  });

  const text = (testId: string) =>
    page
      .getByTestId(testId)
      .textContent({ timeout: 100 })
      .catch(() => null);

  // Each flow is clicked through once, by whichever test needs it first: any test passes alone (-t) or in any order.
  const once = <T>(run: () => Promise<T>) => {
    let done: Promise<T> | undefined;
    return () => (done ??= run());
  };
  const report = once(async () => {
    await page.getByRole("button", { name: "Build the report" }).click();
    await expect.poll(() => text("report-progress"), { timeout: 20_000 }).toMatch(/^Step [123] of 3$/);
    await expect
      .poll(() => text("report-result"), { timeout: 20_000 })
      .toBe(JSON.stringify({ pages: 12, url: "/reports/12.pdf" }));
  });
  const charge = once(async () => {
    await page.getByRole("button", { name: "Charge the card" }).click();
    await expect.poll(() => text("charge-error"), { timeout: 20_000 }).toBe("Your card was declined");
  });

  it("a report: its progress shows while it runs, then its result, without a reload", async () => {
    await report();
    expect(await text("report-status")).toBe("succeeded");
  });

  it("a charge that throws NonRetryableError: the page shows its message", async () => {
    await charge();
    expect(await text("charge-status")).toBe("failed");
  });

  it("the runs were read from the jobs route with a token in a header, never in a URL", async () => {
    await report();
    await charge();
    const reads = requests.filter((request) => request.url().includes("/api/jobs?run="));
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) {
      expect(read.method()).toBe("GET");
      expect(await read.headerValue("authorization")).toMatch(/^Bearer v1\./);
      expect(read.url()).not.toContain("token");
    }
  });

  it("no request of the page carries the QStash token, a signing key or the store's token", async () => {
    await report();
    await charge();
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
