import { existsSync } from "node:fs";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generate } from "../src/index.js";
import { fixturesDir, jobSource, runCli, tempProject } from "./support.js";

const exportForms = join(fixturesDir, "export-forms");
const generatedFiles = ["src/qjobs.gen.ts", "src/app/api/jobs/route.ts"];
const read = (dir: string, path: string) => readFile(join(dir, path), "utf8");

describe("qjobs generate on the export-forms fixture", () => {
  it("writes the registry and the route byte for byte as committed beside the fixture", async () => {
    const dir = await tempProject({}, { from: exportForms });
    for (const file of generatedFiles) await rm(join(dir, file));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^✓ qjobs: 8 jobs from 6 files → src\/qjobs\.gen\.ts written, src\/app\/api\/jobs\/route\.ts written in (\d+ ms|\d+\.\d\d s)\n$/,
    );
    for (const file of generatedFiles) expect(await read(dir, file), file).toBe(await read(exportForms, file));
  });

  it("passes --check on the committed fixture, writing nothing", async () => {
    const before = (await readdir(exportForms, { recursive: true })).sort();
    const run = await runCli(["generate", "--check", "--cwd", exportForms]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/8 jobs, generated files are up to date/);
    expect((await readdir(exportForms, { recursive: true })).sort()).toEqual(before);
  });

  it("leaves unchanged files alone on a re-run, and parses nothing the cache already knows", async () => {
    const dir = await tempProject({}, { from: exportForms });
    await rm(join(dir, "src/qjobs.gen.ts"));
    const first = await generate({ cwd: dir });
    expect(first.parsed).toBe(6);
    const written = await stat(join(dir, "src/qjobs.gen.ts"));
    const second = await generate({ cwd: dir });
    expect(second.files.map((file) => file.status)).toEqual(["unchanged", "unchanged"]);
    expect(second.parsed).toBe(0);
    expect((await stat(join(dir, "src/qjobs.gen.ts"))).mtimeMs).toBe(written.mtimeMs);
    // Atomic writes leave no temporary files behind.
    expect((await readdir(join(dir, "src"))).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("re-parses only the file that changed, and rewrites only the file whose content changed", async () => {
    const dir = await tempProject({}, { from: exportForms });
    await generate({ cwd: dir });
    const path = join(dir, "src/jobs/reports.job.ts");
    await writeFile(path, (await readFile(path, "utf8")).replace('"reports:daily"', '"reports:weekly"'));
    const result = await generate({ cwd: dir });
    expect(result.parsed).toBe(1);
    expect(result.files).toEqual([
      { path: "src/qjobs.gen.ts", status: "written" },
      { path: "src/app/api/jobs/route.ts", status: "written" },
    ]);
    expect(await read(dir, "src/app/api/jobs/route.ts")).toContain(
      '    case "reports:weekly":\n      return import("../../../jobs/reports.job.js").then((m) => m.default);',
    );
  });

  it("--check exits 1 naming stale and missing files, and writes nothing", async () => {
    const dir = await tempProject({}, { from: exportForms });
    await writeFile(join(dir, "src/qjobs.gen.ts"), "// edited by hand\n");
    await rm(join(dir, "src/app/api/jobs/route.ts"));
    const run = await runCli(["generate", "--check", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("✗ src/qjobs.gen.ts is stale");
    expect(run.stderr).toContain("✗ src/app/api/jobs/route.ts is missing");
    expect(run.stderr).toContain("Run qjobs generate");
    expect(await read(dir, "src/qjobs.gen.ts")).toBe("// edited by hand\n");
    expect((await readdir(dir)).includes(".qjobs")).toBe(false);
  });
});

describe("qjobs generate reports broken job files like a compiler", () => {
  it("prints every problem as path:line:column: message, exits 1, and leaves the generated files as they were", async () => {
    const dir = await tempProject(
      { "src/qjobs.gen.ts": "// the last good registry\n" },
      { from: join(fixturesDir, "diagnostics") },
    );
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(await readFile(join(fixturesDir, "diagnostics", "expected", "stderr.txt"), "utf8"));
    expect(await read(dir, "src/qjobs.gen.ts")).toBe("// the last good registry\n");
    await expect(stat(join(dir, "app/api/jobs/route.ts"))).rejects.toThrow(/ENOENT/);
  });

  it("reports a file that breaks after a good run, instead of dropping its job", async () => {
    const dir = await tempProject({}, { from: exportForms });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    const good = await read(dir, "src/qjobs.gen.ts");
    await writeFile(
      join(dir, "src/jobs/reports.job.ts"),
      'import { createJob } from "@qjobs/runtime";\nexport default createJob("reports:daily", async () => {\n',
    );
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^src\/jobs\/reports\.job\.ts:3:1: syntax error: '}' expected\./m);
    expect(await read(dir, "src/qjobs.gen.ts")).toBe(good);
  });
});

describe("discovery", () => {
  const job = (key: string) => jobSource("job", key);

  it("never searches node_modules, .git, .next or dist, and skips files that only look like jobs", async () => {
    const dir = await tempProject({
      "src/a.job.ts": job("a"),
      "src/deep/er/b.job.ts": job("b"),
      "src/node_modules/pkg/c.job.ts": job("c"),
      "src/.next/d.job.ts": job("d"),
      "src/dist/e.job.ts": job("e"),
      "src/.git/f.job.ts": job("f"),
      "src/g.job.tsx.bak": job("g"),
      "src/h.ts": job("h"),
      "other/i.job.ts": job("i"),
    });
    const run = await runCli(["list", "--json", "--cwd", dir]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { key: "a", file: "src/a.job.ts", export: "job", schedules: [], options: {}, debounce: null },
      { key: "b", file: "src/deep/er/b.job.ts", export: "job", schedules: [], options: {}, debounce: null },
    ]);
  });

  it("follows the globs of qjobs.config.json, with braces and several patterns", async () => {
    const dir = await tempProject({
      "qjobs.config.json": JSON.stringify({
        jobs: ["jobs/*.{job,task}.ts", "lib/**/*.job.ts"],
        registry: "lib/registry.gen.ts",
        route: "server/jobs.ts",
      }),
      "jobs/a.job.ts": job("a"),
      "jobs/b.task.ts": job("b"),
      "jobs/nested/c.job.ts": job("c"),
      "lib/d.job.ts": job("d"),
      "lib/x/y/e.job.ts": job("e"),
    });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    const route = await read(dir, "server/jobs.ts");
    expect([...route.matchAll(/^ {4}case "(\w)":/gm)].map((m) => m[1])).toEqual(["a", "b", "d", "e"]);
    expect(route).toContain('return import("../jobs/a.job")');
    expect(await read(dir, "lib/registry.gen.ts")).toContain('"a": typeof import("../jobs/a.job").job;');
  });

  it("uses the defaults without a config, with the route under app/ when there is no src/app/", async () => {
    const dir = await tempProject({
      "src/a.job.ts": job("a"),
      "app/page.tsx": "export default function Page() { return null; }\n",
    });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    expect(await read(dir, "app/api/jobs/route.ts")).toContain('return import("../../../src/a.job")');
  });

  it("with a config, writes an empty but valid registry when there are no jobs yet, with a warning", async () => {
    const dir = await tempProject({ "src/app/page.tsx": "", "qjobs.config.json": "{}" });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("0 jobs from 0 files");
    expect(run.stderr).toMatch(/no job files match src\/\*\*\/\*\.job\.ts: the registry and the route have no job/);
    expect(await read(dir, "src/app/api/jobs/route.ts")).toMatch(
      /switch \(key\) \{\n {4}default:\n {6}return undefined;/,
    );
    expect(await read(dir, "src/qjobs.gen.ts")).toContain(
      "const declaredOptions: Record<string, DispatchOptions> = {\n};",
    );
  });
});

describe("import specifiers follow the project's module resolution", () => {
  const files = {
    "src/a.job.ts": jobSource("a", "a"),
    "src/app/.keep": "",
  };
  const specifierOf = async (dir: string) => /import\("([^"]+)"\)/.exec(await read(dir, "src/qjobs.gen.ts"))?.[1];

  it.each([
    ["no tsconfig", {}, "./a.job"],
    [
      "bundler resolution (Next.js)",
      { "tsconfig.json": '{ "compilerOptions": { "moduleResolution": "bundler" } }' },
      "./a.job",
    ],
    [
      "NodeNext, with comments and trailing commas",
      { "tsconfig.json": '{\n  // Node ESM\n  "compilerOptions": { "module": "NodeNext", /* explicit */ },\n}' },
      "./a.job.js",
    ],
    [
      "Node16 through a relative extends",
      {
        "tsconfig.json": '{ "extends": "./base" }',
        "base.json": '{ "compilerOptions": { "moduleResolution": "node16" } }',
      },
      "./a.job.js",
    ],
    [
      "an explicit importExtension",
      {
        "tsconfig.json": '{ "compilerOptions": { "module": "NodeNext" } }',
        "qjobs.config.json": '{ "importExtension": "" }',
      },
      "./a.job",
    ],
  ])("%s", async (_name, extra, expected) => {
    const dir = await tempProject({ ...files, ...extra });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    expect(await specifierOf(dir)).toBe(expected);
  });
});

describe("configuration errors name the file and the field", () => {
  it.each([
    ["{ not json", /qjobs\.config\.json is not valid JSON/],
    ["[]", /qjobs\.config\.json must hold a JSON object/],
    ['{ "job": ["src/**/*.job.ts"] }', /qjobs\.config\.json: unknown field "job"/],
    ['{ "jobs": "src/**/*.job.ts" }', /qjobs\.config\.json: "jobs" must be a non-empty list of globs/],
    ['{ "jobs": [] }', /"jobs" must be a non-empty list/],
    ['{ "registry": 42 }', /"registry" must be a non-empty string path/],
    ['{ "route": "../outside/route.ts" }', /"route" must be a path inside the project/],
    ['{ "registry": "src/registry.json" }', /"registry" must name a \.ts file/],
    ['{ "registry": "a.ts", "route": "a.ts" }', /"registry" and "route" must be different files/],
    ['{ "importExtension": ".ts" }', /"importExtension" must be "\.js" or ""/],
  ])("%s", async (config, message) => {
    const dir = await tempProject({ "qjobs.config.json": config });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /); // a message, not a stack
  });

  it("says when the --cwd folder does not exist", async () => {
    const run = await runCli(["generate", "--cwd", "/no/such/folder"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("No such folder: /no/such/folder");
  });
});

describe("attack: a job's callback on a third party's host receives the bypass secret or declared headers", () => {
  it("qjobs generate warns for a callback off the jobs URL's origin, and says when the job's headers go there too", async () => {
    const source = (name: string, options: string) =>
      `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob("${name}", { ${options}, handler: async () => {} });\n`;
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/alerts.job.ts": source("alerts", 'failureCallback: "https://thirdparty.example/alerts"'),
      "src/jobs/leaky.job.ts": source(
        "leaky",
        'callback: "https://thirdparty.example/done", headers: { Authorization: "Bearer app" }',
      ),
      "src/jobs/own.job.ts": source("own", 'callback: "https://app.example.com/api/done"'),
    });
    const run = await runCli(["generate", "--cwd", dir], { env: { QJOBS_URL: "https://app.example.com/api/jobs" } });
    expect(run.code).toBe(0);
    const warnings = run.stderr.trim().split("\n");
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^src\/jobs\/alerts\.job\.ts:2:\d+: job "alerts" sends its callback to "https:\/\/thirdparty\.example\/alerts", which is not on the jobs URL's origin: .*go without VERCEL_AUTOMATION_BYPASS_SECRET \(warning\)$/,
    );
    expect(warnings[1]).toMatch(/job "leaky" .*, and the headers it declares reach that endpoint \(warning\)$/);
  });
});

