import { ConfigurationError } from "./errors.js";
import { quoteForLog } from "./log-text.js";

/**
 * The public credentials printed by Upstash's local QStash server (user 1), which `qjobs dev`
 * uses too. Anyone can sign with them, so they are accepted only for local use (`isLocalUse`).
 */
export const DEV_CREDENTIALS = Object.freeze({
  token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
  currentSigningKey: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
  nextSigningKey: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
});

export type Env = Readonly<Record<string, string | undefined>>;

/** `process.env` where there is one (Node, Next.js edge), otherwise nothing. */
export function processEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

/** Where the generated route is mounted when nothing says otherwise (what `qjobs init` sets up). */
export const DEFAULT_ROUTE_PATH = "/api/jobs";

/**
 * The largest request body the route reads: room for a 10 MB message (QStash's pay-as-you-go size)
 * and for its failure callback, which carries the message base64-encoded (13.4 MB) and the last response.
 * Set `QJOBS_MAX_BODY_BYTES` or the route's `maxBodyBytes` to change it.
 */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** What a failure callback adds around the payload, besides encoding it in base64: the response and the headers. */
const CALLBACK_OVERHEAD_BYTES = 64 * 1024;

/** The body limit in force: `QJOBS_MAX_BODY_BYTES` when set (a whole number of bytes), else the default. */
export function readMaxBodyBytes(env: Env = processEnv()): number {
  return readWholeNumber(env, "QJOBS_MAX_BODY_BYTES", { unit: "bytes", min: 1024, fallback: DEFAULT_MAX_BODY_BYTES });
}

/** A variable holding a whole number of `unit`s, at least `min`; `fallback` when unset; else a ConfigurationError. */
function readWholeNumber(env: Env, name: string, rule: { unit: string; min: number; fallback: number }): number {
  const text = env[name];
  if (text === undefined || text === "") return rule.fallback;
  if (!/^\d+$/.test(text) || Number(text) < rule.min) {
    throw new ConfigurationError(
      `${name} must be a whole number of ${rule.unit} >= ${rule.min}, got ${quoteForLog(text)}.`,
      [name],
    );
  }
  return Number(text);
}

/** The largest payload a dispatch accepts under a body limit: its delivery and its failure callback must both fit. */
export function maxPayloadBytes(maxBodyBytes: number): number {
  return Math.floor(((maxBodyBytes - CALLBACK_OVERHEAD_BYTES) * 3) / 4);
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Whether a URL points at this machine: localhost, 127.0.0.0/8 or [::1]. */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.test(url.hostname);
}

/**
 * Whether the public development credentials may be used: every URL involved is a loopback URL,
 * or NODE_ENV says development or test. Anywhere else anyone could sign or publish with them.
 */
export function isLocalUse(env: Env, urls: readonly URL[]): boolean {
  return env.NODE_ENV === "development" || env.NODE_ENV === "test" || (urls.length > 0 && urls.every(isLoopbackUrl));
}

function parseJobsUrl(text: string, variable: string, routePath?: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigurationError(`${variable} must be an absolute http(s) URL, got ${quoteForLog(text)}.`, [variable]);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigurationError(`${variable} must be an absolute http(s) URL, got ${quoteForLog(text)}.`, [variable]);
  }
  checkJobsUrlPath(url, variable, routePath);
  return url;
}

/**
 * Refuses a jobs URL without a path (`http://localhost:3000`, or with `/`): QStash would deliver every job to the
 * app's home page, which answers 200, so everything looks delivered and no job runs (issue 21). When the route's
 * path is known (the registry knows it for an App Router route) and the URL's path neither is it nor ends with it
 * (trailing slash aside), warns once: a basePath or a proxy prefix is fine, but a typo is the likelier cause.
 */
export function checkJobsUrlPath(url: URL, variable: string, routePath?: string): void {
  const example = `${url.origin}${routePath ?? DEFAULT_ROUTE_PATH}`;
  if (url.pathname === "/") {
    throw new ConfigurationError(
      `${variable} is ${quoteForLog(url.href)}, which has no path: QStash would deliver every job to your app's home page, ` +
        `which answers 200 while no job runs. Use your jobs route's URL${routePath ? "" : ", e.g."} ${example}.`,
      [variable],
    );
  }
  const warning = jobsUrlPathMismatch(url, variable, routePath);
  if (warning && !warnedPaths.has(warning)) {
    warnedPaths.add(warning);
    console.warn(`[qjobs] ${warning}`);
  }
}

const warnedPaths = new Set<string>();

/** The warning for a jobs URL whose path neither is the route's path nor ends with it; undefined when it does. */
function jobsUrlPathMismatch(url: URL, variable: string, routePath: string | undefined): string | undefined {
  if (!routePath) return undefined;
  const path = url.pathname.replace(/\/+$/, "");
  if (path === routePath || path.endsWith(routePath)) return undefined;
  return (
    `${variable} is ${quoteForLog(url.href)}, but your jobs route is at ${routePath}: QStash delivers to the URL's path ` +
    `(${url.pathname}). Unless a rewrite or proxy maps it to the route, use ${url.origin}${routePath}.`
  );
}

