// `qjobs schedules sync` as a process, against qjobs dev standing in for QStash; the state checked with the SDK.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEV_CREDENTIALS, FAILURE_CALLBACK_RETRIES } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { startCaptureServer } from "../../../testkit/capture-server.js";
import { appPrefix, escapeIdPart, scheduleId } from "../src/schedules/plan.js";
import { startLocal } from "./dev-support.js";
import { fixturesDir, runCli, tempProject } from "./support.js";

const jobsUrl = "http://127.0.0.1:3000/api/jobs";

async function project() {
  return tempProject({}, { from: join(fixturesDir, "schedules") });
}

function sync(dir: string, qstashUrl: string, ...flags: string[]) {
  return runCli(["schedules", "sync", "--cwd", dir, ...flags], {
    env: { QSTASH_URL: qstashUrl, QSTASH_TOKEN: DEV_CREDENTIALS.token, QJOBS_URL: jobsUrl },
  });
}

type Step = { action: string; scheduleId: string; key?: string; schedule?: string; changes?: string[] };
const stepsOf = (stdout: string) => (JSON.parse(stdout) as { steps: Step[] }).steps;

describe("qjobs schedules sync", () => {
  it("plans (--dry-run changes nothing), applies, and plans no change when run again", async () => {
    const dir = await project();
    const { server, client, engine } = await startLocal();
    const dry = await sync(dir, server.url, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/\+ create reports\/daily-digest #1 {2}CRON_TZ=Europe\/Paris 0 9 \* \* 1-5/);
    expect(dry.stdout).toMatch(/Dry run: nothing was changed \(4 create, 0 update, 0 delete planned\)/);
    expect(await client.schedules.list()).toEqual([]);

    const applied = await sync(dir, server.url);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/✓ 4 created, 0 updated, 0 deleted, 0 unchanged\./);
    const schedules = await client.schedules.list();
    const digest = schedules.find((schedule) => schedule.destination.endsWith("job=reports%2Fdaily-digest"));
    expect(digest).toMatchObject({
      destination: `${jobsUrl}?job=reports%2Fdaily-digest`,
      cron: "CRON_TZ=Europe/Paris 0 9 * * 1-5",
      body: '{"period":"day"}',
      isPaused: false,
      // The job's declared options apply to its schedule.
      retries: 5,
      labels: ["reports"],
      flowControlKey: "reports",
      parallelism: 1,
    });
    // Its runs end like dispatched ones: the route's failure callback, retried as the runtime's rule says.
    const held = engine.listSchedules().find((schedule) => schedule.spec.url === digest?.destination);
    expect(held?.spec.failureCallback).toMatchObject({
      url: `${jobsUrl}?job=reports%2Fdaily-digest&hook=failure`,
      retries: FAILURE_CALLBACK_RETRIES,
    });
    // A key template fills from each schedule's declared payload.
    const regional = schedules.filter((schedule) => schedule.destination.endsWith("job=reports%2Fregional"));
    expect(regional.map((schedule) => schedule.flowControlKey).sort()).toEqual(["digest:eu", "digest:us"]);
    expect(schedules.map((schedule) => schedule.scheduleId).sort()).toEqual([
      `${appPrefix(new URL(jobsUrl))}maintenance_scleanup.at-0`,
      `${appPrefix(new URL(jobsUrl))}reports_sdaily-digest.at-0`,
      `${appPrefix(new URL(jobsUrl))}reports_sregional.name-eu`,
      `${appPrefix(new URL(jobsUrl))}reports_sregional.name-us`,
    ]);

    const again = await sync(dir, server.url, "--json");
    expect(stepsOf(again.stdout).map((step) => step.action)).toEqual([
      "unchanged",
      "unchanged",
      "unchanged",
      "unchanged",
    ]);
  });

  it("changes only the schedules it owns for this app: not those made by hand, by another app, or to another URL", async () => {
    const dir = await project();
    const { server, client } = await startLocal();
    await sync(dir, server.url);
    const other = new URL("https://other.example/api/jobs");
    await client.schedules.create({
      destination: `${jobsUrl}?job=maintenance%2Fcleanup`,
      cron: "0 0 * * *",
      scheduleId: "by-hand",
    });
    await client.schedules.create({
      destination: `${other.href}?job=x`,
      cron: "0 0 * * *",
      scheduleId: `${appPrefix(other)}x.at-0`,
    });
    const sameIdElsewhere = `${appPrefix(new URL(jobsUrl))}x.at-0`;
    await client.schedules.create({
      destination: "https://elsewhere.example/hook",
      cron: "0 0 * * *",
      scheduleId: sameIdElsewhere,
    });

    // The project drops its cleanup schedule: that one, and only that one, goes.
    const file = join(dir, "src/jobs/cleanup.job.ts");
    await writeFile(file, (await readFile(file, "utf8")).replace('  schedule: "*/15 * * * *",\n', ""));
    const run = await sync(dir, server.url, "--json");
    expect(run.code).toBe(0);
    const deleted = stepsOf(run.stdout).filter((step) => step.action === "delete");
    expect(deleted.map((step) => step.scheduleId)).toEqual([`${appPrefix(new URL(jobsUrl))}maintenance_scleanup.at-0`]);
    const left = (await client.schedules.list()).map((schedule) => schedule.scheduleId);
    expect(left).toEqual(expect.arrayContaining(["by-hand", `${appPrefix(other)}x.at-0`, sameIdElsewhere]));
    expect(left).not.toContain(`${appPrefix(new URL(jobsUrl))}maintenance_scleanup.at-0`);
  });

  it("a renamed schedule is deleted under its old id and created under the new one", async () => {
    const dir = await project();
    const { server } = await startLocal();
    await sync(dir, server.url);
    const file = join(dir, "src/jobs/digest.job.ts");
    await writeFile(file, (await readFile(file, "utf8")).replace('name: "eu"', 'name: "europe"'));
    const steps = stepsOf((await sync(dir, server.url, "--json")).stdout).filter((step) => step.action !== "unchanged");
    expect(steps.map((step) => [step.action, step.scheduleId.split(".").slice(2).join(".")])).toEqual([
      ["delete", "reports_sregional.name-eu"],
      ["create", "reports_sregional.name-europe"],
    ]);
  });

  it("an update says what changed, and keeps a paused schedule paused (an overwrite would resume it)", async () => {
    const dir = await project();
    const { server, client } = await startLocal();
    await sync(dir, server.url);
    const id = scheduleId(
      new URL(jobsUrl),
      "reports/daily-digest",
      { cron: "0 9 * * 1-5", timezone: "Europe/Paris" },
      0,
    );
    await client.schedules.pause({ schedule: id });
    const file = join(dir, "src/jobs/reports.job.ts");
    await writeFile(file, (await readFile(file, "utf8")).replace('"0 9 * * 1-5"', '"30 9 * * 1-5"'));
    const run = await sync(dir, server.url, "--json");
    const [update] = stepsOf(run.stdout).filter((step) => step.action === "update");
    expect(update?.changes).toEqual(["cron CRON_TZ=Europe/Paris 0 9 * * 1-5 → CRON_TZ=Europe/Paris 30 9 * * 1-5"]);
    expect(await client.schedules.get(id)).toMatchObject({ cron: "CRON_TZ=Europe/Paris 30 9 * * 1-5", isPaused: true });
  });

  it("says what it did and what failed when QStash refuses a step, with exit 1", async () => {
    const dir = await project();
    let creates = 0;
    const qstash = await startCaptureServer((request) => {
      if (request.method === "GET" && request.target.startsWith("/v2/schedules")) return { status: 200, body: [] };
      if (request.method === "POST" && request.target.startsWith("/v2/schedules/")) {
        creates++;
        return creates === 2
          ? { status: 412, body: { error: "schedule limit reached" } }
          : { status: 200, body: { scheduleId: "x" } };
      }
      return undefined;
    });
    try {
      const run = await sync(dir, qstash.url);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/QStash refused a step: .*schedule limit reached/);
      expect(run.stderr).toMatch(/Done before it: 1 created, 0 updated, 0 deleted; the rest was not applied/);
    } finally {
      await qstash.close();
    }
  });

  it("refuses to run without QJOBS_URL, naming it", async () => {
    const dir = await project();
    const run = await runCli(["schedules", "sync", "--cwd", dir], {
      env: { QSTASH_URL: "http://127.0.0.1:9", QSTASH_TOKEN: "t", QJOBS_URL: "" },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Cannot sync schedules: QJOBS_URL is not set/);
  });
});

