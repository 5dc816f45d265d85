import { createHash } from "node:crypto";
import {
  appIdentity,
  type DispatchOptions,
  FAILURE_CALLBACK_RETRIES,
  failureCallbackOf,
  isSameApp,
} from "@qjobs/runtime";
import { fillDeclaredOptions } from "@qjobs/runtime/keys";
import { seconds } from "../duration.js";
import { SCHEDULE_OPTION_NAMES } from "../options.js";
import type { DeclaredSchedule, RegisteredJob } from "../types.js";

export { seconds };

/**
 * What `qjobs schedules sync` (and `qjobs dev`) want QStash to hold for an app: one QStash schedule per declared
 * schedule, with an id derived from the app's jobs URL, the job key and the schedule's name or position.
 * Pure: the plan is computed from data, applying it is sync.ts's.
 */
export interface WantedSchedule {
  scheduleId: string;
  key: string;
  /** The schedule's name, or its position in the job's list when it has none. */
  label: string;
  destination: string;
  /** As QStash stores it: `CRON_TZ=Zone expression`, or the bare expression for UTC. */
  cron: string;
  body?: string;
  declared: DeclaredSchedule;
  /** The job's declared options that apply to a schedule. */
  options: ScheduleOptions;
}

/** The declared options a schedule carries (a job's DispatchOptions, less what only a single message has). */
export interface ScheduleOptions {
  delay?: number | string;
  retries?: number;
  retryDelay?: string;
  timeout?: number | string;
  callback?: string;
  failureCallback?: string;
  /** Set when the failure callback is the route's hook: how often QStash retries it (the runtime's one rule). */
  failureCallbackRetries?: number;
  flowControl?: { key: string; parallelism?: number; rate?: number; period?: number | string };
  label?: string;
  headers?: Record<string, string>;
}

/**
 * A schedule's settings as QStash returns them, normalised so that what was declared and what QStash holds
 * compare equal when they mean the same (`timeout` is not returned by QStash, so it cannot be compared).
 */
export interface ScheduleSettings {
  retries: number;
  /** Seconds. */
  delay: number;
  callback?: string;
  failureCallback?: string;
  labels: string[];
  flow?: { key: string; parallelism?: number; rate?: number; period: number };
  retryDelay?: string;
}

/** What QStash would hold for these declared options. */
export function settingsOf(options: ScheduleOptions): ScheduleSettings {
  const flow = options.flowControl;
  return {
    retries: options.retries ?? 3,
    delay: seconds(options.delay),
    ...(options.callback ? { callback: options.callback } : {}),
    ...(options.failureCallback ? { failureCallback: options.failureCallback } : {}),
    labels: options.label ? options.label.split(",").map((label) => label.trim()) : [],
    ...(flow
      ? {
          flow: {
            key: flow.key,
            ...(flow.parallelism !== undefined ? { parallelism: flow.parallelism } : {}),
            ...(flow.rate !== undefined ? { rate: flow.rate } : {}),
            period: flow.period === undefined ? 1 : seconds(flow.period),
          },
        }
      : {}),
    ...(options.retryDelay ? { retryDelay: options.retryDelay } : {}),
  };
}

/** A QStash schedule as `schedules.list()` returns it, reduced to what the plan compares. */
export interface ExistingSchedule {
  scheduleId: string;
  destination: string;
  cron: string;
  body?: string;
  isPaused?: boolean;
  /** Its settings, when the source tells them (to compare with what the job declares). */
  settings?: ScheduleSettings;
}

export type PlanStep =
  | { action: "create"; wanted: WantedSchedule }
  | { action: "update"; wanted: WantedSchedule; existing: ExistingSchedule; changes: string[] }
  | { action: "delete"; existing: ExistingSchedule }
  | { action: "unchanged"; wanted: WantedSchedule; existing: ExistingSchedule }
  /** A wanted id already held by a schedule this app does not own: never overwritten, the sync is refused. */
  | { action: "conflict"; wanted: WantedSchedule; existing: ExistingSchedule };

/**
 * The part of the id that says which app it belongs to: a short hash of the jobs URL's origin, path and own
 * query parameters (a URL without parameters keeps the prefix it always had).
 */
export function appPrefix(jobsUrl: URL): string {
  const hash = createHash("sha256").update(appIdentity(jobsUrl)).digest("hex").slice(0, 10);
  return `qjobs.${hash}.`;
}

/** The ids sync makes are in QStash's id alphabet: any other id (`a/../../messages`) is not one of ours. */
const SYNC_ID = /^[A-Za-z0-9._-]+$/;

/**
 * Escapes a job key or schedule name into QStash's id alphabet (letters, digits, `-`, `_`, `.`), reversibly
 * and without a `.`, which separates the id's parts: `a/b` and `a-b` stay apart.
 */
export function escapeIdPart(text: string): string {
  return text.replace(/[_./:]/g, (char) => ({ _: "__", ".": "_d", "/": "_s", ":": "_c" })[char] as string);
}

