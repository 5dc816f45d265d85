import { deliveryUrl } from "@qjobs/runtime";
import type { Engine } from "../dev/engine.js";
import { type MessageSpec, parsePublish } from "../dev/message.js";
import { publishHeaders } from "../publish-headers.js";
import type { RegisteredJob } from "../types.js";
import {
  type ExistingSchedule,
  type PlanStep,
  planSync,
  type ScheduleSettings,
  type WantedSchedule,
  wantedSchedules,
} from "./plan.js";

/** A declared schedule's message, as `qjobs dev` publishes it on each tick: read like any publish. */
function specOf(wanted: WantedSchedule): MessageSpec {
  return parsePublish(wanted.destination, publishHeaders(wanted.options), Buffer.from(wanted.body ?? ""), "127.0.0.1");
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