/** A capture QStash that holds `held` (as `GET /v2/schedules` answers them) and accepts every change. */
async function heldQStash(held: Record<string, unknown>[]) {
  return startCaptureServer((request) =>
    request.method === "GET" && request.target === "/v2/schedules"
      ? { status: 200, body: held }
      : { status: 200, body: { scheduleId: "ok" } },
  );
}

const held = (scheduleId: string, destination: string, cron = "0 0 * * *") => ({
  scheduleId,
  destination,
  cron,
  retries: 3,
  createdAt: 1,
  method: "POST",
});

describe("attacks on qjobs schedules sync through what QStash holds", () => {
  it("attack: an id with path segments (qjobs.<prefix>x/../../messages) never reaches a request path", async () => {
    const dir = await project();
    const qstash = await heldQStash([
      held(`${appPrefix(new URL(jobsUrl))}x/../../messages`, `${jobsUrl}?job=x`),
      held(`${appPrefix(new URL(jobsUrl))}x%2F..%2F..%2Ftopics%2Fg`, `${jobsUrl}?job=x`),
    ]);
    try {
      const run = await sync(dir, qstash.url, "--json");
      expect(run.code).toBe(0);
      // Not an id sync makes: not owned, so not deleted, and nothing but schedules is touched.
      expect(stepsOf(run.stdout).filter((step) => step.action === "delete")).toEqual([]);
      const changes = qstash.requests.filter((request) => request.method !== "GET");
      expect(changes.map((request) => request.target.split("/").slice(0, 3).join("/"))).toEqual(
        changes.map(() => "/v2/schedules"),
      );
      expect(changes.filter((request) => request.method === "DELETE")).toEqual([]);
    } finally {
      await qstash.close();
    }
  });

  it("attack: two apps whose jobs URLs differ only by query rewrite or delete each other's schedules", async () => {
    const dir = await project();
    const { server, client } = await startLocal();
    const syncAs = (url: string) =>
      runCli(["schedules", "sync", "--cwd", dir, "--json"], {
        env: { QSTASH_URL: server.url, QSTASH_TOKEN: DEV_CREDENTIALS.token, QJOBS_URL: url },
      });
    expect((await syncAs(`${jobsUrl}?tenant=b`)).code).toBe(0);
    const a = await syncAs(`${jobsUrl}?tenant=a`);
    expect(stepsOf(a.stdout).map((step) => step.action)).toEqual(["create", "create", "create", "create"]);
    const destinations = (await client.schedules.list()).map((schedule) => new URL(schedule.destination));
    expect(destinations.filter((url) => url.searchParams.get("tenant") === "a")).toHaveLength(4);
    expect(destinations.filter((url) => url.searchParams.get("tenant") === "b")).toHaveLength(4);
    // An app without a query keeps the prefix it always had, so upgrading orphans nothing.
    expect(appPrefix(new URL(jobsUrl))).toBe(appPrefix(new URL(`${jobsUrl}?job=x&hook=failure`)));
    expect(appPrefix(new URL(`${jobsUrl}?tenant=a`))).not.toBe(appPrefix(new URL(`${jobsUrl}?tenant=b`)));
  });

  it("attack: a wanted id held by a schedule this app does not own is refused, never overwritten", async () => {
    const dir = await project();
    const { server, client } = await startLocal();
    const id = scheduleId(new URL(jobsUrl), "maintenance/cleanup", { cron: "*/15 * * * *", timezone: null }, 0);
    await client.schedules.create({
      destination: "https://other-app.example/hook",
      cron: "*/5 * * * *",
      scheduleId: id,
    });
    const run = await sync(dir, server.url);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/! conflict maintenance\/cleanup .*held by a schedule this app does not own/);
    expect(run.stderr).toMatch(/1 schedule id of this app is held by schedules it does not own; nothing was changed/);
    expect(await client.schedules.get(id)).toMatchObject({
      destination: "https://other-app.example/hook",
      cron: "*/5 * * * *",
    });
    expect(await client.schedules.list()).toHaveLength(1);
  });

  it("attack: escape sequences in QStash's answer forge lines of the sync plan on the terminal", async () => {
    const dir = await project();
    const forged = "* * * * *\u001b[2K\r\u001b[32m✓ 0 created\u001b]0;pwned\u0007\u009b2K\u202e";
    const qstash = await heldQStash([held(`${appPrefix(new URL(jobsUrl))}gone.at-0`, `${jobsUrl}?job=gone`, forged)]);
    try {
      const run = await sync(dir, qstash.url, "--dry-run");
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("delete qjobs.");
      expect(run.stdout).toContain("\\u001b[2K\\u000d");
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is checked for.
      expect(run.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    } finally {
      await qstash.close();
    }
  });

  it("attack: a job's callback on another origin receives the bypass secret through its schedules", async () => {
    const dir = await tempProject(
      {
        "src/jobs/alerts.job.ts": [
          'import { createJob } from "@qjobs/runtime";',
          'export const alerts = createJob("alerts", {',
          '  schedule: "0 * * * *",',
          '  failureCallback: "https://thirdparty.example/alerts",',
          "  handler: async () => {},",
          "});",
          "",
        ].join("\n"),
      },
      { from: join(fixturesDir, "schedules") },
    );
    const qstash = await heldQStash([]);
    try {
      const run = await runCli(["schedules", "sync", "--cwd", dir], {
        env: {
          QSTASH_URL: qstash.url,
          QSTASH_TOKEN: DEV_CREDENTIALS.token,
          QJOBS_URL: jobsUrl,
          VERCEL_AUTOMATION_BYPASS_SECRET: "BypassSecretAbcdefghijklmnopqrstu",
        },
      });
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/Messages of job "alerts" go without VERCEL_AUTOMATION_BYPASS_SECRET/);
      const creates = qstash.requests.filter((request) => request.method === "POST");
      expect(creates).toHaveLength(5);
      const carrying = creates.filter((request) => JSON.stringify(request.headers).includes("BypassSecret"));
      // The project's own schedules still pass Vercel's protection; the one whose callback is foreign does not.
      expect(carrying).toHaveLength(4);
      expect(carrying.some((request) => request.target.includes("job=alerts"))).toBe(false);
    } finally {
      await qstash.close();
    }
  });
});

