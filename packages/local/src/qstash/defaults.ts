/** Where `qjobs dev` listens unless told otherwise: the port Upstash's own local server uses. */
export const DEFAULT_PORT = 8080;
/** QStash's backoff (12 s, 2.5 min, 30 min...) times this: the first retry after 0.12 s in development. */
export const DEFAULT_RETRY_SCALE = 0.01;
/** The largest request body the server reads (413 beyond it): a batch of messages, each up to QStash's 10 MB. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
/** How many dead letters are kept; the oldest go first. QStash keeps them for days, a laptop needs a bound. */
export const DEFAULT_MAX_DLQ = 1_000;
/** How many bytes of bodies the dead-letter queue keeps at most (message and response bodies together). */
export const DEFAULT_MAX_DLQ_BYTES = 256 * 1024 * 1024;
/** How many messages may wait or be in flight at once (429 beyond it): QStash queues more, a laptop needs a bound. */
export const DEFAULT_MAX_MESSAGES = 100_000;
/** How many messages one batch request may hold (400 beyond it). */
export const MAX_BATCH_MESSAGES = 1_000;
