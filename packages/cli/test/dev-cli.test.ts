import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { startDestination } from "../../../testkit/destination.js";
import { jobSource, runCli, spawnCli, tempProject } from "./support.js";

describe("qjobs dev as a process", () => {
  it("prints where it runs and the variables to use, logs each delivery, and stops cleanly on Ctrl-C", async () => {
    const destination = await startDestination();
    try {
      const cli = spawnCli(["dev", "--port", "0"]);
      const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
      await cli.waitFor(/Ctrl-C stops/);
      expect(cli.stdout()).toContain(`QSTASH_TOKEN=${DEV_CREDENTIALS.token}`);
      expect(cli.stdout()).toContain(`QSTASH_CURRENT_SIGNING_KEY=${DEV_CREDENTIALS.currentSigningKey}`);
      const published = await fetch(`${url}/v2/publish/${destination.url}/api/jobs?job=welcome-email`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
        body: "{}",
      });
      expect(published.status).toBe(200);
      await destination.waitFor(1);
      await cli.waitFor(/^\d\d:\d\d:\d\d\.\d{3} {2}welcome-email\s+#1 {2}200 /);
      expect(cli.stdout()).not.toContain("\u001b[");
      expect(await cli.stop()).toBe(0);
      expect(cli.stdout()).toContain("qjobs dev stopped.");
    } finally {
      await destination.close();
    }
  });

  it("says which port is taken instead of crashing", async () => {
    const destination = await startDestination();
    const port = new URL(destination.url).port;
    const run = await runCli(["dev", "--port", port]);
    await destination.close();
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Port ${port} is in use`);
  });

  it("stops with the config's error, instead of hanging with its server open", async () => {
    const dir = await tempProject({ "qjobs.config.json": "{ nope" });
    const run = await runCli(["dev", "--port", "0", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/qjobs\.config\.json is not valid JSON/);
  });

  it("--watch also runs the watcher, in the same process", async () => {
    const dir = await tempProject({ "src/app/.keep": "", "src/jobs/a.job.ts": jobSource("a", "alpha") });
    const cli = spawnCli(["dev", "--watch", "--port", "0", "--cwd", dir]);
    await cli.waitFor(/running at http:\/\/127\.0\.0\.1:\d+/);
    await cli.waitFor(/✓ started → 1 job, src\/qjobs\.gen\.ts, src\/app\/api\/jobs\/route\.ts written/);
    await cli.waitFor(/Watching src\/\*\*\/\*\.job\.ts too\./);
    await writeFile(join(dir, "src/jobs/b.job.ts"), jobSource("b", "beta"));
    await cli.waitFor(/src\/jobs\/b\.job\.ts added \+beta → 2 jobs/);
    expect(await cli.stop()).toBe(0);
  });
});
