import type { Page, Request } from "playwright-core";
import { expect } from "vitest";
import { type Destination, startDestination } from "../../../testkit/destination.js";
import { dashboardEndpoint, pageEndpoint } from "../../local/src/dashboard/endpoints.js";
import { tempProject } from "./support.js";

/**
 * A project with five jobs: one that works, one whose app answers 500, one with a schedule, one never run, and
 * one that declares a callback (to a closed port).
 */
export function dashboardProject(): Promise<string> {
  const job = (name: string, key: string, definition: string) =>
    `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob(${JSON.stringify(key)}, { ${definition}, handler: async () => {} });\n`;
  return tempProject({
    "qjobs.config.json": JSON.stringify({ jobs: ["jobs/*.job.ts"], registry: "qjobs.gen.ts", route: "route.ts" }),
    "jobs/greet.job.ts": job("greet", "emails/greet", 'retries: 2, label: "emails"'),
    "jobs/flaky.job.ts": job("flaky", "flaky", "retries: 1"),
    "jobs/quiet.job.ts": job("quiet", "quiet", "retries: 0"),
    "jobs/notify.job.ts": job("notify", "notify", `callback: "${DECLARED_CALLBACK}"`),
    "jobs/nightly.job.ts": job(
      "nightly",
      "nightly",
      'schedule: { name: "reports", cron: "0 3 * * *", payload: { period: "day" } }',
    ),
  });
}

export const DECLARED_CALLBACK = "http://127.0.0.1:9/declared-callback";

/** The app, standing in for the user's route: `flaky` fails with 500, every other job is delivered. */
export const startApp = (): Promise<Destination> =>
  startDestination((delivery, response) => {
    if (delivery.target.includes("job=flaky") && !delivery.target.includes("hook="))
      response.writeHead(500).end("boom");
    else response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });

/**
 * Records every request the page makes and checks, when asked, that each one is the page's own (its document and
 * assets, or a CLI endpoint on PAGE_ENDPOINTS: the project view, runs) or a QStash call on the dashboard's list
 * (packages/local/src/dashboard/endpoints.ts).
 */
export function recordRequests(page: Page, base: string) {
  const seen: Request[] = [];
  page.on("request", (request) => seen.push(request));
  return {
    seen,
    expectAllListed() {
      expect(seen.length).toBeGreaterThan(0);
      const outside = seen
        .map((request) => ({ method: request.method(), url: new URL(request.url()) }))
        .filter(({ method, url }) => {
          if (!url.href.startsWith(base)) return true;
          const path = `/${url.pathname.slice(new URL(base).pathname.length)}`;
          if (["/", "/assets/app.js", "/assets/app.css"].includes(path) || pageEndpoint(method, path)) return false;
          return !(path.startsWith("/api/qstash/") && dashboardEndpoint(method, path.slice("/api/qstash".length)));
        })
        .map(({ method, url }) => `${method} ${url.href}`);
      expect(outside).toEqual([]);
    },
  };
}

/**
 * What reached the page, for the checks that a secret never does: every answer it received (headers and body as
 * text), and what it holds (the DOM, cookies and storage).
 */
export function recordResponses(page: Page) {
  const received: Promise<string>[] = [];
  page.on("response", (response) => {
    received.push(
      response
        .text()
        .catch(() => "")
        .then((body) => `${JSON.stringify(response.headers())}\n${body}`),
    );
  });
  return {
    answers: () => Promise.all(received),
    held: () =>
      page.evaluate(
        () =>
          document.documentElement.outerHTML +
          document.cookie +
          JSON.stringify(localStorage) +
          JSON.stringify(sessionStorage),
      ),
  };
}
