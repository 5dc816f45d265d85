import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { ConfigurationError, checkJobsUrlPath } from "@qjobs/runtime";
import { UserError } from "./errors.js";

/**
 * A variable from the environment, else from the project's `.env.local` or `.env`, as Next.js reads them (with
 * Node's own parseEnv: the dotenv format needs no library here).
 */
export function projectEnv(cwd: string, name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[name]) return env[name];
  for (const file of [".env.local", ".env"]) {
    try {
      const value = parseEnv(readFileSync(join(cwd, file), "utf8"))[name];
      if (value) return value;
    } catch {
      // no such file
    }
  }
  return undefined;
}

/**
 * The app's jobs route, for `qjobs dev` (its schedules and dashboard) and `qjobs dashboard`: `--jobs-url`, else
 * QJOBS_URL (see projectEnv); a user error when it is not an absolute http(s) URL or has no path, checked as the
 * runtime checks it (`routePath`: the route's path, when the project's route is an App Router one).
 */
export function appJobsUrl(
  cwd: string,
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
  routePath?: string,
): URL | undefined {
  const url = explicit || projectEnv(cwd, "QJOBS_URL", env);
  if (url === undefined) return undefined;
  const variable = explicit ? "--jobs-url" : "QJOBS_URL";
  // `localhost:3000/api/jobs` parses, with `localhost:` as its scheme: only http(s) is a route QStash can call.
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:")
    throw new UserError(`The app's jobs URL (${variable}) must be an absolute http(s) URL, got "${url}"`);
  try {
    checkJobsUrlPath(parsed, variable, routePath);
  } catch (error) {
    if (error instanceof ConfigurationError) throw new UserError(error.message);
    throw error;
  }
  return parsed;
}
