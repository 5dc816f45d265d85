export { run } from "./cli.js";
export { generate, type GenerateOptions, type GenerateResult } from "./commands/generate.js";
export { list, type ListResult } from "./commands/list.js";
export { loadConfig, defaultConfig, CONFIG_FILE } from "./core/config.js";
export { extractJobs } from "./core/extract.js";
export { UserError } from "./errors.js";
export type * from "./types.js";
