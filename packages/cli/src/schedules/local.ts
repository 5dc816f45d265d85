import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { deliveryUrl } from "@qjobs/runtime";
import type { Engine } from "../dev/engine.js";
import { type MessageSpec, parsePublish } from "../dev/message.js";
import type { RegisteredJob } from "../types.js";
import {
  type ExistingSchedule,
  type PlanStep,
  planSync,
  type ScheduleOptions,
  type ScheduleSettings,
  type WantedSchedule,
  wantedSchedules,
} from "./plan.js";

/**
 * The app's jobs URL for `qjobs dev`: `--app-url`, else QJOBS_URL from the environment, else from the project's
 * `.env.local` or `.env` (read with Node's own parseEnv: the dotenv format needs no library here).
 */
export function appJobsUrl(cwd: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit) return explicit;
  if (env.QJOBS_URL) return env.QJOBS_URL;
  for (const file of [".env.local", ".env"]) {
    try {
      const value = parseEnv(readFileSync(join(cwd, file), "utf8")).QJOBS_URL;
      if (value) return value;
    } catch {
      // no such file
    }
  }
  return undefined;
}

/** The Upstash-* headers a publish with these options carries (what the SDK would send). */
function optionHeaders(options: ScheduleOptions): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const duration = (value: number | string) => (typeof value === "number" ? `${value}s` : value);
  if (options.retries !== undefined) headers["upstash-retries"] = String(options.retries);
  if (options.delay !== undefined) headers["upstash-delay"] = duration(options.delay);
  if (options.timeout !== undefined) headers["upstash-timeout"] = duration(options.timeout);
  if (options.retryDelay) headers["upstash-retry-delay"] = options.retryDelay;
  if (options.callback) headers["upstash-callback"] = options.callback;
  if (options.failureCallback) headers["upstash-failure-callback"] = options.failureCallback;
  if (options.label) headers["upstash-label"] = options.label;
  const flow = options.flowControl;
  if (flow) {
    headers["upstash-flow-control-key"] = flow.key;
    headers["upstash-flow-control-value"] = [
      flow.parallelism !== undefined ? `parallelism=${flow.parallelism}` : "",
      flow.rate !== undefined ? `rate=${flow.rate}` : "",
      flow.period !== undefined ? `period=${duration(flow.period)}` : "",
    ]
      .filter(Boolean)
      .join(",");
  }
  for (const [name, value] of Object.entries(options.headers ?? {}))
    headers[`upstash-forward-${name.toLowerCase()}`] = value;
  return headers;
}

/** A declared schedule's message, as `qjobs dev` publishes it on each tick: read like any publish. */
function specOf(wanted: WantedSchedule): MessageSpec {
  return parsePublish(wanted.destination, optionHeaders(wanted.options), Buffer.from(wanted.body ?? ""), "127.0.0.1");
}

/** A registered schedule's settings, as QStash's view of it tells them. */
function settingsOfSpec(spec: MessageSpec): ScheduleSettings {
  const flow = spec.flowControl;
  return {
    retries: spec.maxRetries,
    delay: spec.delayMs / 1000,
    ...(spec.callback ? { callback: spec.callback.url } : {}),
    ...(spec.failureCallback ? { failureCallback: spec.failureCallback.url } : {}),
    labels: spec.labels,
    ...(flow
      ? {
          flow: {
            key: flow.key,
            ...(flow.parallelism !== undefined ? { parallelism: flow.parallelism } : {}),
            ...(flow.rate !== undefined ? { rate: flow.rate } : {}),
            period: flow.periodMs / 1000,
          },
        }
      : {}),
    ...(spec.retryDelay ? { retryDelay: spec.retryDelay } : {}),
  };
}

/**
 * Makes the local server hold exactly the project's declared schedules for the app at `jobsUrl`, through the
 * same plan as `qjobs schedules sync` (so a schedule made by hand stays), applied to the engine directly.
 */
export function registerSchedules(engine: Engine, jobs: readonly RegisteredJob[], jobsUrl: URL): PlanStep[] {
  const existing: ExistingSchedule[] = engine.listSchedules().map((schedule) => ({
    scheduleId: schedule.scheduleId,
    destination: schedule.spec.url,
    cron: schedule.cron.source,
    ...(schedule.spec.body.length > 0 ? { body: schedule.spec.body.toString("utf8") } : {}),
    isPaused: schedule.isPaused,
    settings: settingsOfSpec(schedule.spec),
  }));
  const steps = planSync(
    wantedSchedules(jobs, jobsUrl, (key, hook) => deliveryUrl(jobsUrl, key, hook)),
    existing,
    jobsUrl,
  );
  for (const step of steps) {
    if (step.action === "delete") engine.deleteSchedule(step.existing.scheduleId);
    else if (step.action !== "unchanged") {
      engine.createSchedule(step.wanted.cron, specOf(step.wanted), step.wanted.scheduleId);
      if (step.action === "update" && step.existing.isPaused) engine.pauseSchedule(step.wanted.scheduleId, true);
    }
  }
  return steps;
}
