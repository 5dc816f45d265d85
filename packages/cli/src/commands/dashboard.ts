import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import {
  crossSiteRefusal,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_MAX_BODY_BYTES,
  dashboardHandler,
  flatHeaders,
} from "#local";
import { knownRoutePath } from "../core/config.js";
import { PAGE_FOLDER } from "../core/page-folder.js";
import { projectView } from "../dashboard/project.js";
import { appJobsUrl, readProjectEnv, sourceOf } from "../env-files.js";
import { UserError } from "../errors.js";

const QSTASH_CLOUD = "https://qstash.upstash.io";

export interface DashboardOptions {
  cwd?: string;
  port?: number;
  /** The app's jobs route (default: QJOBS_URL). */
  appUrl?: string;
  /** Where QSTASH_URL, QSTASH_TOKEN and QJOBS_URL come from before the project's .env files; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
}

export interface DashboardHandle {
  /** The page's address, with the per-launch secret: the only way in. */
  readonly url: string;
  /** The QStash it looks at. */
  readonly qstash: string;
  readonly jobsUrl?: string;
  /** Where QJOBS_URL and QSTASH_URL came from (`QJOBS_URL from .env.local`), for the banner. */
  readonly sources: readonly string[];
  close(): Promise<void>;
}

/**
 * `qjobs dashboard`: the dashboard of `qjobs dev`, against the QStash that QSTASH_URL/QSTASH_TOKEN name. The CLI
 * holds the token and forwards the page's calls (only those the page makes); the page is served on 127.0.0.1
 * behind a random secret in its address, with the same Host and Origin rules as `qjobs dev`.
 */
export async function dashboard(options: DashboardOptions = {}): Promise<DashboardHandle> {
  const cwd = resolve(options.cwd ?? ".");
  const projectEnv = readProjectEnv(cwd, "development", options.env ?? process.env);
  const token = projectEnv.values.QSTASH_TOKEN;
  if (!token)
    throw new UserError(
      "QSTASH_TOKEN is not set: the dashboard needs the token of the QStash to look at (in the environment or .env.local)",
    );
  const qstash = projectEnv.values.QSTASH_URL ?? QSTASH_CLOUD;
  try {
    new URL(qstash);
  } catch {
    throw new UserError(`QSTASH_URL must be an absolute URL, got "${qstash}"`);
  }
  const jobsUrl = appJobsUrl(projectEnv, options.appUrl, await knownRoutePath(cwd));
  const secret = randomBytes(16).toString("base64url");
  const title = `qjobs dashboard · ${new URL(qstash).host}`;
  const pages = dashboardHandler({
    pageFolder: PAGE_FOLDER,
    title,
    upstream: () => ({ url: qstash, token }),
    secret,
    jobsUrl,
    bypassSecret: projectEnv.values.VERCEL_AUTOMATION_BYPASS_SECRET,
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
    project: () => projectView({ cwd, jobsUrl, title, qstash }),
    // The run store's variables are read as QSTASH_TOKEN is; runs are listed for the dashboard's jobs URL.
    runs: { env: () => ({ ...projectEnv.values, QJOBS_URL: jobsUrl?.href }) },
  });
  const server: Server = createServer((request, response) => {
    const refusal = crossSiteRefusal(flatHeaders(request));
    if (refusal)
      return void response
        .writeHead(403, { "content-type": "application/json", connection: "close" })
        .end(JSON.stringify({ error: `Forbidden: ${refusal}` }));
    pages(request, response).catch(() => response.destroy());
  });
  const port = options.port ?? DEFAULT_DASHBOARD_PORT;
  await new Promise<void>((done, fail) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      fail(error.code === "EADDRINUSE" ? new UserError(`Port ${port} is in use: pick another with --port.`) : error),
    );
    server.listen(port, "127.0.0.1", () => done());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/${secret}/`,
    qstash,
    ...(jobsUrl ? { jobsUrl: jobsUrl.href } : {}),
    sources: [
      options.appUrl ? "QJOBS_URL from --jobs-url" : sourceOf(projectEnv, "QJOBS_URL"),
      sourceOf(projectEnv, "QSTASH_URL"),
    ],
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