describe("the route's segment options (issue 13)", () => {
  it("exports maxDuration and runtime from the config, and warns when a job's timeout is longer", async () => {
    const dir = await tempProject({
      "qjobs.config.json": JSON.stringify({ maxDuration: 60, runtime: "nodejs" }),
      "src/app/.keep": "",
      "src/jobs/slow.job.ts":
        'import { createJob } from "@qjobs/runtime";\nexport const slow = createJob("slow", { timeout: "10m", handler: async () => {} });\n',
      "src/jobs/quick.job.ts":
        'import { createJob } from "@qjobs/runtime";\nexport const quick = createJob("quick", { timeout: 30, handler: async () => {} });\n',
    });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      'src/jobs/slow.job.ts:2:21: job "slow" declares timeout "10m" (600 s), longer than the route\'s maxDuration of 60 s: the platform would stop it first and QStash would retry it (warning)\n',
    );
    const route = await read(dir, "src/app/api/jobs/route.ts");
    expect(route).toContain('export const maxDuration = 60;\nexport const runtime = "nodejs";');
  });

  it("refuses a maxDuration or runtime it cannot use, naming the field", async () => {
    for (const [field, value, message] of [
      ["maxDuration", "1m", /"maxDuration" must be a whole number of seconds/],
      ["runtime", "deno", /"runtime" must be "nodejs" or "edge"/],
    ] as const) {
      const dir = await tempProject({ "qjobs.config.json": JSON.stringify({ [field]: value }) });
      const run = await runCli(["generate", "--cwd", dir]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(message);
    }
  });
});

