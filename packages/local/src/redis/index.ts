// The local stand-in for Upstash Redis (issue 18): the gateway (behaviour and storage), the router (the Upstash
// REST protocol, under /redis) and the service that serves them on a port of its own (service.ts).
export type { Reply } from "./command.js";
export { DEFAULT_REDIS_PORT } from "./defaults.js";
export { RedisError } from "./errors.js";
export {
  MAX_KEYS,
  type Outcome,
  RedisGateway,
  type RedisGatewayOptions,
  SWEEP_BUDGET,
  SWEEP_INTERVAL_MS,
  type WriteRecord,
} from "./gateway.js";
export {
  MAX_PIPELINE_COMMANDS,
  MAX_REQUEST_BYTES,
  REDIS_PREFIX,
  type RedisRequestHandler,
  type RedisRouterOptions,
  redisHandler,
} from "./router.js";
export { type LocalRedis, type LocalRedisOptions, startLocalRedis } from "./service.js";
