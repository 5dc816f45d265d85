import { relative, sep } from "node:path";
import { UserError } from "../errors.js";
import type { Config, Diagnostic, GeneratedFile, RegistryModel } from "../types.js";
import { CONFIG_FILE, isUnsetProject, loadConfig } from "./config.js";
import { IGNORED_DIRS } from "./discover.js";
import { emitFiles } from "./emit.js";
import { type FileChange, JobProject } from "./project.js";

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
  /** The config could not be read: the last good one stays in force. */
  | { type: "config-error"; message: string }
  /** No job file yet and no config: nothing is written until the first job file (issue 21). */
  | { type: "waiting"; globs: readonly string[] }
  /** Something else went wrong (a generated file could not be written, say); the next change tries again. */
  | { type: "failed"; message: string };

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

// chokidar drops a second change of a file within 50 ms of the first (its change throttle), so a quick
// second save would be lost: a little after each run, the files it handled are compared with the disk again.
const RECHECK_MS = 60;

/**
 * Generates, then follows the job files and the config (`qjobs watch`, `qjobs dev --watch`). The work is
 * `JobProject`'s (the same steps as `generate`, re-reading only what changed); this adds file events,
 * a debounce and one regeneration at a time. It never dies on a user error: a broken file is reported
 * and the last good registry stays.
 */
export async function watchProject(options: WatchOptions): Promise<Watcher> {
  const project = await JobProject.open(await loadConfig(options.cwd));
  let lastModel: RegistryModel | undefined;
  /** Files with events since the previous run. */
  const pending = new Set<string>();
  let configChanged = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const rechecks = new Set<NodeJS.Timeout>();

  async function regenerate(changed: string[]) {
    const started = performance.now();
    if (isUnsetProject(project.config, project.files.length))
      return options.onEvent({ type: "waiting", globs: project.config.jobs });
    const { model, diagnostics } = project.build();
    if (diagnostics.length > 0) return options.onEvent({ type: "errors", changed, diagnostics });
    const files = await emitFiles(project.config, model, false);
    const before = new Set(lastModel?.jobs.map((job) => job.key));
    const after = new Set(model.jobs.map((job) => job.key));
    const added = lastModel ? [...after].filter((key) => !before.has(key)) : [];
    const removed = [...before].filter((key) => !after.has(key));
    lastModel = model;
    const durationMs = performance.now() - started;
    options.onEvent({ type: "generated", changed, added, removed, jobs: model.jobs.length, files, durationMs });
  }

  function recheck(files: readonly string[]) {
    if (files.length === 0) return;
    const recheckTimer = setTimeout(() => {
      rechecks.delete(recheckTimer);
      for (const file of project.changedOnDisk(files)) pending.add(file);
      if (pending.size > 0) schedule();
    }, RECHECK_MS);
    rechecks.add(recheckTimer);
  }

  async function flush() {
    const files = [...pending].sort();
    pending.clear();
    if (configChanged) {
      configChanged = false;
      try {
        await project.reload(await loadConfig(options.cwd));
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        return options.onEvent({ type: "config-error", message: error.message });
      }
      return regenerate([`${CONFIG_FILE} changed`, ...files.map((file) => `${file} changed`)]);
    }
    const changes = project.update(files);
    recheck(files);
    const changed = [...changes].filter(([, change]) => change !== "unchanged").map(describe);
    return regenerate(changed.length > 0 ? changed : files.map((file) => `${file} saved`));
  }

  /** One regeneration at a time; events during a run are coalesced into the next. */
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (running) return void running.then(schedule);
      running = flush()
        .catch((error: unknown) => options.onEvent({ type: "failed", message: (error as Error).message }))
        .finally(() => {
          running = undefined;
        });
    }, options.debounceMs ?? 15);
  }

  await regenerate([]);
  // The cache serves the next `qjobs generate`; it is written now and on close, not on every save.
  await project.saveCache();

  const root = project.config.root;
  const { watch: chokidar } = await import("chokidar");
  const watcher = chokidar(root, {
    ignoreInitial: true,
    // Report deletions at once: a rename is then one unlink and one add in the same debounce window.
    atomic: false,
    ignored: (path) =>
      relative(root, path)
        .split(sep)
        .some((segment) => IGNORED_DIRS.has(segment)),
  });
  const onFile = (path: string) => {
    const file = relative(root, path).split(sep).join("/");
    if (file === CONFIG_FILE) configChanged = true;
    else if (project.isJobFile(file) || project.has(file)) pending.add(file);
    else return;
    schedule();
  };
  watcher.on("add", onFile).on("change", onFile).on("unlink", onFile);
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  // Edits made between the first scan and the watcher being ready raised no event: catch up on them.
  for (const file of await project.changedSinceRead()) pending.add(file);
  if (pending.size > 0) schedule();

  return {
    get config() {
      return project.config;
    },
    async idle() {
      while (timer || running || pending.size > 0 || configChanged || rechecks.size > 0) {
        await (running ?? new Promise((resolve) => setTimeout(resolve, 5)));
      }
    },
    async close() {
      clearTimeout(timer);
      for (const pendingRecheck of rechecks) clearTimeout(pendingRecheck);
      await running;
      await watcher.close();
      await project.saveCache();
    },
  };
}

const describe = ([file, change]: [string, FileChange]) => `${file} ${change}`;
