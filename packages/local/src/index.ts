// The local server behind `qjobs dev` and `qjobs dashboard`: what the CLI wires together. Only re-exports.
export { type Cron, cronProblem, nextRuns, parseCron } from "./cron.js";
export { DEFAULT_DASHBOARD_PORT } from "./dashboard/defaults.js";
export { dashboardHandler, type PageHandler } from "./dashboard/server.js";
export type { ProjectJob, ProjectSchedule, ProjectView } from "./dashboard/view.js";
export { crossSiteRefusal, flatHeaders } from "./http.js";
export {
  type AttemptReport,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_DLQ,
  DEFAULT_PORT,
  DEFAULT_RETRY_SCALE,
  type DevServer,
  deliverHttp,
  Engine,
  type MessageSpec,
  parsePublish,
  routeWarning,
  scheduleView,
  startServer,
} from "./qstash/index.js";
export { DEFAULT_REDIS_PORT, type LocalRedis, startLocalRedis } from "./redis/index.js";
export { type JournalNotice, openJournal, shareJournal } from "./state.js";
export { ignoreQjobsFolder, writePrivateFile } from "./storage/private-files.js";
export { realClock } from "./time.js";
export { UserError } from "./user-error.js";
