// What the local QStash refuses, each answered as QStash answers it (router.ts maps them to a status).
import type { Answer } from "./call.js";
import { BadRequest } from "./message.js";

export { BadRequest };

/**
 * A publish over qjobs dev's live-message cap: answered 429 with the RateLimit-* headers of QStash's quota
 * errors, so the SDK throws its QstashDailyRatelimitError with the limit in it.
 */
export class LimitReached extends Error {
  constructor(
    message: string,
    readonly limit: number,
    readonly remaining: number,
  ) {
    super(message);
  }
}

/** Something the API names does not exist: 404 with QStash's wording. */
export class NotFound extends Error {
  constructor(what: string) {
    super(`${what} not found`);
  }
}

/** What the API answers for an error its routes threw: QStash's status for each, 500 for the unforeseen. */
export function errorAnswer(error: unknown): Answer {
  if (error instanceof BadRequest) return { status: 400, body: { error: error.message } };
  if (error instanceof NotFound) return { status: 404, body: { error: error.message } };
  if (error instanceof LimitReached)
    return {
      status: 429,
      body: { error: error.message },
      headers: { "ratelimit-limit": String(error.limit), "ratelimit-remaining": String(error.remaining) },
    };
  return { status: 500, body: { error: (error as Error).message } };
}
