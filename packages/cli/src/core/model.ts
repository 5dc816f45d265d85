import { foreignCallback } from "@qjobs/runtime";
import { seconds } from "../duration.js";
import type { Config, Diagnostic, ExtractedJob, FileExtraction, RegisteredJob, RegistryModel } from "../types.js";

/** Diagnostics sorted like a compiler's output: by file, then position. */
function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column,
  );
}

/**
 * All files' jobs → the checked registry: keys unique (both places named), sorted by key.
 * Any problem means no model: a registry must never silently leave a job out.
 */
export function buildModel(files: ReadonlyMap<string, FileExtraction>): {
  model: RegistryModel;
  diagnostics: Diagnostic[];
} {
  const diagnostics: Diagnostic[] = [];
  const firstByKey = new Map<string, { file: string; job: ExtractedJob }>();
  const jobs: RegisteredJob[] = [];
  for (const [file, extraction] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const problem of extraction.problems) diagnostics.push({ file, ...problem });
    for (const job of extraction.jobs) {
      const first = firstByKey.get(job.key);
      if (first) {
        diagnostics.push({
          file,
          line: job.line,
          column: job.column,
          message: `job key "${job.key}" is already used at ${first.file}:${first.job.line}:${first.job.column}; keys must be unique`,
        });
        continue;
      }
      firstByKey.set(job.key, { file, job });
      jobs.push({
        key: job.key,
        line: job.line,
        column: job.column,
        file,
        exportName: job.exportName,
        schedules: job.schedules ?? [],
        options: job.options ?? {},
        failureHook: job.failureHook ?? false,
        ...(job.bareCronUnchecked ? { bareCronUnchecked: true } : {}),
        ...(job.debounce ? { debounce: job.debounce } : {}),
      });
    }
  }
  jobs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { model: { jobs }, diagnostics: sortDiagnostics(diagnostics) };
}

/**
 * Jobs whose declared `timeout` is longer than the route's `maxDuration`: the platform would stop the delivery
 * first, and QStash would retry it into the dead-letter queue. Warnings, not errors: the files are still written.
 */
/** A bare cron that only tsc can check against its handler (a schema or a named type decides): say so, by job. */
export function bareCronWarnings(model: RegistryModel): Diagnostic[] {
  return model.jobs
    .filter((job) => job.bareCronUnchecked)
    .map((job) => ({
      file: job.file,
      line: job.line,
      column: job.column,
      message: `job "${job.key}" has a schedule without a payload: it fires with none, so its handler must take none (tsc checks it under strict; qjobs generate cannot)`,
    }));
}

export function timeoutWarnings(model: RegistryModel, config: Pick<Config, "maxDuration">): Diagnostic[] {
  const limit = config.maxDuration;
  if (limit === undefined) return [];
  return model.jobs.flatMap((job) => {
    const timeout = job.options.timeout;
    if (typeof timeout !== "number" && typeof timeout !== "string") return [];
    const wanted = seconds(timeout);
    if (!(wanted > limit)) return [];
    return [
      {
        file: job.file,
        line: job.line,
        column: job.column,
        message: `job "${job.key}" declares timeout ${JSON.stringify(timeout)} (${wanted} s), longer than the route's maxDuration of ${limit} s: the platform would stop it first and QStash would retry it`,
      },
    ];
  });
}

/**
 * Jobs with a `callback` or `failureCallback` off the jobs URL's origin (any, when the jobs URL is unknown here):
 * QStash copies a message's headers into the body it sends there, so their messages go without Vercel's bypass
 * secret, and the headers the job declares do reach that endpoint (issue 20).
 */
export function callbackWarnings(model: RegistryModel, jobsUrl: URL | undefined): Diagnostic[] {
  return model.jobs.flatMap((job) => {
    const callbacks = [job.options.callback, job.options.failureCallback].filter(
      (value): value is string => typeof value === "string",
    );
    const foreign = jobsUrl ? foreignCallback(jobsUrl, callbacks) : callbacks[0];
    if (foreign === undefined) return [];
    const where = jobsUrl
      ? "is not on the jobs URL's origin"
      : "may not be on the jobs URL's origin (QJOBS_URL is not set)";
    const headers = job.options.headers !== undefined;
    return [
      {
        file: job.file,
        line: job.line,
        column: job.column,
        message: `job "${job.key}" sends its callback to ${JSON.stringify(foreign)}, which ${where}: QStash copies a message's headers into the callback's body, so its messages go without VERCEL_AUTOMATION_BYPASS_SECRET${headers ? ", and the headers it declares reach that endpoint" : ""}`,
      },
    ];
  });
}
