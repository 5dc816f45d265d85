// What `qjobs generate`, `watch`, `list` and the reports need of this package: crons, and the private state
// files. No server, no zod: a cached `qjobs generate` must not load the local QStash to write nothing.
export { type Cron, cronProblem, nextRuns, parseCron } from "./cron.js";
export { ignoreQjobsFolder, writePrivateFile } from "./storage/private-files.js";
