// Issue 21: a jobs URL without the route's path looks like success (the app's home page answers 200) while no
// job runs. Every command that reads one refuses it, naming the variable and the route's path.
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { runCli, tempProject } from "./support.js";

/** A Next.js App Router project: its route is at /api/jobs. */
const appRouterProject = () =>
  tempProject({
    "src/app/api/jobs/route.ts": "",
    "src/jobs/greet.job.ts":
      'import { createJob } from "@qjobs/runtime";\nexport const greet = createJob("greet", async () => {});\n',
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