/**
 * The absolute URL of the app's jobs route, as QStash must call it: one resolver for dispatch, the route,
 * the test signer and schedule sync. `QJOBS_URL` when set; on a Vercel preview without it, the deployment's
 * own URL (`VERCEL_URL`) and the route's path, so a preview never publishes to, or accepts deliveries for,
 * production. Undefined when neither says. `routePath` is the route's path when the registry knows it: a URL
 * without a path is refused, and one that does not end with the route's path warned about (checkJobsUrlPath).
 */
export function resolveJobsUrl(env: Env = processEnv(), routePath?: string): URL | undefined {
  if (env.QJOBS_URL) return parseJobsUrl(env.QJOBS_URL, "QJOBS_URL", routePath);
  if (env.VERCEL_ENV === "preview" && env.VERCEL_URL)
    return parseJobsUrl(`https://${env.VERCEL_URL}${routePath ?? DEFAULT_ROUTE_PATH}`, "VERCEL_URL", routePath);
  return undefined;
}

const missingJobsUrl = (what: string) =>
  new ConfigurationError(
    `${what}: QJOBS_URL is not set. It is the absolute URL of your jobs route as QStash calls it, e.g. https://example.com/api/jobs.`,
    ["QJOBS_URL"],
  );

export interface SigningKeys {
  readonly current: string;
  readonly next: string;
}

/** What the route needs: the signing keys and the URLs a delivery may be signed for. */
export interface RouteConfig {
  readonly keys: SigningKeys;
  /** The app's jobs URLs: deliveries signed for anything else are refused. */
  readonly urls: readonly URL[];
  /** True when the public development keys are in use under NODE_ENV=production (a local `next start`). */
  readonly devKeysInProduction: boolean;
}

const isDevKey = (key: string) => key === DEV_CREDENTIALS.currentSigningKey || key === DEV_CREDENTIALS.nextSigningKey;

/**
 * The route's configuration, failing closed: both signing keys, at least one jobs URL, and the public
 * development keys only for local use. Throws ConfigurationError naming each missing or refused variable.
 */
export function readRouteConfig(env: Env, options: { urls?: readonly string[]; routePath?: string } = {}): RouteConfig {
  const current = env.QSTASH_CURRENT_SIGNING_KEY;
  const next = env.QSTASH_NEXT_SIGNING_KEY;
  const missing = [...(current ? [] : ["QSTASH_CURRENT_SIGNING_KEY"]), ...(next ? [] : ["QSTASH_NEXT_SIGNING_KEY"])];
  if (!current || !next) {
    throw new ConfigurationError(
      `Refusing to run jobs: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set. ` +
        "Set both signing keys from the QStash console (or the ones `qjobs dev` prints).",
      missing,
    );
  }
  const resolved = resolveJobsUrl(env, options.routePath);
  const urls = [
    ...(resolved ? [resolved] : []),
    ...(options.urls ?? []).map((url) => parseJobsUrl(url, "the route's urls option", options.routePath)),
  ];
  if (urls.length === 0) throw missingJobsUrl("Refusing to run jobs");
  const refused = [
    ...(isDevKey(current) ? ["QSTASH_CURRENT_SIGNING_KEY"] : []),
    ...(isDevKey(next) ? ["QSTASH_NEXT_SIGNING_KEY"] : []),
  ];
  if (refused.length > 0 && !isLocalUse(env, urls)) {
    throw new ConfigurationError(
      `Refusing to run jobs: ${refused.join(" and ")} ${refused.length > 1 ? "hold" : "holds"} a public development key, ` +
        "which anyone can sign with. They are accepted only when every jobs URL is a loopback URL or NODE_ENV is development or test; " +
        "use your QStash signing keys here.",
      refused,
    );
  }
  return { keys: { current, next }, urls, devKeysInProduction: refused.length > 0 && env.NODE_ENV === "production" };
}

/** Kept for callers of the first version: the keys alone, checked like the route checks them. */
export function readSigningKeys(env: Env = processEnv()): SigningKeys {
  return readRouteConfig(env).keys;
}

export interface DispatchConfig {
  readonly token: string;
  /** QStash's base URL; undefined means Upstash's service. */
  readonly qstashUrl: string | undefined;
  /** The absolute URL of the jobs route, as QStash must call it. */
  readonly jobsUrl: string;
  /** Vercel's deployment-protection bypass, forwarded on deliveries; never logged. */
  readonly bypassSecret: string | undefined;
  /** The largest body the route reads (a payload must leave room for its failure callback). */
  readonly maxBodyBytes: number;
  /** Where dispatched runs are recorded as queued; undefined without a store. */
  readonly runStore: RunStoreConfig | undefined;
}

