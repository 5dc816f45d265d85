import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir, runCli, tempProject } from "./support.js";

const exportForms = join(fixturesDir, "export-forms");

describe("qjobs list", () => {
  it("--json prints key, file, export, schedules and declared options, sorted by key", async () => {
    const run = await runCli(["list", "--json", "--cwd", exportForms]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      {
        key: "billing.charge-card",
        file: "src/jobs/billing.job.ts",
        export: "chargeCard",
        schedules: [],
        options: {},
        debounce: null,
      },
      {
        key: "billing.refund",
        file: "src/jobs/billing.job.ts",
        export: "refundOrder",
        schedules: [],
        options: {},
        debounce: null,
      },
      {
        key: "crm/sync_account",
        file: "src/jobs/nested/sync.job.ts",
        export: "default",
        schedules: [],
        options: {},
        debounce: null,
      },
      {
        key: "images/crop",
        file: "src/jobs/images.job.ts",
        export: "cropImage",
        schedules: [],
        options: {},
        debounce: null,
      },
      {
        key: "images/resize",
        file: "src/jobs/images.job.ts",
        export: "resizeImage",
        schedules: [],
        options: { retries: 5 },
        debounce: null,
      },
      {
        key: "reports:daily",
        file: "src/jobs/reports.job.ts",
        export: "default",
        schedules: [],
        options: {},
        debounce: null,
      },
      {
        key: "welcome-email",
        file: "src/jobs/welcome-email.job.ts",
        export: "welcomeEmail",
        schedules: [],
        options: {},
        debounce: null,
      },
      {
        key: "windows-job",
        file: "src/jobs/windows.job.ts",
        export: "windowsJob",
        schedules: [],
        options: {},
        debounce: null,
      },
    ]);
  });

  it("prints an aligned table, plain when piped", async () => {
    const run = await runCli(["list", "--cwd", exportForms]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("KEY                  FILE                           EXPORT");
    expect(lines[1]).toBe("billing.charge-card  src/jobs/billing.job.ts        chargeCard");
    expect(lines).toHaveLength(9);
    expect(run.stdout).not.toContain("\u001b[");
  });

  it("colors only when asked: FORCE_COLOR on, NO_COLOR off", async () => {
    expect(
      (await runCli(["list", "--cwd", exportForms], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } })).stdout,
    ).toContain("\u001b[");
    expect((await runCli(["list", "--cwd", exportForms], { env: { NO_COLOR: "1" } })).stdout).not.toContain("\u001b[");
  });

  it("exits 1 with the diagnostics when a job file is broken", async () => {
    const run = await runCli(["list", "--cwd", join(fixturesDir, "diagnostics")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("src/jobs/syntax-error.job.ts:4:18: syntax error: ')' expected.");
    expect(run.stderr).toContain("the list would be incomplete");
  });
});

describe("qjobs --help and --version", () => {
  it("teaches the commands, with examples", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const text of ["generate", "list", "--check", "qjobs.config.json", "Examples:"])
      expect(run.stdout).toContain(text);
    const generateHelp = await runCli(["generate", "--help"]);
    expect(generateHelp.stdout).toContain("--cwd <dir>");
    expect(generateHelp.stdout).toContain("--check");
  });

  it("prints the version", async () => {
    const run = await runCli(["--version"]);
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("loads neither the local server, nor zod, ts-morph, esbuild or @upstash/redis for --version, --help, a cached generate and list", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { cliBin } = await import("../../../testkit/cli.js");
    // A loader hook that names every module the CLI resolves, on stderr.
    const hook = `data:text/javascript,${encodeURIComponent(
      "export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('loaded ' + r.url + '\\n'); return r; }",
    )}`;
    // A cached generate (nothing to write) and list: crons and private files come from #local/project alone.
    const project = await tempProject({}, { from: join(fixturesDir, "schedules"), inRepo: true });
    expect((await runCli(["generate", "--cwd", project])).code).toBe(0);
    for (const args of [
      ["--version"],
      ["--help"],
      ["dev", "--help"],
      ["dashboard", "--help"],
      ["generate", "--cwd", project],
      ["list", "--cwd", project],
    ]) {
      const { stderr } = await promisify(execFile)(process.execPath, [
        "--no-warnings",
        "--loader",
        hook,
        cliBin,
        ...args,
      ]);
      const loaded = stderr.split("\n").filter((line) => line.startsWith("loaded "));
      expect(loaded.some((line) => line.includes("/dist/cli.js"))).toBe(true); // the hook saw the CLI load
      const help = args[0] === "--version" || args.includes("--help");
      for (const heavy of [
        "/dist/local/index.js",
        "/zod",
        "/ts-morph",
        "/esbuild",
        "/@upstash/redis",
        ...(help ? ["/dist/report.js"] : []),
      ])
        expect({ args, loaded: loaded.filter((line) => line.includes(heavy)) }).toEqual({ args, loaded: [] });
    }
  });

  it("exits 1 on an unknown command, pointing at --help", async () => {
    const run = await runCli(["generat"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/unknown command 'generat'/);
    expect(run.stderr).toMatch(/Did you mean generate\?/);
  });
});

describe("output piped into a reader that stops early", () => {
  it("ends quietly, as `qjobs dev --help | head -1` needs, instead of crashing on EPIPE", async () => {
    const { spawn } = await import("node:child_process");
    const { cliBin } = await import("../../../testkit/cli.js");
    const child = spawn(process.execPath, [cliBin, "dev", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdout.destroy(); // the reader is gone before the CLI writes a line: every write meets a closed pipe
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
