// What the dashboard's server tells its page about the project (`GET api/project`): pure types, shared with the
// page's bundle. Everything else the page knows comes from QStash's REST API.

/** One declared schedule of a job, with the id it has in QStash for this app (when the app's URL is known). */
export interface ProjectSchedule {
  readonly scheduleId?: string;
  /** Its name, or its position in the job's list (`#1`). */
  readonly label: string;
  readonly cron: string;
  readonly timezone: string | null;
  readonly payload?: unknown;
  /** The next three runs, Unix milliseconds. */
  readonly nextRuns: readonly number[];
}

export interface ProjectJob {
  readonly key: string;
  /** Posix path relative to the project, and the line of its createJob call. */
  readonly file: string;
  readonly line: number;
  /** The options it declares, as read from its file. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly failureHook: boolean;
  readonly schedules: readonly ProjectSchedule[];
  /** How a dispatch of it is published: where to, with which Upstash-* headers (its declared options). */
  readonly publish?: { readonly destination: string; readonly headers: Readonly<Record<string, string>> };
}

export interface ProjectView {
  /** `qjobs dev`, or `qjobs dashboard` with the QStash it looks at. */
  readonly title: string;
  /** The QStash the page's calls go to (never with its token). */
  readonly qstash: string;
  /** The app's jobs route; without it nothing can be dispatched and messages are not tied to jobs. */
  readonly jobsUrl?: string;
  /** qjobs dev: a message to any loopback URL whose `?job=` is a declared key is that job's (see jobOf). */
  readonly anyLoopback?: boolean;
  readonly jobs: readonly ProjectJob[];
  /** Why the job list is empty or stale: the generator's diagnostics, or a missing config. */
  readonly problems: readonly string[];
}
