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
  reportRun,
  reportRunsGet,
  reportRunsList,
  reportRunUpdate,
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
  $ qjobs run reports:daily --wait    dispatch a job and follow its run to its result

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
      const stopped = untilStopped();
      output.out(output.color.dim(`Watching ${watcher.config.jobs.join(", ")}; Ctrl-C stops.`));
      await stopped;
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

  root
    .command("run")
    .description("dispatch a job as the registry's dispatch does, and print its run id")
    .argument("<key>", "the job's key")
    .addOption(cwdOption())
    .option("--payload <json>", "the payload, as JSON")
    .option("--payload-file <file>", "a file holding the payload, as JSON")
    .option("--wait", "follow the run to its end (exit 0 succeeded, 1 failed or cancelled, 2 timed out)")
    .option("--timeout <seconds>", "with --wait, how long to wait", "60")
    .option("--json", "print the run handle (with --wait: the run at its end) as JSON")
    .action(
      async (
        key: string,
        options: {
          cwd: string;
          payload?: string;
          payloadFile?: string;
          wait?: boolean;
          timeout: string;
          json?: boolean;
        },
      ) => {
        const timeout = Number(options.timeout);
        if (!Number.isFinite(timeout) || timeout <= 0)
          throw new UserError(`--timeout must be a number of seconds > 0, got ${JSON.stringify(options.timeout)}`);
        const { runJob } = await import("./commands/runs.js");
        const result = await runJob({
          cwd: options.cwd,
          key,
          payload: options.payload,
          payloadFile: options.payloadFile,
          wait: options.wait,
          timeout,
          ...(options.json ? {} : { onUpdate: (run) => reportRunUpdate(output, run) }),
        });
        setExitCode(reportRun(output, result, { json: options.json ?? false, wait: options.wait ?? false }));
      },
    );

  const runs = root.command("runs").description("runs: from the run store, or QStash's logs");
  runs
    .command("get")
    .description("one run, by id")
    .argument("<id>", "the run's id (QStash's message id)")
    .addOption(cwdOption())
    .option("--json", "print the run as JSON")
    .action(async (id: string, options: { cwd: string; json?: boolean }) => {
      const { getRunCommand } = await import("./commands/runs.js");
      setExitCode(reportRunsGet(output, id, await getRunCommand({ cwd: options.cwd, id }), options.json ?? false));
    });
  runs
    .command("list")
    .description("this app's recent runs, newest first (needs the run store)")
    .addOption(cwdOption())
    .option("--job <key>", "only this job's runs")
    .option("--status <status>", "only runs in this status")
    .option("--json", 'print { "runs", "nextCursor" } as JSON')
    .action(async (options: { cwd: string; job?: string; status?: string; json?: boolean }) => {
      const { listRunsCommand } = await import("./commands/runs.js");
      const page = await listRunsCommand({ cwd: options.cwd, key: options.job, status: options.status });
      setExitCode(reportRunsList(output, page, options.json ?? false));
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
    // Secrets from the environment stay out of `ps`; never from QSTASH_*, which may hold production's.
    .addOption(
      new Option(
        "--token <token>",
        "accept this token instead of the development one (to try a production build locally)",
      ).env("QJOBS_DEV_TOKEN"),
    )
    .addOption(
      new Option("--current-signing-key <key>", "sign deliveries with this key instead of the development one").env(
        "QJOBS_DEV_CURRENT_SIGNING_KEY",
      ),
    )
    .addOption(
      new Option(
        "--next-signing-key <key>",
        "the next signing key that GET /v2/keys reports (both keys need a token)",
      ).env("QJOBS_DEV_NEXT_SIGNING_KEY"),
    )
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
qjobs reads QSTASH_URL, never QSTASH_DEV: with the public token and no QSTASH_URL, dispatch refuses at once.

To try your own credentials, set QJOBS_DEV_TOKEN, QJOBS_DEV_CURRENT_SIGNING_KEY and QJOBS_DEV_NEXT_SIGNING_KEY
rather than passing the flags: a flag's value is visible to every local user in \`ps\`. (QSTASH_TOKEN and the
QSTASH_* keys are never read: they may hold production's.) The banner shows them hidden.`,
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
        // Listening for Ctrl-C before the banner says it stops: a Ctrl-C right after the banner is a clean stop.
        const stopped = untilStopped();
        reportDevStarted(output, handle, Number(options.retryScale));
        await stopped;
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
With the run store's variables set the same way (QJOBS_REDIS_REST_URL and QJOBS_REDIS_REST_TOKEN, or
UPSTASH_REDIS_REST_*, or KV_REST_API_*), the page shows each message's run and each job's recent runs: the CLI
reads them, the page never sees the store's token.
(qjobs dev serves the same dashboard for the local server at its own address.)`,
    )
    .action(async (options: { cwd: string; port: string; jobsUrl?: string; appUrl?: string }) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UserError(`--port must be a port number, got "${options.port}"`);
      const { dashboard } = await import("./commands/dashboard.js");
      const handle = await dashboard({ cwd: options.cwd, port, appUrl: options.jobsUrl ?? options.appUrl });
      const stopped = untilStopped();
      reportDashboardStarted(output, handle);
      await stopped;
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
