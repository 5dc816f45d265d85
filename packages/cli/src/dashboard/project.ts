import { deliveryUrl, failureCallbackOf } from "@qjobs/runtime";
import type { ProjectJob, ProjectView } from "#local";
import { nextRuns, parseCron } from "#local/project";
import { loadConfig } from "../core/config.js";
import { scanProject } from "../core/scan.js";
import { UserError } from "../errors.js";
import { SCHEDULE_OPTION_NAMES } from "../options.js";
import { publishHeaders } from "../publish-headers.js";
import type { ScheduleOptions } from "../schedules/plan.js";
import { scheduleId } from "../schedules/plan.js";
import type { RegisteredJob } from "../types.js";

/** How a dispatch of the job is published: its declared options, as the registry's `dispatch` applies them. */
function publishOf(job: RegisteredJob, jobsUrl: URL): ProjectJob["publish"] {
  const options = Object.fromEntries(
    Object.entries(job.options).filter(([name]) => SCHEDULE_OPTION_NAMES.includes(name)),
  ) as ScheduleOptions;
  // The registry's rule: the route's failure callback (which ends the run), unless the job declares its own.
  const callback = failureCallbackOf(jobsUrl, job.key, job.failureHook ? undefined : options.failureCallback);
  const headers = publishHeaders({ ...options, failureCallback: callback.failureCallback });
  for (const [name, value] of Object.entries(callback.headers)) headers[name.toLowerCase()] = value;
  if (job.options.contentBasedDeduplication === true) headers["upstash-content-based-deduplication"] = "true";
  return { destination: deliveryUrl(jobsUrl, job.key), headers };
}

function jobView(job: RegisteredJob, jobsUrl: URL | undefined, now: number): ProjectJob {
  return {
    key: job.key,
    file: job.file,
    line: job.line,
    options: job.options,
    failureHook: job.failureHook,
    schedules: job.schedules.map((schedule, index) => ({
      ...(jobsUrl ? { scheduleId: scheduleId(jobsUrl, job.key, schedule, index) } : {}),
      label: schedule.name ?? `#${index + 1}`,
      cron: schedule.cron,
      timezone: schedule.timezone,
      ...(schedule.payload !== undefined ? { payload: schedule.payload } : {}),
      nextRuns: nextRuns(
        parseCron(schedule.timezone ? `CRON_TZ=${schedule.timezone} ${schedule.cron}` : schedule.cron),
        3,
        now,
      ),
    })),
    ...(jobsUrl ? { publish: publishOf(job, jobsUrl) } : {}),
  };
}

/** The project's jobs as the page shows them: read like `qjobs list` reads them, through the extraction cache. */
export async function projectView(options: {
  cwd: string;
  jobsUrl: URL | undefined;
  title: string;
  qstash: string;
  /** qjobs dev: tie messages to jobs on any loopback origin (ProjectView.anyLoopback). */
  anyLoopback?: boolean;
  now?: number;
}): Promise<ProjectView> {
  const base = {
    title: options.title,
    qstash: options.qstash,
    ...(options.anyLoopback ? { anyLoopback: true } : {}),
    ...(options.jobsUrl ? { jobsUrl: options.jobsUrl.href } : {}),
  };
  const problems: string[] = [];
  if (!options.jobsUrl)
    problems.push(
      "The app's jobs URL is unknown: set QJOBS_URL (or pass --jobs-url) to dispatch and to tie messages to jobs.",
    );
  try {
    const scan = await scanProject(await loadConfig(options.cwd), { persistCache: false });
    problems.push(...scan.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`));
    const now = options.now ?? Date.now();
    return { ...base, jobs: scan.model.jobs.map((job) => jobView(job, options.jobsUrl, now)), problems };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { ...base, jobs: [], problems: [...problems, error.message] };
  }
}
