// qjobs dev registers the project's declared schedules and fires them on time (issue 12).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { until } from "../../../testkit/processes.js";
import { ManualClock } from "../../local/src/time.js";
import { loadConfig } from "../src/core/config.js";
import { scanProject } from "../src/core/scan.js";
import { registerSchedules } from "../src/schedules/local.js";
import { localClient, startLocal } from "./dev-support.js";
import { fixturesDir, spawnCli, tempProject } from "./support.js";

const fixture = join(fixturesDir, "schedules");

async function declaredJobs() {
  return (await scanProject(await loadConfig(fixture), { persistCache: false })).model.jobs;
}

describe("the engine fires registered schedules on time", () => {
  it("runs each schedule at its cron's next tick (UTC and across zones), with its payload and Upstash-Schedule-Id", async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1)); // a Tuesday, 00:00 UTC
    const { engine, destination } = await startLocal({ clock });
    const jobsUrl = new URL(`${destination.url}/api/jobs`);
    const steps = registerSchedules(engine, await declaredJobs(), jobsUrl);
    expect(steps.map((step) => step.action)).toEqual(["create", "create", "create", "create"]);

    clock.advance(15 * 60_000); // 00:15 UTC: the */15 cleanup
    const [cleanup] = await destination.waitFor(1);
    expect(cleanup?.target).toBe("/api/jobs?job=maintenance%2Fcleanup");
    expect(cleanup?.body.toString()).toBe("");
    expect(String(cleanup?.headers["upstash-schedule-id"])).toMatch(/maintenance_scleanup\.at-0$/);

    // 07:00 UTC is 08:00 in Berlin (winter time): the "eu" digest; 08:00 UTC is 09:00 in Paris: the daily digest.
    clock.advance(8 * 60 * 60_000 - 15 * 60_000);
    // Every tick up to 08:00 is due now: 32 cleanups (00:15 to 08:00), the regional and the daily digest. Wait for
    // all 34, not for the last one due (the deliveries run in parallel and arrive in any order; issue 21's flake).
    await destination.waitFor(34);
    const byTarget = (suffix: string) => destination.deliveries.filter((delivery) => delivery.target.endsWith(suffix));
    expect(byTarget("regional").map((delivery) => delivery.body.toString())).toEqual(['{"region":"eu"}']);
    expect(byTarget("daily-digest").map((delivery) => delivery.body.toString())).toEqual(['{"period":"day"}']);
    expect(byTarget("cleanup")).toHaveLength(32);
  });

  it("keeps schedules made by hand, and removes only the ones no longer declared", async () => {
    const { engine, destination, client } = await startLocal();
    const jobsUrl = new URL(`${destination.url}/api/jobs`);
    await client.schedules.create({
      destination: `${destination.url}/api/jobs?job=x`,
      cron: "0 0 * * *",
      scheduleId: "mine",
    });
    registerSchedules(engine, await declaredJobs(), jobsUrl);
    const steps = registerSchedules(engine, [], jobsUrl);
    expect(steps.filter((step) => step.action === "delete")).toHaveLength(4);
    expect(engine.listSchedules().map((schedule) => schedule.scheduleId)).toEqual(["mine"]);
  });
});

describe("qjobs dev as a process", () => {
  it("registers the declared schedules for --jobs-url at start, and triggers one at once", async () => {
    const { destination } = await startLocal();
    const dir = await tempProject({}, { from: fixture });
    const cli = spawnCli(["dev", "--port", "0", "--cwd", dir, "--jobs-url", `${destination.url}/api/jobs`]);
    const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    await cli.waitFor(/Schedules: 4 declared schedules registered for http:\/\/127\.0\.0\.1:\d+\/api\/jobs/);
    const client = localClient(url as string);
    const schedules = await client.schedules.list();
    expect(schedules).toHaveLength(4);
    const digest = schedules.find((schedule) => schedule.destination.endsWith("daily-digest"));
    const triggered = await fetch(`${url}/v2/schedules/${digest?.scheduleId}/trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
    });
    expect(triggered.status).toBe(200);
    const [delivery] = await destination.waitFor(1);
    expect(delivery?.body.toString()).toBe('{"period":"day"}');
    expect(delivery?.headers["upstash-schedule-id"]).toBe(digest?.scheduleId);
  });

  it("--no-schedules registers none; without an app URL it says how to get one", async () => {
    const dir = await tempProject({}, { from: fixture });
    const off = spawnCli(["dev", "--port", "0", "--cwd", dir, "--no-schedules"], { env: { QJOBS_URL: "" } });
    const [, url] = await off.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    expect(await localClient(url as string).schedules.list()).toEqual([]);
    await off.stop();
    const bare = spawnCli(["dev", "--port", "0", "--cwd", dir], { env: { QJOBS_URL: "" } });
    await bare.waitFor(/4 declared schedules not registered: set QJOBS_URL \(in \.env\.local\) or pass --jobs-url/);
  });

  it("reads QJOBS_URL from .env.local, and with --watch re-registers as the declarations change", async () => {
    const { destination } = await startLocal();
    const dir = await tempProject({ ".env.local": `QJOBS_URL=${destination.url}/api/jobs\n` }, { from: fixture });
    const cli = spawnCli(["dev", "--port", "0", "--cwd", dir, "--watch"], { env: { QJOBS_URL: "" } });
    const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    await cli.waitFor(/Schedules: 4 declared schedules registered/);
    const client = localClient(url as string);
    const file = join(dir, "src/jobs/cleanup.job.ts");
    await writeFile(file, (await readFile(file, "utf8")).replace('  schedule: "*/15 * * * *",\n', ""));
    await until("the cleanup schedule to go", async () =>
      (await client.schedules.list()).length === 3 ? true : undefined,
    );
  });
});
