import { DEV_CREDENTIALS } from "@qjobs/runtime/testing";
import { Option } from "commander";
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_DLQ,
  DEFAULT_PORT,
  DEFAULT_REDIS_PORT,
  DEFAULT_RETRY_SCALE,
} from "#local/defaults";
import { UserError } from "../errors.js";
import { formatClock } from "../terminal.js";
import { appUrlAlias, type CommandDefinition, cwdOption, untilStopped } from "./shared.js";

export const devCommand: CommandDefinition = (root, { output }) => {
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
      "--redis-port <port>",
      `the local Upstash Redis's port on 127.0.0.1, served under /redis (default ${DEFAULT_REDIS_PORT}; any free port with --port 0)`,
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
  QJOBS_REDIS_REST_URL=http://127.0.0.1:8079/redis     (the run store: a local Upstash Redis)
  QJOBS_REDIS_REST_TOKEN=${DEV_CREDENTIALS.token}
  QJOBS_URL=http://localhost:3000/api/jobs      (your app's jobs route)
  qjobs reads QSTASH_URL, never QSTASH_DEV: with the public token and no QSTASH_URL, dispatch refuses at once.

  To try your own credentials, set QJOBS_DEV_TOKEN, QJOBS_DEV_CURRENT_SIGNING_KEY and QJOBS_DEV_NEXT_SIGNING_KEY
  rather than passing the flags: a flag's value is visible to every local user in \`ps\`. (QSTASH_TOKEN and the
  QSTASH_* keys are never read: they may hold production's.) The banner shows them hidden. QJOBS_DEV_TOKEN is the
local Redis's token too.`,
    )
    .action(
      async (options: {
        cwd: string;
        port: string;
        redisPort?: string;
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
        const redisPort = options.redisPort === undefined ? undefined : Number(options.redisPort);
        if (redisPort !== undefined && (!Number.isInteger(redisPort) || redisPort < 0 || redisPort > 65535))
          throw new UserError(`--redis-port must be a port number, got "${options.redisPort}"`);
        const { color } = output;
        const [{ dev }, { formatAttempt }, { reportDevStarted, reportWatchEvent }] = await Promise.all([
          import("../commands/dev.js"),
          import("../dev-log.js"),
          import("../report.js"),
        ]);
        const handle = await dev({
          port,
          redisPort,
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
};
