import { bypassHeaders, foreignCallback } from "@qjobs/runtime";
import type { Client } from "@upstash/qstash";
import { type ExistingSchedule, type PlanStep, seconds, type WantedSchedule } from "./plan.js";

/** The fields of a schedule as QStash's API returns it (and the SDK parses it) that the plan compares. */
export interface ScheduleView {
  scheduleId: string;
  destination: string;
  cron: string;
  body?: string;
  isPaused?: boolean;
  retries: number;
  /** Seconds, or a duration string. */
  delay?: number | string;
  callback?: string;
  failureCallback?: string;
  label?: string;
  labels?: string[];
  flowControlKey?: string;
  parallelism?: number;
  rate?: number;
  ratePerSecond?: number;
  period?: number;
  retryDelayExpression?: unknown;
}

/** A schedule as QStash returns it, reduced to what the plan compares: one reading for sync and qjobs dev. */
export function existingSchedule(schedule: ScheduleView): ExistingSchedule {
  const rate = schedule.rate ?? schedule.ratePerSecond;
  return {
    scheduleId: schedule.scheduleId,
    destination: schedule.destination,
    cron: schedule.cron,
    ...(schedule.body ? { body: schedule.body } : {}),
    isPaused: schedule.isPaused ?? false,
    settings: {
      retries: schedule.retries,
      delay: seconds(schedule.delay),
      ...(schedule.callback ? { callback: schedule.callback } : {}),
      ...(schedule.failureCallback ? { failureCallback: schedule.failureCallback } : {}),
      labels: schedule.labels ?? (schedule.label ? [schedule.label] : []),
      ...(schedule.flowControlKey
        ? {
            flow: {
              key: schedule.flowControlKey,
              ...(schedule.parallelism ? { parallelism: schedule.parallelism } : {}),
              ...(rate ? { rate } : {}),
              period: schedule.period ?? 1,
            },
          }
        : {}),
      ...(schedule.retryDelayExpression ? { retryDelay: String(schedule.retryDelayExpression) } : {}),
    },
  };
}

/** QStash's schedules, reduced to what the plan compares. */
export async function listSchedules(client: Client): Promise<ExistingSchedule[]> {
  return (await client.schedules.list()).map(existingSchedule);
}

export interface ApplyOptions {
  /** Vercel's deployment-protection bypass secret, forwarded on each run whose callbacks are all the app's. */
  bypassSecret?: string;
  /** The app's jobs URL: the only origin the bypass secret travels to. */
  jobsUrl?: URL;
}

/** The keys of the jobs whose schedules go without the bypass secret, with the foreign callback that is why. */
export function withheldBypass(steps: readonly PlanStep[], jobsUrl: URL): { key: string; callback: string }[] {
  const withheld = new Map<string, string>();
  for (const step of steps) {
    if (step.action !== "create" && step.action !== "update") continue;
    const { callback, failureCallback } = step.wanted.options;
    const foreign = foreignCallback(jobsUrl, [callback, failureCallback]);
    if (foreign !== undefined) withheld.set(step.wanted.key, foreign);
  }
  return [...withheld].map(([key, callback]) => ({ key, callback }));
}

async function put(client: Client, wanted: WantedSchedule, options: ApplyOptions): Promise<void> {
  const { headers, retryDelay, delay, timeout, flowControl, failureCallbackRetries, ...rest } = wanted.options;
  const flow = flowControl && {
    ...flowControl,
    period: flowControl.period === undefined ? undefined : seconds(flowControl.period),
  };
  await client.schedules.create({
    ...rest,
    ...(delay !== undefined ? { delay: seconds(delay) } : {}),
    ...(timeout !== undefined ? { timeout: seconds(timeout) } : {}),
    ...(flow ? { flowControl: flow as Parameters<Client["schedules"]["create"]>[0]["flowControl"] } : {}),
    scheduleId: wanted.scheduleId,
    destination: wanted.destination,
    cron: wanted.cron,
    ...(wanted.body !== undefined ? { body: wanted.body } : {}),
    // The SDK forwards headers that are not QStash's own (Upstash-Forward-*); the retry delay has no option of its own.
    headers: {
      ...headers,
      "Content-Type": "application/json",
      ...(retryDelay ? { "Upstash-Retry-Delay": retryDelay } : {}),
      ...(failureCallbackRetries !== undefined
        ? { "Upstash-Failure-Callback-Retries": String(failureCallbackRetries) }
        : {}),
      // None when a callback would copy them elsewhere (issue 20).
      ...bypassHeaders(options.bypassSecret, options.jobsUrl, wanted.options),
    },
  });
}

/** The steps done before a failure, and the failure: nothing half-applied goes unsaid. */
export class SyncError extends Error {
  constructor(
    readonly done: readonly PlanStep[],
    readonly failed: PlanStep,
    cause: unknown,
  ) {
    super((cause as Error).message, { cause });
  }
}

/**
 * Applies a plan with the real QStash client, in its order. An update is a full replace at QStash, which
 * resumes a paused schedule: it is paused again. Throws SyncError saying what was done before a failure.
 */
export async function applyPlan(
  client: Client,
  steps: readonly PlanStep[],
  options: ApplyOptions = {},
): Promise<PlanStep[]> {
  const done: PlanStep[] = [];
  for (const step of steps) {
    try {
      if (step.action === "create") await put(client, step.wanted, options);
      else if (step.action === "update") {
        await put(client, step.wanted, options);
        if (step.existing.isPaused)
          await client.schedules.pause({ schedule: encodeURIComponent(step.wanted.scheduleId) });
      } else if (step.action === "delete")
        // The SDK joins the id into the path raw: encoded, an id can never name another endpoint.
        await client.schedules.delete(encodeURIComponent(step.existing.scheduleId));
      else continue;
    } catch (error) {
      throw new SyncError(done, step, error);
    }
    done.push(step);
  }
  return done;
}
