import { type Watcher, type WatchOptions, watchProject } from "../core/watcher.js";

export type { WatchEvent, Watcher, WatchOptions } from "../core/watcher.js";

/** `qjobs watch`: generate, then regenerate on every change of a job file or of the config. */
export function watch(options: WatchOptions): Promise<Watcher> {
  return watchProject(options);
}
