import { ConfigurationError } from "./errors.js";

/**
 * The public credentials printed by Upstash's local QStash server (user 1), which `qjobs dev`
 * uses too. They are fine on a laptop and refused under NODE_ENV=production.
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

const isProduction = (env: Env) => env.NODE_ENV === "production";

export interface SigningKeys {
  readonly current: string;
  readonly next: string;
}

/** The keys every delivery is verified with. Throws, naming what is missing or refused. */
export function readSigningKeys(env: Env = processEnv()): SigningKeys {
  const current = env.QSTASH_CURRENT_SIGNING_KEY;
  const next = env.QSTASH_NEXT_SIGNING_KEY;
  const missing = [
    ...(current ? [] : ["QSTASH_CURRENT_SIGNING_KEY"]),
    ...(next ? [] : ["QSTASH_NEXT_SIGNING_KEY"]),
  ];
  if (!current || !next) {
    throw new ConfigurationError(
      `Refusing to run jobs: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set. ` +
        "Set both signing keys from the QStash console (or the ones `qjobs dev` prints).",
      missing,
    );
  }
  if (isProduction(env)) {
    const refused = [
      ...(current === DEV_CREDENTIALS.currentSigningKey || current === DEV_CREDENTIALS.nextSigningKey ? ["QSTASH_CURRENT_SIGNING_KEY"] : []),
      ...(next === DEV_CREDENTIALS.currentSigningKey || next === DEV_CREDENTIALS.nextSigningKey ? ["QSTASH_NEXT_SIGNING_KEY"] : []),
    ];
    if (refused.length > 0) {
      throw new ConfigurationError(
        `Refusing to run jobs: ${refused.join(" and ")} holds the public development key, which anyone can sign with. ` +
          "Use your QStash signing keys in production.",
        refused,
      );
    }
  }
  return { current, next };
}

export interface DispatchConfig {
  readonly token: string;
  /** QStash's base URL; undefined means Upstash's service. */
  readonly qstashUrl: string | undefined;
  /** The absolute URL of the jobs route, as QStash must call it. */
  readonly jobsUrl: string;
}

/** What publishing needs. Throws, naming the missing or refused variable. */
export function readDispatchConfig(env: Env = processEnv()): DispatchConfig {
  const token = env.QSTASH_TOKEN;
  const jobsUrl = env.QJOBS_URL;
  const missing = [...(token ? [] : ["QSTASH_TOKEN"]), ...(jobsUrl ? [] : ["QJOBS_URL"])];
  if (!token || !jobsUrl) {
    throw new ConfigurationError(
      `Cannot dispatch jobs: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not set.` +
        (jobsUrl ? "" : " QJOBS_URL is the absolute URL of your jobs route, e.g. https://example.com/api/jobs."),
      missing,
    );
  }
  if (!/^https?:\/\//.test(jobsUrl)) {
    throw new ConfigurationError(`QJOBS_URL must be an absolute http(s) URL, got "${jobsUrl}".`, ["QJOBS_URL"]);
  }
  if (isProduction(env) && token === DEV_CREDENTIALS.token) {
    throw new ConfigurationError(
      "Cannot dispatch jobs: QSTASH_TOKEN holds the public development token, which is refused in production.",
      ["QSTASH_TOKEN"],
    );
  }
  return { token, qstashUrl: env.QSTASH_URL || undefined, jobsUrl };
}
