import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { deliveryUrl } from "@qjobs/runtime";
import type { Engine } from "../dev/engine.js";
import type { MessageSpec } from "../dev/message.js";
import type { RegisteredJob } from "../types.js";
import { type ExistingSchedule, type PlanStep, planSync, wantedSchedules } from "./plan.js";

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

/** A declared schedule's message, as `qjobs dev` publishes it on each tick. */
function specOf(destination: string, body: string | undefined): MessageSpec {
  return {
    url: destination,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: Buffer.from(body ?? ""),
    delayMs: 0,
    maxRetries: 3,
    labels: [],
    callerIp: "127.0.0.1",
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
  }));
  const steps = planSync(
    wantedSchedules(jobs, jobsUrl, (key) => deliveryUrl(jobsUrl, key)),
    existing,
    jobsUrl,
  );
  for (const step of steps) {
    if (step.action === "delete") engine.deleteSchedule(step.existing.scheduleId);
    else if (step.action !== "unchanged") {
      engine.createSchedule(
        step.wanted.cron,
        specOf(step.wanted.destination, step.wanted.body),
        step.wanted.scheduleId,
      );
      if (step.action === "update" && step.existing.isPaused) engine.pauseSchedule(step.wanted.scheduleId, true);
    }
  }
  return steps;
}
