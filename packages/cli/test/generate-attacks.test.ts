// The generator's attack catalogue (issue 9): a config that reads or writes outside the project.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { jobSource, runCli, tempProject } from "./support.js";

const job = (key: string) => jobSource("job", key);

const outsiders: string[] = [];
afterAll(() => Promise.all(outsiders.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A folder outside every test project, holding a job file someone would like us to import. */
async function outsideFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "qjobs-outside-"));
  outsiders.push(dir);
  await writeFile(join(dir, "evil.job.ts"), job("evil"));
  return dir;
}

describe("attack: a config that reaches outside the project", () => {
  it("is refused: a jobs glob that walks out with src/../../", async () => {
    const outside = await outsideFolder();
    const dir = await tempProject({ "src/a.job.ts": job("a") });
    const escapeGlob = `src/../../${outside.split(/[/\\]/).pop()}/*.job.ts`;
    await writeFile(join(dir, "qjobs.config.json"), JSON.stringify({ jobs: ["src/**/*.job.ts", escapeGlob] }));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/"jobs" glob ".*" reaches outside the workspace/);
    expect(existsSync(join(dir, "src/qjobs.gen.ts"))).toBe(false);
  });

  it("is refused: a jobs glob through a symlinked folder that points outside", async () => {
    const outside = await outsideFolder();
    const dir = await tempProject({ "src/a.job.ts": job("a") });
    await symlink(outside, join(dir, "src", "linked"), "dir");
    await writeFile(join(dir, "qjobs.config.json"), JSON.stringify({ jobs: ["src/linked/*.job.ts"] }));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/reaches outside the workspace/);
  });

  it("is refused: .. hidden after a wildcard or in braces", async () => {
    const dir = await tempProject({ "src/a.job.ts": job("a") });
    for (const glob of ["src/*/../../../x/*.job.ts", "src/{..,lib}/*.job.ts"]) {
      await writeFile(join(dir, "qjobs.config.json"), JSON.stringify({ jobs: [glob] }));
      const run = await runCli(["generate", "--cwd", dir]);
      expect(run.code, glob).toBe(1);
      expect(run.stderr, glob).toMatch(/"jobs"/);
    }
  });

  it("is refused: a registry written through a symlinked folder that points outside", async () => {
    const outside = await outsideFolder();
    const dir = await tempProject({ "src/a.job.ts": job("a") });
    await symlink(outside, join(dir, "src", "gen"), "dir");
    await writeFile(join(dir, "qjobs.config.json"), JSON.stringify({ registry: "src/gen/qjobs.gen.ts" }));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/"registry" leads outside the project through a symbolic link/);
    expect((await readdir(outside)).sort()).toEqual(["evil.job.ts"]);
  });

  it("is refused: a route written through a symlinked folder that points outside", async () => {
    const outside = await outsideFolder();
    const dir = await tempProject({ "src/a.job.ts": job("a") });
    await symlink(outside, join(dir, "app"), "dir");
    await writeFile(join(dir, "qjobs.config.json"), JSON.stringify({ route: "app/api/jobs/route.ts" }));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/"route" leads outside the project/);
    expect(existsSync(join(outside, "api"))).toBe(false);
  });

  it("still reads jobs from a sibling package inside the same monorepo", async () => {
    const root = await tempProject({
      "pnpm-workspace.yaml": 'packages:\n  - "apps/*"\n  - "packages/*"\n',
      "packages/jobs/src/email.job.ts": job("email"),
      "apps/web/src/local.job.ts": job("local"),
      "apps/web/qjobs.config.json": JSON.stringify({ jobs: ["src/**/*.job.ts", "../../packages/jobs/src/*.job.ts"] }),
    });
    await mkdir(join(root, "apps/web/src"), { recursive: true });
    const run = await runCli(["generate", "--cwd", join(root, "apps/web")]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const registry = await readFile(join(root, "apps/web/src/qjobs.gen.ts"), "utf8");
    expect(registry).toContain('"email": typeof import("../../../packages/jobs/src/email.job").job;');
    expect(registry).toContain('"local": typeof import("./local.job").job;');
  });
});
