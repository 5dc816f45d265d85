// Issue 21: a jobs URL without the route's path looks like success (the app's home page answers 200) while no
// job runs. Every command that reads one refuses it, naming the variable and the route's path.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { startDestination } from "../../../testkit/destination.js";
import { localClient } from "./dev-support.js";
import { runCli, spawnCli, tempProject } from "./support.js";

/** A Next.js App Router project: its route is at /api/jobs. */
const appRouterProject = () =>
  tempProject({
    "src/app/api/jobs/route.ts": "",
    "src/jobs/greet.job.ts":
      'import { createJob } from "@qjobs/runtime";\nexport const greet = createJob("greet", { schedule: "0 3 * * *", handler: async () => {} });\n',
  });

describe("a jobs URL without a path is refused wherever one is read (issue 21)", () => {
  const env = { QSTASH_URL: "http://127.0.0.1:9", QSTASH_TOKEN: DEV_CREDENTIALS.token };

  it.each([
    ["dev", ["dev", "--port", "0", "--in-memory"]],
    ["dashboard", ["dashboard", "--port", "0"]],
    ["schedules sync", ["schedules", "sync", "--dry-run"]],
  ])("qjobs %s refuses QJOBS_URL=http://localhost:3000, naming it and the route's URL", async (_name, args) => {
    const dir = await appRouterProject();
    const run = await runCli([...args, "--cwd", dir], { env: { ...env, QJOBS_URL: "http://localhost:3000" } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('QJOBS_URL is "http://localhost:3000/", which has no path');
    expect(run.stderr).toContain("Use your jobs route's URL http://localhost:3000/api/jobs.");
  });

  it.each([
    ["dev", ["dev", "--port", "0", "--in-memory"]],
    ["dashboard", ["dashboard", "--port", "0"]],
  ])("qjobs %s refuses --jobs-url (and its old name --app-url) with the path /", async (_name, args) => {
    const dir = await appRouterProject();
    for (const flag of ["--jobs-url", "--app-url"]) {
      const run = await runCli([...args, "--cwd", dir, flag, "http://127.0.0.1:3000/"], { env });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('--jobs-url is "http://127.0.0.1:3000/", which has no path');
    }
  });

  it("qjobs schedules sync warns, naming QJOBS_URL and the route's path, when the URL's path does not end with it", async () => {
    const dir = await appRouterProject();
    const run = await runCli(["schedules", "sync", "--dry-run", "--cwd", dir], {
      env: { ...env, QJOBS_URL: "http://localhost:3000/api/job" },
    });
    expect(run.stderr).toContain('QJOBS_URL is "http://localhost:3000/api/job", but your jobs route is at /api/jobs');
  });
});

describe("qjobs dev tells a delivery that looks like success from one that ran the job (issue 21)", () => {
  const publish = (qstash: string, url: string) =>
    fetch(`${qstash}/v2/publish/${url}`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
      body: "{}",
    });

  it("prints the jobs URL it uses; warns, naming QJOBS_URL, on a 2xx without Qjobs-Route: 1, and says QStash does not follow a 3xx", async () => {
    const app = await startDestination((delivery, response) => {
      if (delivery.target.startsWith("/api/jobs"))
        return void response.writeHead(200, { "qjobs-route": "1" }).end('{"ok":true}');
      if (delivery.target.startsWith("/slash/")) return void response.writeHead(308, { location: "/slash" }).end();
      response.writeHead(200, { "content-type": "text/html" }).end("<h1>Home</h1>");
    });
    try {
      const dir = await appRouterProject();
      const cli = spawnCli(["dev", "--port", "0", "--cwd", dir, "--jobs-url", `${app.url}/api/jobs`]);
      const [, qstash] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
      await cli.waitFor(new RegExp(`^ {2}QJOBS_URL=${app.url}/api/jobs {2}\\(QJOBS_URL from --jobs-url\\)$`)); // the banner names it
      // The route itself, a page that is not the route for a key nobody declared, then the two mistakes.
      for (const url of [`${app.url}/api/jobs?job=greet`, `${app.url}/?job=other`, `${app.url}/?job=greet`])
        expect((await publish(qstash as string, url)).status).toBe(200);
      await cli.waitFor(
        new RegExp(`⚠ ${app.url}/ answered 200 for job "greet" without Qjobs-Route: 1.*Check QJOBS_URL`),
      );
      expect((await publish(qstash as string, `${app.url}/slash/?job=greet`)).status).toBe(200);
      await cli.waitFor(/answered 308, a redirect to \/slash, for job "greet": QStash does not follow redirects/);
      await cli.waitFor(/ {2}other\s+#1 {2}200 /); // the undeclared key's delivery, logged without a warning
      expect(cli.output().match(/⚠/g)).toHaveLength(2);
    } finally {
      await app.close();
    }
  });
});

describe("qjobs dev follows its env files (issue 21)", () => {
  it("prints the jobs URL and where it came from, and follows a change of .env.local without a restart", async () => {
    const dir = await appRouterProject();
    await writeFile(join(dir, ".env.local"), "QJOBS_URL=http://127.0.0.1:3000/api/jobs\n");
    await writeFile(join(dir, ".env"), "QJOBS_URL=http://127.0.0.1:4000/api/jobs\n"); // .env.local wins
    const cli = spawnCli(["dev", "--port", "0", "--cwd", dir], { env: { QJOBS_URL: "" } });
    const [, qstash] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    await cli.waitFor(/^ {2}QJOBS_URL=http:\/\/127\.0\.0\.1:3000\/api\/jobs {2}\(QJOBS_URL from \.env\.local\)$/);
    await writeFile(join(dir, ".env.local"), "QJOBS_URL=http://127.0.0.1:3001/api/jobs\n");
    await cli.waitFor(/QJOBS_URL is now http:\/\/127\.0\.0\.1:3001\/api\/jobs \(QJOBS_URL from \.env\.local\)/);
    const project = (await (await fetch(`${qstash}/api/project`)).json()) as { jobsUrl?: string };
    expect(project.jobsUrl).toBe("http://127.0.0.1:3001/api/jobs");
    // The declared schedule follows: registered for the new URL only.
    const client = localClient(qstash as string);
    await expect
      .poll(async () => (await client.schedules.list()).map((schedule) => schedule.destination))
      .toEqual(["http://127.0.0.1:3001/api/jobs?job=greet"]);
  });
});
