import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BYPASS_HEADER, bypassHeaders } from "@qjobs/runtime";
import { readBody, sameSecret } from "../http.js";
import { prepareRetry, RetryLinks } from "./dead-letter-retry.js";
import { dashboardEndpoint, MESSAGE_ID, type PageEndpoint, pageEndpoint } from "./endpoints.js";
import { checkPublish, MAX_ANSWER_BYTES, pageAnswer, parseTarget, readCapped } from "./proxy.js";
import { type RunsOptions, runsAnswer } from "./runs.js";
import type { ProjectView } from "./view.js";

/** Serves one request that is not for QStash's API: the page, its assets, the project, the proxy. */
export type PageHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export interface DashboardOptions {
  /** The QStash the page's calls go to, and the token the CLI holds for it (the page never sees it). */
  upstream: () => { url: string; token: string };
  /** A per-launch secret the page's address must start with (`/<secret>/`); without one it is served at `/`. */
  secret?: string;
  /** The page's title. */
  title: string;
  project: () => Promise<ProjectView>;
  /** The app's jobs route: the only destination the proxy publishes to. */
  jobsUrl: URL | undefined;
  /**
   * VERCEL_AUTOMATION_BYPASS_SECRET: added by the proxy to what it publishes (and to a failure callback), as the
   * registry's dispatch does, so a protected preview takes the page's dispatches; the page never sees it.
   */
  bypassSecret?: string;
  maxBodyBytes: number;
  /** The folder of the page's built files (the CLI builds them into its dist/page). */
  pageFolder: string;
  /** Where the run store is read from, for the page's run endpoints (runs.ts). */
  runs: RunsOptions;
}

/** The page's files, built by the CLI's scripts/build-page.mjs (its dist/page). */
function pageFiles(folder: string): Map<string, { type: string; body: Buffer }> {
  if (!existsSync(`${folder}app.js`))
    throw new Error(`The dashboard's page is not built (${folder}): run \`pnpm build\``);
  return new Map([
    ["index.html", { type: "text/html; charset=utf-8", body: readFileSync(`${folder}index.html`) }],
    ["assets/app.js", { type: "text/javascript; charset=utf-8", body: readFileSync(`${folder}app.js`) }],
    ["assets/app.css", { type: "text/css; charset=utf-8", body: readFileSync(`${folder}app.css`) }],
  ]);
}

// Nothing from elsewhere, no inline script, no framing, no referrer (the address may hold the secret).
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[char] as string);

