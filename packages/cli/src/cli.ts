import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { Command, CommanderError, Option } from "commander";
import { DEFAULT_DASHBOARD_PORT } from "./dashboard/defaults.js";
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DLQ, DEFAULT_PORT, DEFAULT_RETRY_SCALE } from "./dev/defaults.js";
import { UserError } from "./errors.js";
import {
  confirmInit,
  reportDashboardStarted,
  reportDevStarted,
  reportGenerate,
  reportInit,
  reportList,
  reportSchedulesSync,
  reportWatchEvent,
} from "./report.js";
import { formatClock, type Output, processOutput } from "./terminal.js";
import { version } from "./version.js";

// Commands load their modules when they run, so `qjobs --help` and a cached `generate` start fast.

const cwdOption = () =>
  new Option("--cwd <dir>", "the project folder, where qjobs.config.json lives").default(".", "the current folder");

/** The first name of --jobs-url, kept working but out of the help: it takes the jobs route's URL, not the app's. */
const appUrlAlias = () => new Option("--app-url <url>").hideHelp();

/** Resolves on Ctrl-C or SIGTERM. */
const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });

function program(output: Output, setExitCode: (code: number) => void): Command {
  const root = new Command("qjobs")
    .description(
      "Type-safe background jobs on Upstash QStash.\nDiscovers *.job.ts files and generates a typed job registry and one route handler.",
    )
    .version(version, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .showHelpAfterError("(run qjobs --help for usage)")
    .configureOutput({ writeOut: (text) => output.out(text.trimEnd()), writeErr: (text) => output.err(text.trimEnd()) })
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  $ qjobs init                set a project up (safe to re-run)
  $ qjobs generate            write the registry and the route (run it before your build)
  $ qjobs dev --watch         the local QStash server, regenerating as you edit jobs
  $ qjobs generate --check    in CI: fail when the generated files are stale
  $ qjobs list --json         the jobs, as JSON
  $ qjobs schedules sync      after a deploy: make QStash's schedules match the declared ones
  $ qjobs dashboard           see and steer production's jobs (QSTASH_TOKEN), by job key

Configuration: qjobs.config.json in the project folder, for example
  { "jobs": ["src/**/*.job.ts"], "registry": "src/qjobs.gen.ts", "route": "src/app/api/jobs/route.ts" }`,
    );

  root
    .command("init")
    .description("set a project up: config, an example job, the generated files, package.json scripts, .env.example")
    .addOption(cwdOption())
    .option("-y, --yes", "take every default without asking")
    .option("--force", "overwrite files and scripts that qjobs would otherwise leave alone")
    .option("--install", "run the package manager's install at the end")
    .action(async (options: { cwd: string; yes?: boolean; force?: boolean; install?: boolean }) => {
      const interactive = !options.yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
      const { init } = await import("./commands/init.js");
      const result = await init({
        cwd: options.cwd,
        force: options.force,
        install: options.install,
        confirm: interactive ? (plan) => confirmInit(output, plan) : undefined,
      });
      reportInit(output, result);
    });

  root
    .command("generate")
    .description("discover the job files and write the registry and the route")
    .addOption(cwdOption())
    .option("--check", "write nothing; exit 1 if a generated file is stale or missing (for CI)")
    .action(async (options: { cwd: string; check?: boolean }) => {
      const { generate } = await import("./commands/generate.js");
      const check = options.check ?? false;
      setExitCode(reportGenerate(output, await generate({ cwd: options.cwd, check }), check));
    });

  root
    .command("watch")
    .description("generate, then regenerate on every add, change or removal of a job file (and of the config)")
    .addOption(cwdOption())
    .action(async (options: { cwd: string }) => {
      const { watch } = await import("./commands/watch.js");
      const watcher = await watch({ cwd: options.cwd, onEvent: (event) => reportWatchEvent(output, event) });
      output.out(output.color.dim(`Watching ${watcher.config.jobs.join(", ")}; Ctrl-C stops.`));
      await untilStopped();
      await watcher.close();
    });

  root
    .command("list")
    .description("print the discovered jobs: key, file, export, and schedules with their next runs")
    .addOption(cwdOption())
    .option("--json", 'print [{ "key", "file", "export", "schedules" }] sorted by key')
    .action(async (options: { cwd: string; json?: boolean }) => {
      const { list } = await import("./commands/list.js");
      setExitCode(reportList(output, await list({ cwd: options.cwd }), options.json ?? false));
    });

  const schedules = root.command("schedules").description("declared schedules and QStash");
  schedules
    .command("sync")
    .description("make QStash's schedules for the app at QJOBS_URL match the ones the jobs declare")
    .addOption(cwdOption())
    .option("--dry-run", "print the plan and change nothing")
    .option("--json", "print the plan (and what was applied) as JSON")
    .addHelpText(
      "after",
      `
Uses QSTASH_URL and QSTASH_TOKEN (which QStash) and QJOBS_URL (which app), from the environment, else
.env.production.local, .env.local, .env.production, .env (as next start reads them); run it once a deploy is live.
Each declared schedule gets an id from the app's URL, the job key and the schedule's name (or position), so
re-running never duplicates, and production, previews and other apps in one QStash account never collide.
Only schedules qjobs made for this URL are changed or deleted; schedules made by hand are left alone.`,
    )
    .action(async (options: { cwd: string; dryRun?: boolean; json?: boolean }) => {
      const { schedulesSync } = await import("./commands/schedules.js");
      const result = await schedulesSync({ cwd: options.cwd, dryRun: options.dryRun });
      setExitCode(reportSchedulesSync(output, result, options.json ?? false));
    });

  root
    .command("dev")
    .description(
      "run a local QStash-compatible server that delivers jobs to your app, signed, with retries, and its dashboard",
    )
    .addOption(cwdOption())
    .addOption(
      new Option("--port <port>", "the port on 127.0.0.1").default(process.env.QSTASH_DEV_PORT ?? String(DEFAULT_PORT)),
    )
    .option(
      "--retry-scale <factor>",
      "multiply QStash's retry backoff (12 s, 2.5 min, 30 min...) by this",
      String(DEFAULT_RETRY_SCALE),
    )
    .option("--quiet", "print no line per delivery")
    .option("--watch", "also run `qjobs watch`, so one command serves development")
    .option("--token <token>", "accept this token instead of the development one (to try a production build locally)")
    .option("--current-signing-key <key>", "sign deliveries with this key instead of the development one")
    .option("--next-signing-key <key>", "the next signing key that GET /v2/keys reports (both keys need --token)")
    .option(
      "--max-body-size <bytes>",
      "refuse request bodies over this many bytes (413)",
      String(DEFAULT_MAX_BODY_BYTES),
    )
    .option("--max-dlq <count>", "keep at most this many dead letters, dropping the oldest", String(DEFAULT_MAX_DLQ))
    .option("--state-dir <dir>", "keep messages, dead letters, schedules and logs here across restarts", ".qjobs/dev")
    .option("--fresh", "start with empty state (forget every message, dead letter, schedule and log)")
    .option("--in-memory", "keep no state on disk: a restart forgets everything")
    .option(
      "--jobs-url <url>",
      "your app's jobs route, for the schedules and the dashboard (default: QJOBS_URL, from the env or .env files)",
    )
    .addOption(appUrlAlias())
    .option("--no-schedules", "do not register the schedules the jobs declare")
    .addHelpText(
      "after",
      `
Point your app at it (Upstash's public development credentials: accepted only for local use, every jobs URL
on a loopback address or NODE_ENV development or test):
  QSTASH_URL=http://127.0.0.1:8080
  QSTASH_TOKEN=${DEV_CREDENTIALS.token}
  QSTASH_CURRENT_SIGNING_KEY=${DEV_CREDENTIALS.currentSigningKey}
  QSTASH_NEXT_SIGNING_KEY=${DEV_CREDENTIALS.nextSigningKey}
  QJOBS_URL=http://localhost:3000/api/jobs      (your app's jobs route)
qjobs reads QSTASH_URL, never QSTASH_DEV: with the public token and no QSTASH_URL, dispatch refuses at once.`,
    )
    .action(
      async (options: {
        cwd: string;
        port: string;
        retryScale: string;
        quiet?: boolean;
        watch?: boolean;
        token?: string;
        currentSigningKey?: string;
        nextSigningKey?: string;
        maxBodySize: string;
        maxDlq: string;
        stateDir: string;
        fresh?: boolean;
        inMemory?: boolean;
        jobsUrl?: string;
        appUrl?: string;
        schedules: boolean;
      }) => {
        const port = Number(options.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new UserError(`--port must be a port number, got "${options.port}"`);
        const { color } = output;
        const [{ dev }, { formatAttempt }] = await Promise.all([import("./commands/dev.js"), import("./dev/log.js")]);
        const handle = await dev({
          port,
          retryScale: Number(options.retryScale),
          credentials: {
            token: options.token,
            currentSigningKey: options.currentSigningKey,
            nextSigningKey: options.nextSigningKey,
          },
          maxBodyBytes: Number(options.maxBodySize),
          maxDlq: Number(options.maxDlq),
          cwd: options.cwd,
          stateDir: options.inMemory ? false : options.stateDir,
          appUrl: options.jobsUrl ?? options.appUrl,
          schedules: options.schedules,
          fresh: options.fresh,
          onAttempt: options.quiet ? undefined : (report) => output.out(formatAttempt(report, Date.now(), color)),
          onWarning: (warning) => output.err(output.errColor.yellow(`⚠ ${warning}`)),
          onNotice: (notice) => output.out(`${color.dim(formatClock())} ${notice}`),
          watch: options.watch ? { cwd: options.cwd, onEvent: (event) => reportWatchEvent(output, event) } : undefined,
        });
        reportDevStarted(output, handle, Number(options.retryScale));
        await untilStopped();
        await handle.close();
        output.out(color.dim("qjobs dev stopped."));
      },
    );

  root
    .command("dashboard")
    .description("see and steer the jobs of the QStash that QSTASH_URL/QSTASH_TOKEN name (e.g. production), by job key")
    .addOption(cwdOption())
    .addOption(new Option("--port <port>", "the port on 127.0.0.1").default(String(DEFAULT_DASHBOARD_PORT)))
    .option("--jobs-url <url>", "your app's jobs route (default: QJOBS_URL, from the env or .env files)")
    .addOption(appUrlAlias())
    .addHelpText(
      "after",
      `
It reads QSTASH_TOKEN (and QSTASH_URL, default https://qstash.upstash.io) from the environment, else the
project's .env.development.local, .env.local, .env.development, .env (as next dev reads them). The CLI holds the token and forwards only the calls the page makes; the
page never sees it. Open the address it prints: it holds a secret made for this launch.
(qjobs dev serves the same dashboard for the local server at its own address.)`,
    )
    .action(async (options: { cwd: string; port: string; jobsUrl?: string; appUrl?: string }) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UserError(`--port must be a port number, got "${options.port}"`);
      const { dashboard } = await import("./commands/dashboard.js");
      const handle = await dashboard({ cwd: options.cwd, port, appUrl: options.jobsUrl ?? options.appUrl });
      reportDashboardStarted(output, handle);
      await untilStopped();
      await handle.close();
      output.out(output.color.dim("qjobs dashboard stopped."));
    });

  return root;
}

/** Parses argv, runs one command, and returns the exit code. The bin is the only caller of process.exit. */
export async function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  let exitCode = 0;
  try {
    await program(output, (code) => {
      exitCode = code;
    }).parseAsync(argv as string[]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof UserError) {
      output.err(`${output.errColor.red("error")} ${error.message}`);
      return 1;
    }
    throw error;
  }
}
