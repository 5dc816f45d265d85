import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { startDestination } from "../../../testkit/destination.js";
import { tempProject } from "./support.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

describe("qjobs dev as a process", () => {
  it("prints where it runs and the variables to use, logs each delivery, and stops cleanly on Ctrl-C", {
    timeout: 90_000,
  }, async () => {
    const destination = await startDestination();
    const child = spawn(process.execPath, [bin, "dev", "--port", "0"], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start line in: ${stdout}`)), 30_000);
        child.stdout.on("data", () => {
          const match = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
          if (match && stdout.includes("Ctrl-C stops")) {
            clearTimeout(timer);
            resolve(match[1] as string);
          }
        });
      });
      expect(stdout).toContain(`QSTASH_TOKEN=${DEV_CREDENTIALS.token}`);
      expect(stdout).toContain(`QSTASH_CURRENT_SIGNING_KEY=${DEV_CREDENTIALS.currentSigningKey}`);
      const published = await fetch(`${url}/v2/publish/${destination.url}/api/jobs?job=welcome-email`, {
        method: "POST",
        headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}` },
        body: "{}",
      });
      expect(published.status).toBe(200);
      await destination.waitFor(1);
      await expect
        .poll(() => stdout, { timeout: 30_000 })
        .toMatch(/\d\d:\d\d:\d\d\.\d{3} {2}welcome-email\s+#1 {2}200 /);
      expect(stdout).not.toContain("\u001b[");
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(stdout).toContain("qjobs dev stopped.");
    } finally {
      child.kill("SIGKILL");
      await destination.close();
    }
  });

  it("says which port is taken instead of crashing", async () => {
    const destination = await startDestination();
    const port = new URL(destination.url).port;
    const child = spawn(process.execPath, [bin, "dev", "--port", port], { env: { ...process.env, NO_COLOR: "1" } });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    await destination.close();
    expect(code).toBe(1);
    expect(stderr).toContain(`Port ${port} is in use`);
  });

  it("--watch also runs the watcher, in the same process", { timeout: 90_000 }, async () => {
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/a.job.ts":
        'import { createJob } from "@qjobs/runtime";\nexport const a = createJob("alpha", async () => {});\n',
    });
    const child = spawn(process.execPath, [bin, "dev", "--watch", "--port", "0", "--cwd", dir], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await expect.poll(() => stdout, { timeout: 30_000 }).toMatch(/running at http:\/\/127\.0\.0\.1:\d+/);
      await expect
        .poll(() => stdout, { timeout: 30_000 })
        .toMatch(/✓ started → 1 job, src\/qjobs\.gen\.ts, src\/app\/api\/jobs\/route\.ts written/);
      await expect.poll(() => stdout, { timeout: 30_000 }).toMatch(/Watching src\/\*\*\/\*\.job\.ts too\./);
      const { writeFile } = await import("node:fs/promises");
      await writeFile(
        `${dir}/src/jobs/b.job.ts`,
        'import { createJob } from "@qjobs/runtime";\nexport const b = createJob("beta", async () => {});\n',
      );
      await expect.poll(() => stdout, { timeout: 30_000 }).toMatch(/src\/jobs\/b\.job\.ts added \+beta → 2 jobs/);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