export function dashboardHandler(options: DashboardOptions): PageHandler {
  const files = pageFiles(options.pageFolder);
  const index = (files.get("index.html") as { body: Buffer }).body
    .toString("utf8")
    .replace("<title>qjobs dev</title>", `<title>${escapeHtml(options.title)}</title>`);

  const json = (response: ServerResponse, status: number, body: unknown) =>
    void response.writeHead(status, { "content-type": "application/json", ...PAGE_HEADERS }).end(JSON.stringify(body));

  /**
   * Forwards one listed call to QStash with the token. The target is parsed once: what is matched against the
   * list and checked is exactly what is forwarded. Answers JSON only, with QStash's status.
   */
  const proxy = async (request: IncomingMessage, response: ServerResponse, target: string) => {
    const method = request.method ?? "GET";
    const parsed = parseTarget(target);
    if ("refusal" in parsed) return json(response, 400, { error: parsed.refusal });
    const { pathname, search } = parsed.url;
    const endpoint = dashboardEndpoint(method, pathname);
    if (!endpoint) return json(response, 403, { error: `The dashboard does not call ${method} ${pathname}` });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (typeof value === "string" && (name === "content-type" || name.startsWith("upstash-"))) headers[name] = value;
    }
    let forwarded = `${pathname}${search}`;
    // A retry takes QStash's configuration headers (a callback, forwarded headers) over the dead letter's: the
    // page sends none. The CLI notes which dead letter it was (dead-letter-retry.ts).
    let retried: Awaited<ReturnType<typeof prepareRetry>> | undefined;
    if (endpoint.path === "/v2/dlq/retry/:dlqId") {
      const sent = Object.keys(headers).find((name) => name.startsWith("upstash-"));
      if (sent) return json(response, 403, { error: `The dashboard retries a dead letter as it was, without ${sent}` });
      retried = await prepareRetry(options.runs, retryLinks, options.upstream(), pathname.split("/").pop() as string);
    }
    if (endpoint.path.startsWith("/v2/publish/")) {
      // A forwarded-header from the page could carry anything to the app: only the proxy adds the secret.
      for (const name of Object.keys(headers)) if (name.includes(BYPASS_HEADER)) delete headers[name];
      const checked = checkPublish(
        `${pathname.slice("/v2/publish/".length)}${search}`,
        headers,
        await options.project(),
      );
      if ("refusal" in checked) return json(response, 403, { error: checked.refusal });
      Object.assign(
        headers,
        checked.callbacks,
        bypassHeaders(options.bypassSecret, options.jobsUrl, {
          callback: checked.callbacks["upstash-callback"],
          failureCallback: checked.callbacks["upstash-failure-callback"],
        }),
      );
      forwarded = `/v2/publish/${checked.destination}`;
    }
    const body = await readBody(request, options.maxBodyBytes);
    if (!body) return json(response, 413, { error: `The body is over ${options.maxBodyBytes} bytes` });
    const upstream = options.upstream();
    let answer: Response;
    let text: Buffer | undefined;
    try {
      answer = await fetch(`${upstream.url.replace(/\/$/, "")}${forwarded}`, {
        method,
        headers: { ...headers, authorization: `Bearer ${upstream.token}` },
        ...(method === "GET" || method === "HEAD" ? {} : { body: new Uint8Array(body) }),
        redirect: "manual",
      });
      text = await readCapped(answer);
    } catch (error) {
      return json(response, 502, { error: `QStash at ${upstream.url} did not answer: ${(error as Error).message}` });
    }
    if (!text)
      return json(response, 502, {
        error: `QStash's answer is over ${MAX_ANSWER_BYTES / 1024 / 1024} MiB: ask for fewer at a time`,
        tooLarge: true,
      });
    await retried?.(answer.status, text.toString("utf8"));
    response
      .writeHead(answer.status, { "content-type": "application/json", ...PAGE_HEADERS })
      .end(pageAnswer(text, answer.status, [upstream.token, options.bypassSecret]));
  };

  const retryLinks = new RetryLinks();
  /** What each of the page's own endpoints answers: one entry for each, or this does not compile. */
  const pageAnswers: Record<PageEndpoint["path"], (target: string) => Promise<{ status: number; body: unknown }>> = {
    "/api/project": async () => {
      try {
        return { status: 200, body: await options.project() };
      } catch (error) {
        return { status: 500, body: { error: (error as Error).message } };
      }
    },
    "/api/runs": (target) => runsAnswer(options.runs, target),
    "/api/runs/:runId": (target) => runsAnswer(options.runs, target),
    "/api/retries/:messageId": async (target) => {
      const messageId = decodeURIComponent((target.split("?")[0] as string).slice("/api/retries/".length));
      if (!MESSAGE_ID.test(messageId))
        return { status: 400, body: { error: `Not a message id: ${JSON.stringify(messageId.slice(0, 80))}` } };
      return { status: 200, body: retryLinks.of(messageId) };
    },
  };

  return async (request, response) => {
    const target = request.url ?? "/";
    let path = target;
    if (options.secret !== undefined) {
      const [, first = "", ...rest] = target.split("/");
      if (!sameSecret(first.split("?")[0] as string, options.secret))
        return void response.writeHead(404, { "content-type": "text/plain", ...PAGE_HEADERS }).end("Not found");
      // The page's links are relative: its address must end with a slash.
      if (rest.length === 0) return void response.writeHead(308, { location: `/${options.secret}/` }).end();
      path = `/${rest.join("/")}`;
    }
    const pathname = path.split("?")[0] as string;
    if (pathname.startsWith("/api/qstash/")) return proxy(request, response, path.slice("/api/qstash".length));
    if (request.method !== "GET" && request.method !== "HEAD")
      return json(response, 405, { error: `${request.method} ${pathname}: the dashboard's pages are read with GET` });
    // The page's own endpoints are served only as PAGE_ENDPOINTS lists them (a HEAD is read as a GET).
    const own = pageEndpoint("GET", pathname);
    if (own) {
      const { status, body } = await pageAnswers[own.path](path);
      return json(response, status, body);
    }
    if (pathname === "/" || pathname === "/index.html")
      return void response.writeHead(200, { "content-type": "text/html; charset=utf-8", ...PAGE_HEADERS }).end(index);
    const file = files.get(pathname.slice(1));
    if (file) return void response.writeHead(200, { "content-type": file.type, ...PAGE_HEADERS }).end(file.body);
    json(response, 404, { error: `no route for ${request.method} ${pathname}` });
  };
}
