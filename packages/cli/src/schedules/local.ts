import { deliveryUrl } from "@qjobs/runtime";
import type { Engine } from "#local";
import { type MessageSpec, parsePublish, scheduleView } from "#local";
import { publishHeaders } from "../publish-headers.js";
import type { RegisteredJob } from "../types.js";
import { type PlanStep, planSync, type WantedSchedule, wantedSchedules } from "./plan.js";
import { existingSchedule } from "./sync.js";

/** A declared schedule's message, as `qjobs dev` publishes it on each tick: read like any publish. */
function specOf(wanted: WantedSchedule): MessageSpec {
  return parsePublish(wanted.destination, publishHeaders(wanted.options), Buffer.from(wanted.body ?? ""), "127.0.0.1");
}

/**
 * Makes the local server hold exactly the project's declared schedules for the app at `jobsUrl`, through the
 * same plan as `qjobs schedules sync` (so a schedule made by hand stays), applied to the engine directly.
 */
export function registerSchedules(engine: Engine, jobs: readonly RegisteredJob[], jobsUrl: URL): PlanStep[] {
  // Compared as QStash's API shows them, through the same reading as `qjobs schedules sync`.
  const existing = engine.listSchedules().map((schedule) => existingSchedule(scheduleView(schedule)));
  const steps = planSync(
    wantedSchedules(jobs, jobsUrl, (key, hook) => deliveryUrl(jobsUrl, key, hook)),
    existing,
    jobsUrl,
  );
  for (const step of steps) {
    if (step.action === "delete") engine.deleteSchedule(step.existing.scheduleId);
    // A conflict (a wanted id held by a schedule this app does not own) is left alone, as sync leaves it.
    else if (step.action === "create" || step.action === "update") {
      engine.createSchedule(step.wanted.cron, specOf(step.wanted), step.wanted.scheduleId);
      if (step.action === "update" && step.existing.isPaused) engine.pauseSchedule(step.wanted.scheduleId, true);
    }
  }
  return steps;
}
