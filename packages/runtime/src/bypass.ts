/**
 * Where Vercel's deployment-protection bypass secret may travel: only to the app's own deployment. QStash copies
 * a message's headers (forwarded ones included) into the body of its callbacks (`sourceHeader`), so a message
 * whose callback or failure callback goes elsewhere would hand the secret to that endpoint (issue 20).
 */

/** The header Vercel's deployment protection lets QStash through with, forwarded on delivery. */
export const BYPASS_HEADER = "x-vercel-protection-bypass";

/** Whether `url` is on `origin` and carries no userinfo (`https://evil@app.example` is not the app's). */
function isOnOrigin(url: string, origin: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.origin === origin && parsed.username === "" && parsed.password === "";
  } catch {
    return false;
  }
}

/**
 * The first callback or failure callback of a message that is not on the jobs URL's origin, or undefined when
 * every one is: the message may then carry the bypass secret. The one rule every publishing path applies
 * (dispatch, schedules sync, the dashboard's proxy).
 */
export function foreignCallback(jobsUrl: string | URL, callbacks: readonly (string | undefined)[]): string | undefined {
  const { origin } = new URL(jobsUrl);
  return callbacks.find((url) => url !== undefined && !isOnOrigin(url, origin));
}

/**
 * The headers that carry the bypass secret on a message: to the app, and on into its failure callback when it has
 * one. None when a callback is foreign (or there is no secret or jobs URL). Lower-case names, as the SDK and the
 * dashboard's proxy both take them.
 */
export function bypassHeaders(
  secret: string | undefined,
  jobsUrl: string | URL | undefined,
  callbacks: { callback?: string | undefined; failureCallback?: string | undefined },
): Record<string, string> {
  if (!secret || !jobsUrl) return {};
  if (foreignCallback(jobsUrl, [callbacks.callback, callbacks.failureCallback]) !== undefined) return {};
  return {
    [`upstash-forward-${BYPASS_HEADER}`]: secret,
    ...(callbacks.failureCallback ? { [`upstash-failure-callback-forward-${BYPASS_HEADER}`]: secret } : {}),
  };
}

/** Why a job's messages go without the bypass secret, in one line. */
export function bypassWithheld(key: string, callback: string): string {
  return `Messages of job "${key}" go without VERCEL_AUTOMATION_BYPASS_SECRET: their callback ${JSON.stringify(callback.slice(0, 200))} is not on the jobs URL's origin, and QStash copies a message's headers into its callbacks' body.`;
}

const warned = new Set<string>();

/**
 * The bypass secret a message of job `key` may carry, or undefined when a callback is foreign; then it says why,
 * once per process and job.
 */
export function bypassSecretFor(
  key: string,
  secret: string | undefined,
  jobsUrl: string | URL,
  callbacks: readonly (string | undefined)[],
  warn: (message: string) => void = console.warn,
): string | undefined {
  if (!secret) return undefined;
  const foreign = foreignCallback(jobsUrl, callbacks);
  if (foreign === undefined) return secret;
  if (!warned.has(key)) {
    warned.add(key);
    warn(`[qjobs] ${bypassWithheld(key, foreign)}`);
  }
  return undefined;
}
