import type { AttemptReport } from "./gateway.js";

/**
 * What looks like success but is not, in a delivery to the app (issue 21): a 2xx from something other than the
 * qjobs route (a jobs URL pointing at the home page answers 200 while no job runs: the route says
 * `Qjobs-Route: 1`, PRODUCT.md), or a 3xx, which QStash does not follow. Only for a URL whose `?job=` names a
 * declared job, so other destinations of this QStash API (any URL is accepted) are left alone.
 */
export function routeWarning(
  report: AttemptReport,
  isDeclared: (key: string) => boolean,
  jobsUrl: URL | undefined,
): string | undefined {
  const { status, headers } = report.response;
  if (status === undefined || status < 200 || status >= 400) return undefined;
  let url: URL;
  try {
    url = new URL(report.message.url);
  } catch {
    return undefined;
  }
  const key = url.searchParams.get("job");
  if (key === null || !isDeclared(key)) return undefined;
  const expected = jobsUrl ? ` (qjobs dev's is ${jobsUrl.href})` : "";
  if (status >= 300) {
    const location = headers.location ? ` to ${headers.location}` : "";
    return (
      `${url.origin}${url.pathname} answered ${status}, a redirect${location}, for job "${key}": QStash does not ` +
      `follow redirects, so the job never runs. Set QJOBS_URL to the URL your jobs route answers at${expected}.`
    );
  }
  if (headers["qjobs-route"] === "1") return undefined;
  return (
    `${url.origin}${url.pathname} answered ${status} for job "${key}" without Qjobs-Route: 1: it is not the qjobs ` +
    `route, so the job did not run. Check QJOBS_URL: it must be your jobs route's URL${expected}.`
  );
}
