/** Where `qjobs dev` listens unless told otherwise: the port Upstash's own local server uses. */
export const DEFAULT_PORT = 8080;
/** QStash's backoff (12 s, 2.5 min, 30 min...) times this: the first retry after 0.12 s in development. */
export const DEFAULT_RETRY_SCALE = 0.01;
