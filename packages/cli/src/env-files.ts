import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { ConfigurationError, checkJobsUrlPath } from "@qjobs/runtime";
import { UserError } from "./errors.js";

/** How Next.js runs the app a command is about: `qjobs dev` and `qjobs dashboard` development, sync production. */
export type EnvMode = "development" | "production";

/** The env files Next.js reads in a mode, the one that wins first (the environment wins over all of them). */
export const ENV_FILES: Readonly<Record<EnvMode, readonly string[]>> = {
  development: [".env.development.local", ".env.local", ".env.development", ".env"],
  production: [".env.production.local", ".env.local", ".env.production", ".env"],
};

/** The variables a command sees, as Next.js would give them to the app, and where each one came from. */
export interface ProjectEnv {
  readonly values: Readonly<Record<string, string | undefined>>;
  /** "the environment", or the env file it was read from. */
  readonly sources: Readonly<Record<string, string>>;
}

/**
 * The environment first, then the project's env files for `mode` in Next.js's order (with Node's own parseEnv:
 * the dotenv format needs no library here). An empty value counts as unset, as before.
 */
export function readProjectEnv(cwd: string, mode: EnvMode, env: NodeJS.ProcessEnv = process.env): ProjectEnv {
  const values: Record<string, string | undefined> = {};
  const sources: Record<string, string> = {};
  const take = (name: string, value: string | undefined, source: string) => {
    if (value && !values[name]) {
      values[name] = value;
      sources[name] = source;
    }
  };
  for (const [name, value] of Object.entries(env)) take(name, value, "the environment");
  for (const file of ENV_FILES[mode]) {
    let text: string;
    try {
      text = readFileSync(join(cwd, file), "utf8");
    } catch {
      continue; // no such file
    }
    for (const [name, value] of Object.entries(parseEnv(text))) take(name, value, file);
  }
  return { values, sources };
}

/** `QJOBS_URL from .env.local`, for the lines that say which variables a command used. */
export function sourceOf(projectEnv: ProjectEnv, name: string): string {
  const source = projectEnv.sources[name];
  if (source) return `${name} from ${source}`;
  return name === "QSTASH_URL" ? "QSTASH_URL not set: Upstash's cloud" : `${name} not set`;
}

/**
 * The app's jobs route, for `qjobs dev` (its schedules and dashboard) and `qjobs dashboard`: `--jobs-url`, else
 * QJOBS_URL (see readProjectEnv); a user error when it is not an absolute http(s) URL or has no path, checked as the
 * runtime checks it (`routePath`: the route's path, when the project's route is an App Router one).
 */
export function appJobsUrl(projectEnv: ProjectEnv, explicit?: string, routePath?: string): URL | undefined {
  const url = explicit || projectEnv.values.QJOBS_URL;
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
