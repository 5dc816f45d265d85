import { existsSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { contentHash, ExtractionCache } from "../core/cache.js";
import { CONFIG_FILE, loadConfig } from "../core/config.js";
import { discoverFiles, globToRegExp, IGNORED_DIRS } from "../core/discover.js";
import { buildModel } from "../core/model.js";
import { extractWithCache, readJobFile } from "../core/scan.js";
import type { Config, Diagnostic, FileExtraction, GeneratedFile, RegistryModel } from "../types.js";
import { emitFiles } from "./generate.js";

export type WatchEvent =
  | {
      type: "generated";
      /** What caused this run, e.g. `src/a.job.ts added`; empty for the first run. */
      changed: readonly string[];
      added: readonly string[];
      removed: readonly string[];
      jobs: number;
      files: readonly GeneratedFile[];
      durationMs: number;
    }
  | { type: "errors"; changed: readonly string[]; diagnostics: readonly Diagnostic[] }
  | { type: "config-error"; message: string };

export interface WatchOptions {
  cwd: string;
  onEvent: (event: WatchEvent) => void;
  /** How long to wait for more events before regenerating. */
  debounceMs?: number;
}

export interface Watcher {
  readonly config: Config;
  /** Resolves once no regeneration is queued or running (for tests and benchmarks). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `qjobs watch`: generate, then follow job files and the config, re-parsing only what changed.
 * It never dies on a user error: a broken file is reported and the last good registry stays.
 */
export async function watch(options: WatchOptions): Promise<Watcher> {
  let config = await loadConfig(options.cwd);
  let matchers = config.jobs.map(globToRegExp);
  const cache = await ExtractionCache.load(config.root);
  const extractions = new Map<string, FileExtraction>();
  let lastModel: RegistryModel | undefined;
  /** Files with events since the previous run. */
  const pending = new Set<string>();
  let configChanged = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const isJobFile = (file: string) =>
    file !== config.registry && file !== config.route && matchers.some((matcher) => matcher.test(file));

  /** The content hash each file had when it was last extracted (undefined: no such file). */
  const seen = new Map<string, string | undefined>();

  function read(file: string): string | undefined {
    try {
      return readJobFile(config.root, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      return undefined; // gone between the event and the read
    }
  }

  function extract(file: string) {
    const text = existsSync(join(config.root, file)) ? read(file) : undefined;
    seen.set(file, text === undefined ? undefined : contentHash(text));
    if (text === undefined) extractions.delete(file);
    else extractions.set(file, extractWithCache(cache, file, text).extraction);
  }

  // chokidar drops a second change of a file within 50 ms of the first (its change throttle), so a quick
  // second save would be lost: a little after each run, re-read the files it handled and catch up.
  function recheck(files: readonly string[]) {
    if (files.length === 0) return;
    const timer = setTimeout(() => {
      rechecks.delete(timer);
      for (const file of files) {
        const text = read(file);
        if ((text === undefined ? undefined : contentHash(text)) !== seen.get(file)) pending.add(file);
      }
      if (pending.size > 0) schedule();
    }, 60);
    rechecks.add(timer);
  }
  const rechecks = new Set<NodeJS.Timeout>();

  async function rescan() {
    extractions.clear();
    for (const file of await discoverFiles(config.root, config.jobs)) if (isJobFile(file)) extract(file);
  }

  async function regenerate(changed: string[]) {
    const started = performance.now();
    const { model, diagnostics } = buildModel(extractions);
    if (diagnostics.length > 0) return options.onEvent({ type: "errors", changed, diagnostics });
    const files = await emitFiles(config, model, false);
    const before = new Set(lastModel?.jobs.map((job) => job.key));
    const after = new Set(model.jobs.map((job) => job.key));
    const added = lastModel ? [...after].filter((key) => !before.has(key)) : [];
    const removed = [...before].filter((key) => !after.has(key));
    lastModel = model;
    options.onEvent({
      type: "generated",
      changed,
      added,
      removed,
      jobs: model.jobs.length,
      files,
      durationMs: performance.now() - started,
    });
  }

  /** What happened to a file since it was last read, told by whether it existed then and exists now. */
  const describe = (file: string) => {
    const before = seen.get(file) !== undefined;
    const now = existsSync(join(config.root, file));
    return `${file} ${before && now ? "changed" : now ? "added" : "removed"}`;
  };

  async function flush() {
    const files = [...pending].sort();
    const changed = files.map(describe);
    pending.clear();
    if (configChanged) {
      configChanged = false;
      try {
        config = await loadConfig(options.cwd);
        matchers = config.jobs.map(globToRegExp);
      } catch (error) {
        return options.onEvent({ type: "config-error", message: (error as Error).message });
      }
      await rescan();
      return regenerate([`${CONFIG_FILE} changed`, ...changed]);
    }
    for (const file of files) extract(file);
    recheck(files);
    return regenerate(changed);
  }

  /** One regeneration at a time; events during a run are coalesced into the next. */
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (running) return void running.then(schedule);
      running = flush()
        .catch((error: unknown) => options.onEvent({ type: "config-error", message: (error as Error).message }))
        .finally(() => {
          running = undefined;
        });
    }, options.debounceMs ?? 15);
  }

  await rescan();
  await regenerate([]);
  // The cache serves the next `qjobs generate`; it is written now and on close, not on every save.
  await cache.save();

  const { watch: chokidar } = await import("chokidar");
  const watcher = chokidar(config.root, {
    ignoreInitial: true,
    // Report deletions at once: a rename is then one unlink and one add in the same debounce window.
    atomic: false,
    ignored: (path) =>
      relative(config.root, path)
        .split(sep)
        .some((segment) => IGNORED_DIRS.has(segment)),
  });
  const onFile = (path: string) => {
    const file = relative(config.root, path).split(sep).join("/");
    if (file === CONFIG_FILE) configChanged = true;
    else if (isJobFile(file) || extractions.has(file)) pending.add(file);
    else return;
    schedule();
  };
  watcher.on("add", onFile).on("change", onFile).on("unlink", onFile);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  // Edits made between the first scan and the watcher being ready raised no event: catch up on them.
  const onDisk = (await discoverFiles(config.root, config.jobs)).filter(isJobFile);
  for (const file of onDisk) {
    const text = read(file);
    if (text !== undefined && contentHash(text) !== seen.get(file)) pending.add(file);
  }
  for (const file of extractions.keys()) if (!onDisk.includes(file)) pending.add(file);
  if (pending.size > 0) schedule();

  return {
    get config() {
      return config;
    },
    async idle() {
      while (timer || running || pending.size > 0 || configChanged)
        await (running ?? new Promise((resolve) => setTimeout(resolve, 5)));
    },
    async close() {
      clearTimeout(timer);
      for (const pendingRecheck of rechecks) clearTimeout(pendingRecheck);
      await running;
      await watcher.close();
      await cache.save();
    },
  };
}