describe("onFailure in the registry (issue 13)", () => {
  it("tells the registry's dispatch which jobs have a hook, so their failure callback reaches the route", async () => {
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/charge.job.ts":
        'import { createJob } from "@qjobs/runtime";\nexport const charge = createJob("billing/charge", { handler: async () => {}, onFailure: async () => {} });\n',
      "src/jobs/plain.job.ts": jobSource("plain", "plain"),
    });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    expect(await read(dir, "src/qjobs.gen.ts")).toContain(
      'createDispatch(declaredOptions, { routePath: "/api/jobs", failureHooks: ["billing/charge"] });',
    );
  });
});

describe("qjobs generate where there is no job (issue 21)", () => {
  it("in a folder with no job file and no config: warns, names the globs, writes nothing; --check passes", async () => {
    const dir = await tempProject({ "src/app/page.tsx": "" });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /no job files match src\/\*\*\/\*\.job\.ts here, and there is no qjobs\.config\.json: nothing was written/,
    );
    expect(existsSync(join(dir, "src/qjobs.gen.ts"))).toBe(false);
    expect(existsSync(join(dir, "src/app/api/jobs/route.ts"))).toBe(false);
    const check = await runCli(["generate", "--check", "--cwd", dir]);
    expect(check.code).toBe(0);
  });

  it("warns, naming the job, when a bare cron meets a handler whose payload a named type decides", async () => {
    const dir = await tempProject({
      "src/app/page.tsx": "",
      "src/jobs/daily.job.ts":
        'import { createJob } from "@qjobs/runtime";\ntype Report = { day: string };\nexport const daily = createJob("reports/daily", { schedule: "0 9 * * *", handler: async (payload: Report) => void payload });\n',
    });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /src\/jobs\/daily\.job\.ts:3:.*job "reports\/daily" has a schedule without a payload: it fires with none/,
    );
  });

  it("warns, naming the file, when a *.job.ts file holds no job (it would be skipped silently)", async () => {
    const dir = await tempProject({
      "src/app/page.tsx": "",
      "src/jobs/a.job.ts": jobSource("a", "alpha"),
      "src/jobs/thumbnail.job.ts": "export const size = 128;\n",
    });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/src\/jobs\/thumbnail\.job\.ts:1:1.*no job in this file: export one/);
    expect(run.stderr).not.toMatch(/a\.job\.ts/);
    expect(run.stdout).toMatch(/1 job from 2 files/);
  });
});
