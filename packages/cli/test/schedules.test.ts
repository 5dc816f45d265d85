// Schedules declared on jobs (issue 12): read statically by the generator, checked by tsc, listed.
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir, runCli, tempProject } from "./support.js";
import { compilers, tsc } from "./tsc.js";

const scheduled = join(fixturesDir, "schedules");
const broken = join(fixturesDir, "schedules-broken");
const generatedFiles = ["src/qjobs.gen.ts", "src/app/api/jobs/route.ts"];

describe("schedules read statically by qjobs generate", () => {
  it("renders every declared schedule into the registry, byte for byte as committed beside the fixture", async () => {
    const dir = await tempProject({}, { from: scheduled });
    for (const file of generatedFiles) await rm(join(dir, file));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    for (const file of generatedFiles) {
      expect(await readFile(join(dir, file), "utf8"), file).toBe(await readFile(join(scheduled, file), "utf8"));
    }
  });

  it("reports every broken schedule like a compiler, and writes nothing", async () => {
    const dir = await tempProject({}, { from: broken });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(await readFile(join(broken, "expected", "stderr.txt"), "utf8"));
    expect((await readdir(join(dir, "src"))).sort()).toEqual(["jobs"]);
  });

  it.each(Object.entries(compilers))("%s accepts the fixture's schedules", (_name, compiler) => {
    const result = tsc(compiler, scheduled);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  // Each misuse in a file of its own: every one must fail to compile, with both compilers.
  const misuses: Record<string, string> = {
    "wrong-payload": `schema, schedule: { cron: "0 9 * * *", payload: { period: "month" } }`,
    "missing-payload": `schema, schedule: { cron: "0 9 * * *" }`,
    "bare-cron": `schema, schedule: "0 9 * * *"`,
    "handler-typed": `schedule: [{ cron: "0 9 * * *", payload: { to: 42 } }], handler: async (payload: { to: string }) => void payload`,
    // onFailure gets the job's payload: a hook typed for another payload does not compile.
    "on-failure": `handler: async (payload: { to: string }) => void payload, onFailure: async (payload: { other: number } | undefined) => void payload`,
  };
  it.each(Object.entries(compilers))(
    "%s refuses a schedule whose payload does not fit the job",
    async (name, compiler) => {
      const files = Object.fromEntries(
        Object.entries(misuses).map(([name, definition]) => [
          `src/misuse/${name}.ts`,
          `import { createJob } from "@qjobs/runtime";\nimport { z } from "zod";\nconst schema = z.object({ period: z.enum(["day", "week"]) });\nvoid schema;\nexport const job = createJob("misuse/${name}", { ${definition.includes("handler") ? "" : "handler: async () => {}, "}${definition} });\n`,
        ]),
      );
      const dir = await tempProject(files, { from: scheduled, inRepo: true });
      const result = tsc(compiler, dir);
      expect(result.code).not.toBe(0); // 2 for TypeScript 5.9, 1 for TypeScript 7
      for (const name of Object.keys(misuses))
        expect(result.output, name).toMatch(new RegExp(`src/misuse/${name}\\.ts\\(5,`));
      // TypeScript 7 words the elaboration differently; the file's failure above is what counts for both.
      if (name === "typescript 5.9")
        expect(result.output).toMatch(/'"month"' is not assignable to type '"day" \| "week"'/);
      expect(result.output).not.toMatch(/src\/(checks|jobs)\//); // the valid files stay valid
    },
  );
});

describe("qjobs list shows schedules", () => {
  it("--json adds each job's schedules: cron, timezone (null for UTC), payload, and the name when declared", async () => {
    const run = await runCli(["list", "--json", "--cwd", scheduled]);
    expect(run.code).toBe(0);
    const jobs = JSON.parse(run.stdout) as { key: string; schedules: unknown[] }[];
    expect(Object.fromEntries(jobs.map((job) => [job.key, job.schedules]))).toEqual({
      "maintenance/cleanup": [{ cron: "*/15 * * * *", timezone: null, payload: null }],
      "reports/daily-digest": [{ cron: "0 9 * * 1-5", timezone: "Europe/Paris", payload: { period: "day" } }],
      "reports/regional": [
        { name: "eu", cron: "0 8 * * *", timezone: "Europe/Berlin", payload: { region: "eu" } },
        { name: "us", cron: "0 8 * * *", timezone: "America/New_York", payload: { region: "us" } },
      ],
    });
  });

  it("prints the next three runs of each schedule, in UTC", async () => {
    const run = await runCli(["list", "--cwd", scheduled]);
    expect(run.code).toBe(0);
    const line = run.stdout.split("\n").find((text) => text.includes("Europe/Paris")) ?? "";
    const runs = [...line.matchAll(/(\d{4}-\d\d-\d\d) (\d\d:\d\d) UTC/g)].map((match) => `${match[1]}T${match[2]}Z`);
    expect(runs).toHaveLength(3);
    for (const at of runs) {
      const date = new Date(at);
      expect([1, 2, 3, 4, 5]).toContain(date.getUTCDay()); // weekdays only
      expect(date.toLocaleString("en-GB", { timeZone: "Europe/Paris", hour: "2-digit", minute: "2-digit" })).toBe(
        "09:00",
      );
    }
  });
});
