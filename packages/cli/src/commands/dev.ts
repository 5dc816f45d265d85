import { randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { join, resolve } from "node:path";
import { DEV_CREDENTIALS, RUN_STORE_VARIABLES } from "@qjobs/runtime";
import {
  type AttemptReport,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  DEFAULT_REDIS_PORT,
  DEFAULT_RETRY_SCALE,
  type DevServer,
  dashboardHandler,
  deliverHttp,
  Engine,
  ignoreQjobsFolder,
  type JournalNotice,
  type LocalRedis,
  openJournal,
  realClock,
  routeWarning,
  shareJournal,
  startLocalRedis,
  startServer,
} from "#local";
import { knownRoutePath, loadConfig } from "../core/config.js";
import { PAGE_FOLDER } from "../core/page-folder.js";
import { scanProject } from "../core/scan.js";
import type { WatchEvent, Watcher } from "../core/watcher.js";
import { projectView } from "../dashboard/project.js";
import { appJobsUrl, ENV_FILES, readProjectEnv, sourceOf } from "../env-files.js";
import { UserError } from "../errors.js";
import { registerSchedules } from "../schedules/local.js";

export interface DevOptions {
  port?: number;
  /** Multiplies QStash's retry backoff (e^(2.5n) s); 0.01 makes the first retry 0.12 s instead of 12 s. */
  retryScale?: number;
  onAttempt?: (report: AttemptReport) => void;
  /** A delivery that looks like success but is not (see routeWarning), each once; an env file that went wrong. */
  onWarning?: (warning: string) => void;
  /** The jobs URL changed with the env files. */
  onNotice?: (notice: string) => void;
  /** Credentials other than Upstash's public development ones, e.g. to try a production build locally. */
  credentials?: { token?: string; currentSigningKey?: string; nextSigningKey?: string };
  /** The largest request body accepted (413 beyond it). */
  maxBodyBytes?: number;
  /** How many dead letters are kept (the oldest go first). */
  maxDlq?: number;
  /** Also regenerate the registry of the project in `cwd` as its job files change (`--watch`). */
  watch?: { cwd: string; onEvent: (event: WatchEvent) => void };
  /**
   * Where the state is kept across restarts (the journal and its lock); `false` keeps it in memory only.
   * Default: `.qjobs/dev` in `cwd`.
   */
  stateDir?: string | false;
  /** Start with empty state (the journal is cleared). */
  fresh?: boolean;
  /** The project folder: its declared schedules, and the default state folder. */
  cwd?: string;
  /**
   * The local Redis's port (`QJOBS_REDIS_REST_URL`); default 8079 (any free one when it is taken, with a
   * warning), or any free one when `port` is 0.
   */
  redisPort?: number;
  /** The app's jobs route: default QJOBS_URL from the environment, `.env.local` or `.env`. */
  appUrl?: string;
  /** Register the project's declared schedules for the app; `false` registers none. On by default. */
  schedules?: boolean;
}

/** What `qjobs dev` did with the project's declared schedules. */
export type DevSchedules =
  | { readonly state: "registered"; readonly jobsUrl: string; readonly count: number }
  | { readonly state: "no-app-url"; readonly declared: number }
  | { readonly state: "off" };

export interface DevHandle {
  readonly server: DevServer;
  /** The local Upstash Redis (the run store's stand-in), on its own port. */
  readonly redis: LocalRedis;
  readonly engine: Engine;
  /** The variables an app needs to use this server. */
  readonly env: Record<string, string>;
  /** The registry's watcher, with `watch`. */
  readonly watcher?: Watcher;
  readonly schedules: DevSchedules;
  /** The dashboard's address (with its secret when the token is not the public one). */
  readonly dashboardUrl: string;
  /** What opening the state found (tightened modes, skipped lines), for the banner; none in memory. */
  readonly state?: { readonly dir: string; readonly notice: JournalNotice };
  /** The app's jobs route it uses (`--jobs-url` or QJOBS_URL), for its schedules, dashboard and warnings. */
  readonly jobsUrl?: string;
  /** Where it came from: `QJOBS_URL from .env.local`. */
  readonly jobsUrlSource: string;
  close(): Promise<void>;
}

/**
 * Calls `changed` whenever one of the env files next dev reads changes, is created or removed: qjobs dev follows
 * them as it follows job files (issue 21: `.env.local` edited after qjobs dev started). fs.watch on the folder,
 * not on the files, so a file created later or replaced by an editor's atomic save is seen too.
 */
function followEnvFiles(cwd: string, changed: () => void): FSWatcher | undefined {
  const names = new Set(ENV_FILES.development);
  try {
    return watch(cwd, { persistent: false }, (_event, file) => {
      if (file && names.has(file.toString())) changed();
    });
  } catch {
    return undefined; // a folder that cannot be watched: the env files are read once, as before
  }
}

/** `qjobs dev`: the local QStash-compatible server. */
export async function dev(options: DevOptions = {}): Promise<DevHandle> {
  const retryScale = options.retryScale ?? DEFAULT_RETRY_SCALE;
  if (!(retryScale >= 0)) throw new UserError(`--retry-scale must be a number >= 0, got ${options.retryScale}`);
  const given = options.credentials ?? {};
  if ((given.currentSigningKey || given.nextSigningKey) && !given.token) {
    // With the public token, anyone could make this server sign with the private keys.
    throw new UserError(
      "--current-signing-key and --next-signing-key need --token too (or QJOBS_DEV_TOKEN with the QJOBS_DEV_*_SIGNING_KEY variables): with the public development token anyone could have deliveries signed with your keys",
    );
  }
  for (const [name, value] of [
    ["--max-body-size", options.maxBodyBytes],
    ["--max-dlq", options.maxDlq],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      throw new UserError(`${name} must be a whole number > 0, got ${value}`);
  }
  const cwd = resolve(options.cwd ?? ".");
  const routePath = await knownRoutePath(cwd);
  // `--jobs-url`, else QJOBS_URL as next dev would read it; followed as the env files change (see followEnvFiles).
  const readJobsUrl = () => {
    const projectEnv = readProjectEnv(cwd, "development");
    const url = appJobsUrl(projectEnv, options.appUrl, routePath);
    return { url, source: options.appUrl ? "QJOBS_URL from --jobs-url" : sourceOf(projectEnv, "QJOBS_URL") };
  };
  let { url: jobsUrl, source: jobsUrlSource } = readJobsUrl();
  const credentials = { ...DEV_CREDENTIALS, ...Object.fromEntries(Object.entries(given).filter(([, value]) => value)) };
  // Built before the journal is locked: a page that is not built fails here with nothing to undo.
  // With a token of the user's own, the page (which holds no token) is behind a secret too.
  const secret = credentials.token === DEV_CREDENTIALS.token ? undefined : randomBytes(16).toString("base64url");
  const pages = dashboardHandler({
    pageFolder: PAGE_FOLDER,
    title: "qjobs dev",
    upstream: () => ({ url: server.url, token: credentials.token }),
    secret,
    get jobsUrl() {
      return jobsUrl; // read at each request: it follows the env files
    },
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    project: () => projectView({ cwd, jobsUrl, title: "qjobs dev", qstash: server.url, anyLoopback: true }),
    // Read at each request, as the jobs URL: a store added to .env.local shows up on reload. Without one, the runs
    // are read where an app following the banner records them: this qjobs dev's own Redis.
    runs: { env: () => runsEnv(readProjectEnv(cwd, "development").values) },
  });
  const runsEnv = (values: Readonly<Record<string, string | undefined>>) => ({
    ...(RUN_STORE_VARIABLES.some((name) => values[name])
      ? {}
      : { QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: credentials.token }),
    ...values,
    QJOBS_URL: jobsUrl?.href,
  });
  const stateDir = options.stateDir === false ? undefined : resolve(cwd, options.stateDir ?? join(".qjobs", "dev"));
  if (stateDir?.startsWith(resolve(cwd, ".qjobs"))) ignoreQjobsFolder(cwd);
  const warned = new Set<string>(); // each warning once: a wrong jobs URL would repeat it at every delivery
  // The keys the project declares, for routeWarning: kept with each scan of the project.
  let declared = new Set<string>();
  const journal = stateDir ? openJournal(cwd, stateDir, { fresh: options.fresh }) : undefined;
  // One journal beneath both services: the Redis stand-in is restored first, so the engine's first
  // compaction (at start) keeps its keys.
  const shared = journal ? shareJournal(journal.store) : undefined;
  const port = options.port ?? DEFAULT_PORT;
  const redisPort = options.redisPort ?? (port === 0 ? 0 : DEFAULT_REDIS_PORT);
  const startRedis = (at: number) =>
    startLocalRedis({
      port: at,
      token: credentials.token,
      clock: realClock,
      journal: journal && shared && { records: journal.records, section: shared.section },
    });
  let redis: LocalRedis;
  try {
    redis = await startRedis(redisPort).catch(async (error: NodeJS.ErrnoException) => {
      // The default port taken (a second qjobs dev): any free one, said before the banner that prints it.
      if (error.code !== "EADDRINUSE" || options.redisPort !== undefined) throw error;
      const elsewhere = await startRedis(0);
      options.onWarning?.(
        `Port ${redisPort} is in use: the local Redis listens on ${elsewhere.url} instead (--redis-port picks one)`,
      );
      return elsewhere;
    });
  } catch (error) {
    journal?.store.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new UserError(`Port ${redisPort} is in use (another qjobs dev?). Pick another with --redis-port.`);
    }
    throw error;
  }
  const engine: Engine = new Engine({
    store: shared?.section(() => engine.journalRecords()),
    restore: journal?.records,
    clock: realClock,
    deliver: deliverHttp,
    retryScale,
    onAttempt: (report) => {
      options.onAttempt?.(report);
      const warning = routeWarning(report, (key) => declared.has(key), jobsUrl);
      if (warning && !warned.has(warning)) {
        warned.add(warning);
        options.onWarning?.(warning);
      }
    },
    signingKey: credentials.currentSigningKey,
    maxDlq: options.maxDlq,
  });
  let server: DevServer;
  try {
    server = await startServer(engine, {
      port,
      token: credentials.token,
      keys: { current: credentials.currentSigningKey, next: credentials.nextSigningKey },
      maxBodyBytes: options.maxBodyBytes,
      pages,
    });
  } catch (error) {
    await redis.close();
    engine.stop();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new UserError(`Port ${port} is in use (another qjobs dev or QStash server?). Pick another with --port.`);
    }
    throw error;
  }
  let schedules: DevSchedules = { state: "off" };
  const refreshProject = async () => {
    const scan = await scanProject(await loadConfig(cwd), { persistCache: true });
    if (scan.diagnostics.length > 0) return; // reported by the watcher or generate; the schedules stay as they were
    declared = new Set(scan.model.jobs.map((job) => job.key));
    if (options.schedules === false) return;
    if (!jobsUrl) {
      schedules = {
        state: "no-app-url",
        declared: scan.model.jobs.reduce((sum, job) => sum + job.schedules.length, 0),
      };
      return;
    }
    const steps = registerSchedules(engine, scan.model.jobs, jobsUrl);
    schedules = {
      state: "registered",
      jobsUrl: jobsUrl.href,
      count: steps.filter((step) => step.action !== "delete").length,
    };
  };
  try {
    await refreshProject();
  } catch (error) {
    // Without schedules to register, a project that cannot be read yet only leaves the keys unknown.
    if (options.schedules !== false) {
      await redis.close();
      await server.close(); // a server left listening would keep the process alive after the error
      throw error;
    }
  }
  // The watcher loads chokidar and the parser: only when asked for. Each new registry re-registers the schedules.
  const watch = options.watch;
  const watcher = watch
    ? await import("../core/watcher.js").then(({ watchProject }) =>
        watchProject({
          ...watch,
          onEvent: (event) => {
            watch.onEvent(event);
            if (event.type !== "generated") return;
            // Never an unhandled rejection: that would end qjobs dev and every message with it.
            refreshProject().catch((error: unknown) =>
              watch.onEvent({
                type: "failed",
                message: `could not register the schedules: ${(error as Error).message}`,
              }),
            );
          },
        }),
      )
    : undefined;
  const envWatcher = options.appUrl
    ? undefined
    : followEnvFiles(cwd, () => {
        let next: ReturnType<typeof readJobsUrl>;
        try {
          next = readJobsUrl();
        } catch (error) {
          options.onWarning?.(`${(error as Error).message}; qjobs dev keeps ${jobsUrl?.href ?? "no jobs URL"}`);
          return;
        }
        if (next.url?.href === jobsUrl?.href) return;
        // The schedules registered for the old URL go: they would keep firing at an app that moved.
        if (jobsUrl && options.schedules !== false) registerSchedules(engine, [], jobsUrl);
        ({ url: jobsUrl, source: jobsUrlSource } = next);
        options.onNotice?.(
          jobsUrl ? `QJOBS_URL is now ${jobsUrl.href} (${jobsUrlSource})` : "QJOBS_URL is no longer set",
        );
        refreshProject().catch((error: unknown) =>
          options.onWarning?.(`could not register the schedules: ${(error as Error).message}`),
        );
      });
  return {
    server,
    redis,
    engine,
    env: {
      QSTASH_URL: server.url,
      QSTASH_TOKEN: credentials.token,
      QSTASH_CURRENT_SIGNING_KEY: credentials.currentSigningKey,
      QSTASH_NEXT_SIGNING_KEY: credentials.nextSigningKey,
      QJOBS_REDIS_REST_URL: redis.url,
      QJOBS_REDIS_REST_TOKEN: credentials.token,
    },
    watcher,
    get schedules() {
      return schedules;
    },
    dashboardUrl: `${server.url}/${secret ? `${secret}/` : ""}`,
    state: stateDir && journal ? { dir: stateDir, notice: journal.notice } : undefined,
    get jobsUrl() {
      return jobsUrl?.href;
    },
    get jobsUrlSource() {
      return jobsUrlSource;
    },
    close: async () => {
      envWatcher?.close();
      await redis.close(); // first: the engine's stop closes the journal both write to
      await Promise.all([server.close(), watcher?.close()]);
    },
  };
}
