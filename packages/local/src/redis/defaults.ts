/** The local Redis's own port, beside qjobs dev's QStash (8080); the port serverless-redis-http examples use. */
export const DEFAULT_REDIS_PORT = 8079;