/** What publishing needs. Throws, naming the missing or refused variable. */
export function readDispatchConfig(env: Env = processEnv(), routePath?: string): DispatchConfig {
  const token = env.QSTASH_TOKEN;
  const jobsUrl = resolveJobsUrl(env, routePath);
  if (!token || !jobsUrl) {
    const missing = [...(token ? [] : ["QSTASH_TOKEN"]), ...(jobsUrl ? [] : ["QJOBS_URL"])];
    if (token) throw missingJobsUrl("Cannot dispatch jobs");
    throw new ConfigurationError(
      `Cannot dispatch jobs: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set.` +
        (jobsUrl ? "" : " QJOBS_URL is the absolute URL of your jobs route, e.g. https://example.com/api/jobs."),
      missing,
    );
  }
  if (token === DEV_CREDENTIALS.token && !isLocalUse(env, [jobsUrl])) {
    throw new ConfigurationError(
      "Cannot dispatch jobs: QSTASH_TOKEN holds the public development token, which is accepted only when QJOBS_URL is a " +
        "loopback URL or NODE_ENV is development or test.",
      ["QSTASH_TOKEN"],
    );
  }
  if (token === DEV_CREDENTIALS.token && !env.QSTASH_URL) {
    // Without QSTASH_URL the SDK goes to Upstash's cloud, which refuses this token after retrying for a while.
    throw new ConfigurationError(
      "Cannot dispatch jobs: QSTASH_TOKEN holds the public development token but QSTASH_URL is not set, so messages " +
        "would go to Upstash's cloud, which refuses it. Set QSTASH_URL to qjobs dev's address (e.g. http://127.0.0.1:8080), " +
        "or use your QStash token.",
      ["QSTASH_URL"],
    );
  }
  return {
    token,
    qstashUrl: env.QSTASH_URL || undefined,
    jobsUrl: jobsUrl.href,
    bypassSecret: env.VERCEL_AUTOMATION_BYPASS_SECRET || undefined,
    maxBodyBytes: readMaxBodyBytes(env),
    runStore: readRunStoreConfig(env),
  };
}

/** How long a run is kept after it ends, when `QJOBS_RUN_RETENTION` does not say: 7 days. */
export const DEFAULT_RUN_RETENTION_SECONDS = 7 * 24 * 60 * 60;

/** The pairs of variables that may name the run store, in the order they are tried. */
const RUN_STORE_PAIRS = [
  ["QJOBS_REDIS_REST_URL", "QJOBS_REDIS_REST_TOKEN"],
  ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"],
  ["KV_REST_API_URL", "KV_REST_API_TOKEN"],
] as const;

/** Every variable that can configure the run store, for errors that must name them. */
export const RUN_STORE_VARIABLES: readonly string[] = RUN_STORE_PAIRS.flat();

/** What to set for a run store, in the words every "needs the run store" error uses. */
export const RUN_STORE_HINT = `set ${RUN_STORE_PAIRS[0].join(" and ")} (or ${RUN_STORE_PAIRS.slice(1)
  .map(([url, token]) => `${url}/${token.replace(/^.*_/, "_")}`)
  .join(", or ")})`;

/** Where runs live (Upstash Redis over REST) and how long an ended run is kept. */
export interface RunStoreConfig {
  readonly url: string;
  readonly token: string;
  /** Seconds an ended run is kept. */
  readonly retention: number;
}

/**
 * The run store, or undefined when none is configured. `QJOBS_REDIS_REST_*` first, so an app can point runs
 * at a database of its own; else Upstash's and then Vercel KV's usual names. The first complete pair wins; a
 * pair with one half set is a ConfigurationError naming the missing half (a typo must not silently turn runs off).
 */
export function readRunStoreConfig(env: Env = processEnv()): RunStoreConfig | undefined {
  for (const [urlName, tokenName] of RUN_STORE_PAIRS) {
    const url = env[urlName];
    const token = env[tokenName];
    if (!url && !token) continue;
    if (!url || !token) {
      const missing = url ? tokenName : urlName;
      throw new ConfigurationError(
        `The run store is half configured: ${url ? urlName : tokenName} is set but ${missing} is not. Set both, or neither.`,
        [missing],
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigurationError(`${urlName} must be an absolute https URL, got ${quoteForLog(url)}.`, [urlName]);
    }
    if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && isLoopbackUrl(parsed))) {
      throw new ConfigurationError(
        `${urlName} must be an https URL (http only on a loopback address), got ${quoteForLog(url)}.`,
        [urlName],
      );
    }
    return { url: parsed.href.replace(/\/$/, ""), token, retention: readRunRetention(env) };
  }
  return undefined;
}

/** `QJOBS_RUN_RETENTION` (whole seconds, at least 60), else the default of 7 days. */
function readRunRetention(env: Env = processEnv()): number {
  return readWholeNumber(env, "QJOBS_RUN_RETENTION", {
    unit: "seconds",
    min: 60,
    fallback: DEFAULT_RUN_RETENTION_SECONDS,
  });
}