/** The QStash schedule id of one declared schedule: app, job, then name (or position). */
export function scheduleId(jobsUrl: URL, key: string, schedule: DeclaredSchedule, index: number): string {
  const which = schedule.name !== undefined ? `name-${escapeIdPart(schedule.name)}` : `at-${index}`;
  return `${appPrefix(jobsUrl)}${escapeIdPart(key)}.${which}`;
}

/** Every declared schedule of the project, as QStash should hold it for this app. */
export function wantedSchedules(
  jobs: readonly RegisteredJob[],
  jobsUrl: URL,
  deliveryUrl: (key: string, hook?: string) => string,
): WantedSchedule[] {
  return jobs.flatMap((job) => {
    // Scheduled runs end like dispatched ones: the route's failure callback unless the job declares its own.
    const { failureCallback, headers } = failureCallbackOf(
      jobsUrl,
      job.key,
      job.failureHook || typeof job.options.failureCallback !== "string" ? undefined : job.options.failureCallback,
    );
    const ending = {
      failureCallback,
      ...(Object.keys(headers).length > 0 ? { failureCallbackRetries: FAILURE_CALLBACK_RETRIES } : {}),
    };
    return job.schedules.map((declared, index) => ({
      scheduleId: scheduleId(jobsUrl, job.key, declared, index),
      key: job.key,
      label: declared.name ?? `#${index + 1}`,
      destination: deliveryUrl(job.key),
      cron: declared.timezone ? `CRON_TZ=${declared.timezone} ${declared.cron}` : declared.cron,
      ...(declared.payload !== undefined ? { body: JSON.stringify(declared.payload) } : {}),
      declared,
      options: {
        // Key templates fill from the schedule's declared payload, as a dispatch of it would (generate checked it can).
        ...(fillDeclaredOptions(
          job.key,
          Object.fromEntries(
            Object.entries(job.options).filter(([name]) => SCHEDULE_OPTION_NAMES.includes(name)),
          ) as DispatchOptions,
          declared.payload,
        ) as ScheduleOptions),
        ...ending,
      },
    }));
  });
}

/**
 * Whether a QStash schedule is one qjobs made for this app: an id sync makes, with this app's prefix, and a
 * destination on this app (the route's own rule: scheme, host, port, path and query parameters equal).
 */
export function isOwned(existing: ExistingSchedule, jobsUrl: URL): boolean {
  if (!SYNC_ID.test(existing.scheduleId) || !existing.scheduleId.startsWith(appPrefix(jobsUrl))) return false;
  try {
    return isSameApp(new URL(existing.destination), jobsUrl);
  } catch {
    return false;
  }
}

/** What differs between the wanted and the existing schedule, in words. */
function changesOf(wanted: WantedSchedule, existing: ExistingSchedule): string[] {
  const changes: string[] = [];
  if (wanted.cron !== existing.cron) changes.push(`cron ${existing.cron} → ${wanted.cron}`);
  if (wanted.destination !== existing.destination)
    changes.push(`destination ${existing.destination} → ${wanted.destination}`);
  if ((wanted.body ?? "") !== (existing.body ?? ""))
    changes.push(`payload ${existing.body || "(none)"} → ${wanted.body ?? "(none)"}`);
  if (existing.settings) {
    const want = settingsOf(wanted.options) as unknown as Record<string, unknown>;
    const have = existing.settings as unknown as Record<string, unknown>;
    for (const name of ["retries", "delay", "callback", "failureCallback", "labels", "flow", "retryDelay"]) {
      const [from, to] = [JSON.stringify(have[name]), JSON.stringify(want[name])];
      if (from !== to) changes.push(`${name} ${from ?? "(none)"} → ${to ?? "(none)"}`);
    }
  }
  return changes;
}

/**
 * The steps that bring QStash to the declared state: create what is missing, update what differs, delete what
 * this app owns and no longer declares; schedules made by hand, by other apps or other environments are never
 * touched. Sorted by id, so the plan reads the same every time.
 */
export function planSync(
  wanted: readonly WantedSchedule[],
  existing: readonly ExistingSchedule[],
  jobsUrl: URL,
): PlanStep[] {
  const owned = new Map(
    existing.filter((schedule) => isOwned(schedule, jobsUrl)).map((schedule) => [schedule.scheduleId, schedule]),
  );
  const byId = new Map(existing.map((schedule) => [schedule.scheduleId, schedule]));
  const steps: PlanStep[] = wanted.map((schedule) => {
    const current = owned.get(schedule.scheduleId);
    if (!current) {
      // QStash replaces a schedule created under a known id: one this app does not own is never taken over.
      const taken = byId.get(schedule.scheduleId);
      return taken ? { action: "conflict", wanted: schedule, existing: taken } : { action: "create", wanted: schedule };
    }
    owned.delete(schedule.scheduleId);
    const changes = changesOf(schedule, current);
    return changes.length > 0
      ? { action: "update", wanted: schedule, existing: current, changes }
      : { action: "unchanged", wanted: schedule, existing: current };
  });
  for (const gone of owned.values()) steps.push({ action: "delete", existing: gone });
  const idOf = (step: PlanStep) => (step.action === "delete" ? step.existing.scheduleId : step.wanted.scheduleId);
  return steps.sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
}
