/**
 * What binds a delivery to this app: the URL QStash signed (`sub`) must be one of the app's jobs URLs
 * with the qjobs parameters added. Parsed parts are compared, never strings, and the expected URL never
 * comes from the request (its Host header can be anything behind a proxy or the node adapter).
 */

/** The query parameters qjobs adds to the jobs URL: the job key, and the hook a failure callback runs. */
const QJOBS_PARAMS = ["job", "hook"] as const;

export interface SignedTarget {
  /** The job key the signed URL names, decoded (`images%2Fresize` is `images/resize`). */
  readonly key: string | null;
  /** The hook it names (`failure` for a failure callback), or null for a delivery. */
  readonly hook: string | null;
}

/** A parameter that must appear once at most: a second `job=` would let two readers disagree. */
function single(params: URLSearchParams, name: string): string | null | undefined {
  const values = params.getAll(name);
  return values.length > 1 ? undefined : (values[0] ?? null);
}

/** A URL's own query parameters (not the ones qjobs adds), encoded and sorted: order never tells apps apart. */
function ownParams(url: URL): string[] {
  return [...url.searchParams]
    .filter(([name]) => !(QJOBS_PARAMS as readonly string[]).includes(name))
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .sort();
}

/**
 * Whether `url` names the app at `app`: same scheme, host, port and path, and the same own query parameters,
 * compared for equality (a parameter added or missing is another app). The one rule for the route's binding
 * and for which schedules `qjobs schedules sync` owns.
 */
export function isSameApp(url: URL, app: URL): boolean {
  if (url.protocol !== app.protocol || url.hostname !== app.hostname) return false;
  if (url.port !== app.port || url.pathname !== app.pathname) return false;
  const [mine, theirs] = [ownParams(url), ownParams(app)];
  return mine.length === theirs.length && mine.every((param, index) => param === theirs[index]);
}

/** What identifies the app at a jobs URL, as text: origin, path and its own query parameters (sorted). */
export function appIdentity(app: URL): string {
  const params = ownParams(app);
  return `${app.origin}${app.pathname}${params.length > 0 ? `?${params.join("&")}` : ""}`;
}

/**
 * The job and hook a signed URL names, when it is a URL of this app (`isSameApp` with one of `appUrls`).
 * Undefined when it is not this app's.
 */
export function signedTarget(signedUrl: string, appUrls: readonly URL[]): SignedTarget | undefined {
  let url: URL;
  try {
    url = new URL(signedUrl);
  } catch {
    return undefined;
  }
  const matches = appUrls.some((app) => isSameApp(url, app));
  if (!matches) return undefined;
  const key = single(url.searchParams, "job");
  const hook = single(url.searchParams, "hook");
  if (key === undefined || hook === undefined) return undefined;
  return { key, hook };
}

/** The URL QStash calls for a job: the jobs route with the key (and, for a hook, its name) in the query. */
export function deliveryUrl(jobsUrl: string | URL, key: string, hook?: string): string {
  const url = new URL(jobsUrl);
  for (const name of QJOBS_PARAMS) url.searchParams.delete(name);
  url.searchParams.set("job", key);
  if (hook) url.searchParams.set("hook", hook);
  return url.href;
}
