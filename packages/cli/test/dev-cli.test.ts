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

describe("your own credentials for qjobs dev stay out of ps and the banner (issue 20, item 14)", () => {
  const own = {
    QJOBS_DEV_TOKEN: "own_token_SECRET_1234567890",
    QJOBS_DEV_CURRENT_SIGNING_KEY: "sig_OWNcurrentSECRET123",
    QJOBS_DEV_NEXT_SIGNING_KEY: "sig_OWNnextSECRET456",
  };

  it("takes them from QJOBS_DEV_* in the environment and prints them hidden", async () => {
    const cli = spawnCli(["dev", "--port", "0"], { env: own });
    const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    await cli.waitFor(/Ctrl-C stops/);
    for (const value of Object.values(own)) expect(cli.output()).not.toContain(value);
    expect(cli.stdout()).toContain("QSTASH_TOKEN=<yours, hidden>");
    expect(cli.stdout()).toContain("QSTASH_NEXT_SIGNING_KEY=<yours, hidden>");
    const keys = await fetch(`${url}/v2/keys`, { headers: { authorization: `Bearer ${own.QJOBS_DEV_TOKEN}` } });
    expect(await keys.json()).toEqual({
      current: own.QJOBS_DEV_CURRENT_SIGNING_KEY,
      next: own.QJOBS_DEV_NEXT_SIGNING_KEY,
    });
    const publicToken = await fetch(`${url}/v2/keys`, {
      headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
    });
    expect(publicToken.status).toBe(401);
    expect(await cli.stop()).toBe(0);
  });

  it("hides them in the banner when given as flags too", async () => {
    const cli = spawnCli(["dev", "--port", "0", "--token", own.QJOBS_DEV_TOKEN]);
    await cli.waitFor(/Ctrl-C stops/);
    expect(cli.output()).not.toContain(own.QJOBS_DEV_TOKEN);
    expect(cli.stdout()).toContain("QSTASH_TOKEN=<yours, hidden>");
    expect(cli.stdout()).toContain(`QSTASH_CURRENT_SIGNING_KEY=${DEV_CREDENTIALS.currentSigningKey}`);
    expect(await cli.stop()).toBe(0);
  });

  it("never reads QSTASH_TOKEN or the QSTASH_* keys, which may be production's", async () => {
    const cli = spawnCli(["dev", "--port", "0"], {
      env: { QSTASH_TOKEN: "prod_token", QSTASH_CURRENT_SIGNING_KEY: "sig_prod", QSTASH_NEXT_SIGNING_KEY: "sig_prod2" },
    });
    const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
    await cli.waitFor(/Ctrl-C stops/);
    const keys = await fetch(`${url}/v2/keys`, { headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` } });
    expect(await keys.json()).toEqual({
      current: DEV_CREDENTIALS.currentSigningKey,
      next: DEV_CREDENTIALS.nextSigningKey,
    });
    expect(await cli.stop()).toBe(0);
  });

  it("--help names the QJOBS_DEV_* variables as the way that keeps secrets out of ps", async () => {
    const run = await runCli(["dev", "--help"]);
    for (const name of Object.keys(own)) expect(run.stdout).toContain(name);
    expect(run.stdout).toMatch(/visible to every local user in `ps`/);
  });
});
