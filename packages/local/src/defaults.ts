// What the CLI needs before it runs a command (`qjobs --help` shows the default ports; every error is told
// apart as a UserError): light modules only, so start-up does not load the local server (#local's index).
export { DEFAULT_DASHBOARD_PORT } from "./dashboard/defaults.js";
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_DLQ,
  DEFAULT_PORT,
  DEFAULT_RETRY_SCALE,
} from "./qstash/defaults.js";
export { DEFAULT_REDIS_PORT } from "./redis/defaults.js";
export { UserError } from "./user-error.js";
