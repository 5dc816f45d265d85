import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jobSource, repoRoot, runCli, tempProject } from "./support.js";

const read = (dir: string, path: string) => readFile(join(dir, path), "utf8");
const nextApp = {
  "package.json": JSON.stringify(
    { name: "shop", dependencies: { next: "16.4.6" }, scripts: { dev: "next dev", build: "next build" } },
    null,
    2,
  ),
};

describe("qjobs init", () => {
  it("un-ignores .env.example when create-next-app's .env* would hide it from git (issue 21)", async () => {
    const gitignore = "# env files (can opt-in for committing if needed)\n.env*\n";
    const inRepo = await tempProject({ ...nextApp, "src/app/page.tsx": "", ".gitignore": gitignore });
    expect(spawnSync("git", ["init", "-q"], { cwd: inRepo }).status).toBe(0);
    const outside = await tempProject({ ...nextApp, "src/app/page.tsx": "", ".gitignore": gitignore });
    for (const dir of [inRepo, outside]) {
      const run = await runCli(["init", "--cwd", dir]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("un-ignores .env.example");
      expect(await read(dir, ".gitignore")).toBe(`${gitignore}.qjobs/\n!.env.example\n`);
    }
    // git itself now keeps it, and still ignores .env.local.
    expect(spawnSync("git", ["check-ignore", "-q", ".env.example"], { cwd: inRepo }).status).toBe(1);
    expect(spawnSync("git", ["check-ignore", "-q", ".env.local"], { cwd: inRepo }).status).toBe(0);
    // A second run changes nothing.
    const again = await runCli(["init", "--cwd", inRepo]);
    expect(again.stdout).not.toContain("un-ignores");
  });

  it("sets up a Next.js App Router project under src/app, in the package manager's words", async () => {
    const dir = await tempProject({
      ...nextApp,
      "src/app/page.tsx": "export default function Page() { return null; }\n",
      "pnpm-lock.yaml": "",
    });
    const run = await runCli(["init", "--cwd", dir]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("✓ qjobs init: Next.js (App Router), pnpm");
    expect(JSON.parse(await read(dir, "qjobs.config.json"))).toEqual({
      jobs: ["src/**/*.job.ts"],
      registry: "src/qjobs.gen.ts",
      route: "src/app/api/jobs/route.ts",
    });
    expect(await read(dir, "src/jobs/hello.job.ts")).toContain('createJob("hello"');
    expect(await read(dir, "src/app/api/jobs/route.ts")).toContain(
      `export const POST = createRouteHandler(loadJob, { routePath: "/api/jobs" });`,
    );
    expect(await read(dir, "src/qjobs.gen.ts")).toContain('"hello": typeof import(');
    expect(await read(dir, "src/app/api/jobs/route.ts")).toContain('case "hello":');
    const pkg = JSON.parse(await read(dir, "package.json"));
    expect(pkg.dependencies["@qjobs/runtime"]).toBeDefined();
    expect(pkg.devDependencies["@qjobs/cli"]).toBeDefined();
    expect(pkg.scripts).toMatchObject({
      build: "next build",
      prebuild: "qjobs generate",
      "dev:jobs": "qjobs dev --watch",
    });
    const env = await read(dir, ".env.example");
    for (const name of [
      "QSTASH_TOKEN",
      "QSTASH_URL",
      "QSTASH_CURRENT_SIGNING_KEY",
      "QSTASH_NEXT_SIGNING_KEY",
      "QJOBS_URL",
      "QJOBS_REDIS_REST_URL",
      "QJOBS_REDIS_REST_TOKEN",
    ])
      expect(env).toMatch(new RegExp(`^${name}=.+`, "m"));
    expect(await read(dir, ".gitignore")).toContain(".qjobs/");
    expect(await read(dir, ".gitattributes")).toBe(
      "src/qjobs.gen.ts linguist-generated\nsrc/app/api/jobs/route.ts linguist-generated\n",
    );
    expect(run.stdout).toMatch(/1\. pnpm install\s+installs @qjobs\/runtime/);
    expect(run.stdout).toMatch(/3\. pnpm dev:jobs\s+the local QStash server/);
  });

  it("puts the route under app/ when there is no src/, and detects npm, yarn and bun from the lockfile", async () => {
    for (const [lockfile, words] of [
      ["package-lock.json", "npm run dev:jobs"],
      ["yarn.lock", "yarn dev:jobs"],
      ["bun.lock", "bun dev:jobs"],
    ] as const) {
      const dir = await tempProject({ ...nextApp, "app/page.tsx": "", [lockfile]: "" });
      const run = await runCli(["init", "--cwd", dir]);
      expect(run.code).toBe(0);
      expect(JSON.parse(await read(dir, "qjobs.config.json"))).toEqual({
        jobs: ["**/*.job.ts"],
        registry: "qjobs.gen.ts",
        route: "app/api/jobs/route.ts",
      });
      expect(run.stdout).toContain(words);
    }
  });

  it("writes a fetch-style route and explains how to mount it for the Pages Router and for no framework", async () => {
    const pages = await tempProject({
      "package.json": '{"name":"p","dependencies":{"next":"16.4.6"}}',
      "src/pages/index.tsx": "",
    });
    const pagesRun = await runCli(["init", "--cwd", pages]);
    expect(pagesRun.stdout).toContain("Next.js (Pages Router)");
    expect(pagesRun.stdout).toContain('import { POST } from "../../qjobs.route";');
    expect(pagesRun.stdout).toContain("bodyParser: false");
    expect(await read(pages, "src/qjobs.route.ts")).toContain("createRouteHandler(loadJob)");

    const plain = await tempProject({ "package.json": '{"name":"api"}' });
    const plainRun = await runCli(["init", "--cwd", plain]);
    expect(plainRun.stdout).toContain("no framework");
    expect(plainRun.stdout).toContain("toNodeHandler(POST)");
    expect(plainRun.stdout).toContain("cp .env.example .env ");
  });

  it("is safe to re-run: the second run changes nothing", async () => {
    const dir = await tempProject({ ...nextApp, "src/app/page.tsx": "" });
    expect((await runCli(["init", "--cwd", dir])).code).toBe(0);
    const snapshot = async () =>
      Promise.all(
        [
          "package.json",
          "qjobs.config.json",
          ".env.example",
          ".gitignore",
          ".gitattributes",
          "src/qjobs.gen.ts",
          "src/jobs/hello.job.ts",
        ].map((path) => read(dir, path)),
      );
    const before = await snapshot();
    const again = await runCli(["init", "--cwd", dir, "--yes"]);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/^ {2}[+~] /m);
    expect(await snapshot()).toEqual(before);
  });

  it("never overwrites the user's files or scripts without --force", async () => {
    const dir = await tempProject({
      ...nextApp,
      "package.json": JSON.stringify({ name: "shop", scripts: { prebuild: "echo mine" } }),
      "src/app/page.tsx": "",
      "qjobs.config.json": JSON.stringify({
        jobs: ["src/**/*.job.ts"],
        registry: "src/jobs.gen.ts",
        route: "src/app/api/jobs/route.ts",
      }),
      "src/orders/pay.job.ts": jobSource("pay", "pay"),
      ".env.example": "QSTASH_URL=https://qstash.example\nOTHER=1\n",
      ".gitignore": "node_modules\n",
    });
    expect((await runCli(["init", "--cwd", dir])).code).toBe(0);
    expect(JSON.parse(await read(dir, "package.json")).scripts.prebuild).toBe("echo mine");
    expect(JSON.parse(await read(dir, "qjobs.config.json")).registry).toBe("src/jobs.gen.ts"); // kept, and used
    expect(await read(dir, "src/jobs.gen.ts")).toContain('"pay": typeof import(');
    await expect(read(dir, "src/jobs/hello.job.ts")).rejects.toThrow(/ENOENT/); // the project has jobs already
    const env = await read(dir, ".env.example");
    expect(env.startsWith("QSTASH_URL=https://qstash.example\nOTHER=1\n")).toBe(true);
    expect(env.match(/^QSTASH_URL=/gm)).toHaveLength(1);
    expect(await read(dir, ".gitignore")).toBe("node_modules\n.qjobs/\n");

    expect((await runCli(["init", "--cwd", dir, "--force"])).code).toBe(0);
    expect(JSON.parse(await read(dir, "package.json")).scripts.prebuild).toBe("qjobs generate");
  });

  it("fails with a clear message where there is no package.json", async () => {
    const dir = await tempProject({});
    const run = await runCli(["init", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("No package.json in");
  });

  it("leaves a project that type-checks at once", async () => {
    const dir = await tempProject(
      {
        ...nextApp,
        "src/app/page.tsx": "export default function Page() { return null; }\n",
        "tsconfig.json": JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            module: "esnext",
            moduleResolution: "bundler",
            target: "ES2022",
            lib: ["ES2022", "DOM"],
            jsx: "preserve",
            skipLibCheck: true,
            types: [],
          },
          include: ["src"],
        }),
        "src/use.ts":
          'import { dispatch } from "./qjobs.gen";\nexport const go = () => dispatch("hello", { name: "world" });\n',
      },
      { inRepo: true },
    );
    expect((await runCli(["init", "--cwd", dir, "--yes"])).code).toBe(0);
    const tsc = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", dir], {
      encoding: "utf8",
    });
    expect(tsc.stdout).toBe("");
    expect(tsc.status).toBe(0);
    await writeFile(
      join(dir, "src/use.ts"),
      'import { dispatch } from "./qjobs.gen";\nexport const go = () => dispatch("hello", { name: 42 });\n',
    );
    expect(
      spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", dir], { encoding: "utf8" })
        .status,
    ).toBe(2);
  });
});