describe("schedule ids", () => {
  it("are collision-free: keys and names are escaped reversibly, and each app has its own prefix", () => {
    const url = new URL(jobsUrl);
    expect(escapeIdPart("a/b")).not.toBe(escapeIdPart("a-b"));
    expect(escapeIdPart("a_sb")).not.toBe(escapeIdPart("a/b"));
    expect(escapeIdPart("a.b:c_d")).toBe("a_db_cc__d");
    expect(scheduleId(url, "k", { cron: "* * * * *", timezone: null, name: "0" }, 0)).not.toBe(
      scheduleId(url, "k", { cron: "* * * * *", timezone: null }, 0),
    );
    expect(appPrefix(url)).not.toBe(appPrefix(new URL("https://preview-123.vercel.app/api/jobs")));
    expect(scheduleId(url, "reports/daily", { cron: "* * * * *", timezone: null }, 2)).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});

describe("qjobs schedules sync reads the environment as next start would (issue 21)", () => {
  const unset = { QSTASH_URL: "", QSTASH_TOKEN: "", QJOBS_URL: "" };

  it("reads .env.production.local, .env.local, .env.production, .env (not .env.development), saying where from", async () => {
    const dir = await project();
    const { server } = await startLocal();
    await writeFile(join(dir, ".env.local"), `QSTASH_URL=${server.url}\nQSTASH_TOKEN=${DEV_CREDENTIALS.token}\n`);
    await writeFile(join(dir, ".env.production"), `QJOBS_URL=${jobsUrl}\n`);
    await writeFile(join(dir, ".env.development"), "QJOBS_URL=http://127.0.0.1:9999/api/jobs\n");
    const run = await runCli(["schedules", "sync", "--dry-run", "--cwd", dir], { env: unset });
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain(
      `Schedules for ${jobsUrl} (QJOBS_URL from .env.production; QSTASH_URL from .env.local):`,
    );
  });

  it("refuses at once, naming QSTASH_URL, the public development token without QSTASH_URL (Upstash's cloud)", async () => {
    const dir = await project();
    const run = await runCli(["schedules", "sync", "--cwd", dir], {
      env: { ...unset, QSTASH_TOKEN: DEV_CREDENTIALS.token, QJOBS_URL: jobsUrl },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /Cannot sync schedules: QSTASH_TOKEN holds the public development token but QSTASH_URL is not set/,
    );
    expect(run.stderr).not.toContain("retrying");
  });

  it("refuses a loopback QJOBS_URL with a QStash that is not on this machine: it could never call it", async () => {
    const dir = await project();
    const run = await runCli(["schedules", "sync", "--dry-run", "--cwd", dir], {
      env: { QSTASH_URL: "https://qstash.example.com", QSTASH_TOKEN: "a-real-token", QJOBS_URL: jobsUrl },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `QJOBS_URL (${jobsUrl}) is on this machine but QSTASH_URL (https://qstash.example.com) is not`,
    );
  });
});
