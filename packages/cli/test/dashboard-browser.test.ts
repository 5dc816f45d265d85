import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { browser, browserMissing } from "../../../testkit/browser.js";
import type { Destination } from "../../../testkit/destination.js";
import { dashboardProject, recordRequests, startApp } from "./dashboard-support.js";
import { localClient } from "./dev-support.js";
import { repoRoot, spawnCli } from "./support.js";

// `pnpm screenshots` writes the README's pictures into docs/; otherwise they go to a temporary folder.
const shots =
  process.env.QJOBS_SCREENSHOTS === "docs" ? join(repoRoot, "docs") : mkdtempSync(join(tmpdir(), "qjobs-shots-"));

/** The relative luminance of a CSS rgb() color (WCAG). */
function luminance(color: string): number {
  const [r = 0, g = 0, b = 0] = (color.match(/\d+(\.\d+)?/g) ?? []).map(Number).map((channel) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a: string, b: string) => {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
};

const missing = browserMissing();

describe.skipIf(missing)("the dashboard of qjobs dev, in Chromium", () => {
  let app: Destination;
  let dashboard: string;
  let qstashUrl: string;
  let jobsUrl: string;
  let page: Page;
  let requests: ReturnType<typeof recordRequests>;

  beforeAll(async () => {
    app = await startApp();
    jobsUrl = `${app.url}/api/jobs`;
    const project = await dashboardProject();
    const cli = spawnCli(["dev", "--cwd", project, "--port", "0", "--retry-scale", "0.0001", "--app-url", jobsUrl], {
      lifetime: "file",
    });
    [, qstashUrl = ""] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    [, dashboard = ""] = await cli.waitFor(/Dashboard: (\S+)/);
  });
  afterAll(() => app.close());

  const open = async (hash = "") => {
    page = await (await browser()).newPage();
    requests = recordRequests(page, dashboard);
    await page.goto(`${dashboard}${hash}`);
  };
  afterEach(async () => {
    requests.expectAllListed();
    await page.close();
  });
  const deliveriesTo = (key: string) =>
    app.deliveries.filter((delivery) => {
      const query = new URL(delivery.target, app.url).searchParams;
      return query.get("job") === key && !query.has("hook");
    });

  it("is served at the server's own address, titled qjobs dev, with every job of the project", async () => {
    expect(dashboard).toBe(`${qstashUrl}/`);
    await open();
    expect(await page.title()).toBe("qjobs dev");
    for (const key of ["emails/greet", "flaky", "nightly"]) await page.getByRole("heading", { name: key }).waitFor();
    const greet = page.getByRole("article", { name: "emails/greet" });
    expect(await greet.getByText("jobs/greet.job.ts:2").count()).toBe(1);
    expect(await greet.getByText("retries: 2").count()).toBe(1);
    const nightly = page.getByRole("article", { name: "nightly" });
    expect(await nightly.getByText("0 3 * * *").count()).toBe(1);
  });

  it("dispatches from the Run form and shows the message delivered; invalid JSON never leaves the page", async () => {
    await open();
    const greet = page.getByRole("article", { name: "emails/greet" });
    await greet.getByRole("button", { name: "Run" }).click();
    const payload = greet.getByRole("textbox", { name: "Payload" });
    await expect.poll(() => payload.isEnabled()).toBe(true);
    await payload.fill('{"name": "Ada"');
    await greet.getByRole("button", { name: "Dispatch" }).click();
    await greet.getByRole("alert").filter({ hasText: "Payload is not valid JSON" }).waitFor();
    expect(requests.seen.filter((request) => request.url().includes("/v2/publish/"))).toEqual([]);

    await payload.fill('{"name": "Ada"}');
    await greet.getByRole("button", { name: "Dispatch" }).click();
    const sent = greet.getByRole("status").getByRole("link");
    await sent.waitFor();
    const messageId = (await sent.textContent()) ?? "";
    await expect
      .poll(() => deliveriesTo("emails/greet").some((delivery) => delivery.headers["upstash-message-id"] === messageId))
      .toBe(true);
    const delivery = deliveriesTo("emails/greet").find(
      (delivery) => delivery.headers["upstash-message-id"] === messageId,
    );
    expect(JSON.parse(delivery?.body.toString() ?? "null")).toEqual({ name: "Ada" });
    // Its declared options went with it, as the registry's dispatch sends them.
    expect(delivery?.headers["upstash-retried"]).toBe("0");

    await sent.click();
    await page.getByRole("heading", { name: `Message ${messageId}` }).waitFor();
    await page.locator(".badge", { hasText: "delivered" }).waitFor();
    const attempt = page.getByRole("row").filter({ hasText: "200" });
    await attempt.waitFor();
    expect(await page.getByLabel("Message payload").textContent()).toContain('"name": "Ada"');

    // Run again: the form starts from the job's last payload.
    await page.goto(`${dashboard}#/jobs`);
    await page.getByRole("article", { name: "emails/greet" }).getByRole("button", { name: "Run" }).click();
    await expect
      .poll(() =>
        page.getByRole("article", { name: "emails/greet" }).getByRole("textbox", { name: "Payload" }).inputValue(),
      )
      .toContain('"Ada"');
  });

  it("lists new messages live, filtered by job and state", async () => {
    const publish = () =>
      localClient(qstashUrl).publishJSON({
        url: `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`,
        body: { name: "Live" },
      });
    const first = await publish();
    await open("#/messages?job=emails%2Fgreet");
    await page.getByRole("link", { name: first.messageId }).waitFor();
    const rows = page.getByRole("row").filter({ hasText: "emails/greet" });
    const { messageId } = await publish();
    await page.getByRole("link", { name: messageId }).waitFor();
    // Newest first: the new one on top, the one before it next.
    expect(await rows.first().textContent()).toContain(messageId);
    expect(await rows.nth(1).textContent()).toContain(first.messageId);
    await page.getByRole("combobox", { name: "State" }).selectOption("failed");
    await page.getByText("No messages match.").waitFor();
  });

  it("pages the messages, 50 at a time, with no message on two pages", async () => {
    const url = `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`;
    await localClient(qstashUrl).batchJSON(Array.from({ length: 51 }, (_, n) => ({ url, body: { n } })));
    await open("#/messages?job=emails%2Fgreet");
    const links = page.getByRole("table").getByRole("link");
    await expect.poll(() => links.count()).toBe(50);
    const first = await links.allTextContents();
    await page.getByRole("button", { name: "Older" }).click();
    await page.getByText("an older page").waitFor();
    await expect.poll(async () => (await links.allTextContents()).some((id) => first.includes(id))).toBe(false);
    expect(await links.count()).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Newer" }).click();
    await expect.poll(() => links.allTextContents()).toEqual(expect.arrayContaining(first.slice(-10)));
  });

  it("shows a failing job's attempts and its dead letter, and retries it from the DLQ", async () => {
    await open();
    const flaky = page.getByRole("article", { name: "flaky" });
    await flaky.getByRole("button", { name: "Run" }).click();
    await flaky.getByRole("button", { name: "Dispatch" }).click();
    const link = flaky.getByRole("status").getByRole("link");
    await link.waitFor();
    const messageId = (await link.textContent()) ?? "";
    await link.click();
    // retries: 1 → two attempts, both answered 500 "boom", then the DLQ.
    await page.getByText("dead-letter queue").waitFor();
    const attempts = page.getByRole("row").filter({ hasText: "boom" });
    await expect.poll(() => attempts.count()).toBe(2);
    expect(await attempts.first().textContent()).toContain("500");

    await page.getByRole("link", { name: "Dead letters" }).click();
    const dead = page.getByRole("row", { name: `Dead letter ${messageId}` });
    await dead.waitFor();
    const tries = deliveriesTo("flaky").length;
    await dead.getByRole("button", { name: "Retry" }).click();
    await page.getByRole("status").filter({ hasText: "Retried 1 message" }).waitFor();
    await dead.waitFor({ state: "detached" });
    await expect.poll(() => deliveriesTo("flaky").length).toBeGreaterThan(tries);
  });

  it("without store variables, reads runs from qjobs dev's own Redis: a run not recorded is said so, not an error", async () => {
    // This app records no runs; before qjobs dev served its own Redis the page said "Runs are not configured".
    const { messageId } = await localClient(qstashUrl).publishJSON({
      url: `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`,
      body: { name: "Ada" },
    });
    await open(`#/messages/${messageId}`);
    await page.getByRole("region", { name: "Run" }).getByText("No run recorded for this message").waitFor();
    expect(await page.getByTestId("runs-setup").count()).toBe(0);
    expect(await page.locator("p.error").count()).toBe(0);
  });

  it("asks before deleting a dead letter, and keeps it when told to", async () => {
    const { messageId } = await localClient(qstashUrl).publishJSON({
      url: `${jobsUrl}?job=flaky`,
      body: {},
      retries: 0,
    });
    await open("#/dlq");
    const dead = page.getByRole("row", { name: `Dead letter ${messageId}` });
    await dead.waitFor();
    await dead.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Keep" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect(await dead.count()).toBe(1);
    await dead.getByRole("button", { name: "Delete" }).click();
    await dialog.getByRole("button", { name: "Delete" }).click();
    await dead.waitFor({ state: "detached" });
    const left = await localClient(qstashUrl).dlq.listMessages({ filter: { messageId } });
    expect(left.messages).toEqual([]);
  });

  it("replays a message, edits and replays it, with the job's declared options", async () => {
    const greet = `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`;
    const { messageId } = await localClient(qstashUrl).publishJSON({ url: greet, body: { name: "Original" } });
    await open(`#/messages/${messageId}`);
    await page.locator(".badge", { hasText: "delivered" }).waitFor();

    await page.getByRole("button", { name: "Replay", exact: true }).click();
    await page
      .getByRole("heading", { name: /^Message / })
      .filter({ hasNotText: messageId })
      .waitFor();
    const replayed =
      (await page.getByRole("heading", { name: /^Message / }).textContent())?.replace("Message ", "") ?? "";
    const arrived = (id: string) =>
      deliveriesTo("emails/greet").find((delivery) => delivery.headers["upstash-message-id"] === id);
    await expect.poll(() => arrived(replayed) !== undefined).toBe(true);
    expect(JSON.parse(arrived(replayed)?.body.toString() ?? "null")).toEqual({ name: "Original" });

    await page.getByRole("button", { name: "Edit and replay" }).click();
    const payload = page.getByRole("textbox", { name: "Payload" });
    await expect.poll(() => payload.inputValue()).toContain('"Original"');
    await payload.fill('{ "name": "Edited" }');
    await page.getByRole("button", { name: "Dispatch" }).click();
    await page
      .getByRole("heading", { name: /^Message / })
      .filter({ hasNotText: replayed })
      .waitFor();
    const edited =
      (await page.getByRole("heading", { name: /^Message / }).textContent())?.replace("Message ", "") ?? "";
    await expect.poll(() => arrived(edited) !== undefined).toBe(true);
    expect(JSON.parse(arrived(edited)?.body.toString() ?? "null")).toEqual({ name: "Edited" });
    // Replays carry the job's declared label, as a dispatch does.
    const { logs } = await localClient(qstashUrl).logs({ filter: { messageId: edited, state: "CREATED" } });
    expect(logs[0]?.labels ?? logs[0]?.label).toEqual(expect.arrayContaining(["emails"]));
  });

  it("links a replay to its original and back, from QStash's logs alone (no run store; issue 21)", async () => {
    const greet = `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`;
    const { messageId } = await localClient(qstashUrl).publishJSON({ url: greet, body: { name: "Linked" } });
    await open(`#/messages/${messageId}`);
    await page.locator(".badge", { hasText: "delivered" }).waitFor();
    const heading = page.getByRole("heading", { name: /^Message / });

    await page.getByRole("button", { name: "Replay", exact: true }).click();
    await heading.filter({ hasNotText: messageId }).waitFor();
    const replayed = (await heading.textContent())?.replace("Message ", "") ?? "";
    // The replay's view names its original; the link leads there, and the original lists the replay.
    await page.getByRole("link", { name: messageId, exact: true }).click();
    await heading.filter({ hasText: messageId }).waitFor();
    await page.getByRole("link", { name: replayed, exact: true }).click();
    await heading.filter({ hasText: replayed }).waitFor();
    await page.getByRole("link", { name: messageId, exact: true }).waitFor();
    // The app got the header too, naming the original.
    const delivery = () =>
      deliveriesTo("emails/greet").find((arrived) => arrived.headers["upstash-message-id"] === replayed);
    await expect.poll(() => delivery()?.headers["qjobs-replay-of"]).toBe(messageId);
  });

  it("links a dead letter's retry to the new message it made, and back, on each message's view (issue 21)", async () => {
    const { messageId } = await localClient(qstashUrl).publishJSON({
      url: `${jobsUrl}?job=flaky`,
      body: { n: "linked" },
      retries: 0,
    });
    await open("#/dlq?job=flaky");
    const dead = page.getByRole("row", { name: `Dead letter ${messageId}` });
    await dead.getByRole("button", { name: "Retry" }).click();
    const retried = page.getByRole("list", { name: "Retried messages" }).getByRole("listitem");
    await retried.waitFor();
    const [from, to] = await retried.getByRole("link").allTextContents();
    expect(from).toBe(messageId);
    expect(to).toMatch(/^msg_/);
    expect(to).not.toBe(messageId);
    await retried.getByRole("link", { name: to ?? "", exact: true }).click();
    await page.getByRole("heading", { name: `Message ${to}` }).waitFor();
    // After the Dead letters view is left: the retry names its dead letter, and the dead letter its retry.
    const facts = page.locator("dl.facts");
    await facts.getByText("Retry of", { exact: true }).waitFor();
    await facts.getByRole("link", { name: messageId, exact: true }).click();
    await page.getByRole("heading", { name: `Message ${messageId}` }).waitFor();
    await facts.getByText("Retried as", { exact: true }).waitFor();
    await facts.getByRole("link", { name: to ?? "", exact: true }).waitFor();
  });

  it("cancels a message not yet delivered, once confirmed", async () => {
    const { messageId } = await localClient(qstashUrl).publishJSON({
      url: `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`,
      body: { name: "Later" },
      delay: "1h",
    });
    await open(`#/messages/${messageId}`);
    await page.locator(".badge", { hasText: "scheduled" }).waitFor();
    await page.getByRole("button", { name: "Cancel", exact: true }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain(`Cancel message ${messageId}?`);
    await dialog.getByRole("button", { name: "Cancel message" }).click();
    await page.locator(".badge", { hasText: "cancelled" }).waitFor();
    expect(await page.getByRole("button", { name: "Cancel", exact: true }).count()).toBe(0);
  });

  it("retries the selected dead letters at once", async () => {
    const client = localClient(qstashUrl);
    const ids = await Promise.all(
      [1, 2].map(
        async (n) => (await client.publishJSON({ url: `${jobsUrl}?job=flaky`, body: { n }, retries: 0 })).messageId,
      ),
    );
    await open("#/dlq?job=flaky");
    for (const id of ids) await page.getByRole("checkbox", { name: `Select ${id}` }).check();
    await page.getByRole("button", { name: "Retry selected" }).click();
    await page.getByRole("status").filter({ hasText: "Retried 2 messages" }).waitFor();
    for (const id of ids) await page.getByRole("row", { name: `Dead letter ${id}` }).waitFor({ state: "detached" });
  });

  it("pauses, triggers and resumes a declared schedule", async () => {
    await open("#/schedules");
    const row = page.getByRole("row", { name: "nightly reports" });
    await row.getByText("active").waitFor();
    await row.getByRole("button", { name: "Pause" }).click();
    await row.getByText("paused").waitFor();
    const client = localClient(qstashUrl);
    const [schedule] = await client.schedules.list();
    expect(schedule?.isPaused).toBe(true);

    const runs = deliveriesTo("nightly").length;
    await row.getByRole("button", { name: "Trigger now" }).click();
    await page.getByRole("status").filter({ hasText: "Triggered nightly reports" }).waitFor();
    await expect.poll(() => deliveriesTo("nightly").length).toBe(runs + 1);
    expect(JSON.parse(deliveriesTo("nightly").at(-1)?.body.toString() ?? "null")).toEqual({ period: "day" });

    await row.getByRole("button", { name: "Resume" }).click();
    await row.getByText("active").waitFor();
    expect((await client.schedules.list())[0]?.isPaused).toBe(false);
  });

  it("starts the Payload of a job with no history and no schedule at {}", async () => {
    await open();
    const quiet = page.getByRole("article", { name: "quiet" });
    await quiet.getByRole("button", { name: "Run" }).click();
    await expect.poll(() => quiet.getByRole("textbox", { name: "Payload" }).inputValue()).toBe("{}");
  });

  it("works from the keyboard: Tab to Run, type a payload, Enter to dispatch", async () => {
    await open();
    await page.getByRole("heading", { name: "nightly" }).waitFor();
    const run = page.getByRole("article", { name: "nightly" }).getByRole("button", { name: "Run" });
    for (let presses = 0; presses < 40 && !(await run.evaluate((node) => node === document.activeElement)); presses++)
      await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    const payload = page.getByRole("article", { name: "nightly" }).getByRole("textbox", { name: "Payload" });
    // No history for this job yet: the form starts from its schedule's payload.
    await expect.poll(() => payload.inputValue()).toContain('"period": "day"');
    // The open form takes the focus, so the next Tab reaches Dispatch.
    await expect.poll(() => payload.evaluate((node) => node === document.activeElement)).toBe(true);
    const before = deliveriesTo("nightly").length;
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await expect.poll(() => deliveriesTo("nightly").length).toBe(before + 1);
  });

  // Six page loads: more time than one test's default on a loaded machine.
  it("stays usable 420 px wide: no view scrolls the page sideways; a wide table scrolls in itself (issue 21)", async () => {
    const client = localClient(qstashUrl);
    const failed = await client.publishJSON({ url: `${jobsUrl}?job=flaky`, body: { attempt: 1 }, retries: 0 });
    await expect
      .poll(async () => (await client.dlq.listMessages({ filter: { messageId: failed.messageId } })).messages.length)
      .toBe(1);
    page = await (await browser()).newPage({ viewport: { width: 420, height: 800 } });
    requests = recordRequests(page, dashboard);
    const views = [
      ["#/jobs", () => page.getByRole("heading", { name: "flaky" })],
      ["#/messages", () => page.getByRole("link", { name: failed.messageId })],
      [`#/messages/${failed.messageId}`, () => page.getByRole("heading", { name: "Attempts" })],
      ["#/dlq", () => page.getByRole("row", { name: `Dead letter ${failed.messageId}` })],
      ["#/schedules", () => page.getByRole("row", { name: "nightly reports" })],
    ] as const;
    const widths: Record<string, number> = {};
    for (const [hash, ready] of views) {
      await page.goto(`${dashboard}${hash}`);
      await ready().waitFor({ timeout: 15_000 });
      widths[hash] = await page.evaluate(() => document.documentElement.scrollWidth);
    }
    expect(widths).toEqual(Object.fromEntries(views.map(([hash]) => [hash, 420])));
  });

  it("reads in light and dark (screenshots)", { timeout: 90_000 }, async () => {
    const client = localClient(qstashUrl);
    const greet = `${jobsUrl}?job=${encodeURIComponent("emails/greet")}`;
    for (const name of ["Ada", "Grace", "Edsger"]) await client.publishJSON({ url: greet, body: { name } });
    const failed = await client.publishJSON({ url: `${jobsUrl}?job=flaky`, body: { attempt: 1 }, retries: 1 });
    await expect
      .poll(async () => (await client.dlq.listMessages({ filter: { messageId: failed.messageId } })).messages.length)
      .toBe(1);

    const colors: Record<string, { background: string; text: string }> = {};
    for (const scheme of ["light", "dark"] as const) {
      page = await (await browser()).newPage({ colorScheme: scheme, viewport: { width: 1200, height: 760 } });
      requests = recordRequests(page, dashboard);
      const views = [
        ["jobs", "#/jobs", () => page.getByRole("link", { name: /^[1-9]\d* delivered$/ }).first()],
        ["messages", "#/messages", () => page.getByRole("link", { name: failed.messageId })],
        ["message", `#/messages/${failed.messageId}`, () => page.getByRole("row").filter({ hasText: "boom" }).nth(1)],
        ["dead-letters", "#/dlq", () => page.getByRole("row", { name: `Dead letter ${failed.messageId}` })],
        [
          "schedules",
          "#/schedules",
          () => page.getByRole("row", { name: "nightly reports" }).getByText(/^(active|paused)$/),
        ],
      ] as const;
      for (const [name, hash, ready] of views) {
        if (scheme === "dark" && name !== "jobs") continue;
        await page.goto(`${dashboard}${hash}`, { timeout: 15_000 });
        await ready()
          .waitFor({ timeout: 15_000 })
          .catch((error: Error) => {
            throw new Error(`the ${name} view (${scheme}) did not show its data: ${error.message}`);
          });
        const file = join(shots, `dashboard-${name}${scheme === "dark" ? "-dark" : ""}.png`);
        await page.screenshot({ path: file, timeout: 15_000 });
        expect(statSync(file).size).toBeGreaterThan(10_000);
      }
      colors[scheme] = await page.evaluate(() => {
        const style = getComputedStyle(document.body);
        return { background: style.backgroundColor, text: style.color };
      });
      if (scheme === "light") {
        requests.expectAllListed();
        await page.close();
      }
    }
    expect(luminance(colors.light?.background ?? "")).toBeGreaterThan(0.8);
    expect(luminance(colors.dark?.background ?? "")).toBeLessThan(0.05);
    for (const scheme of ["light", "dark"]) {
      const { background = "", text = "" } = colors[scheme] ?? {};
      expect({ scheme, readable: contrast(background, text) >= 7 }).toEqual({ scheme, readable: true });
    }
  });
});
