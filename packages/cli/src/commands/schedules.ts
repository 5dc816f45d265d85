import { ConfigurationError, deliveryUrl, isLoopbackUrl, readDispatchConfig } from "@qjobs/runtime";
import { loadConfig, routeUrlPath } from "../core/config.js";
import { scanProject } from "../core/scan.js";
import { readProjectEnv, sourceOf } from "../env-files.js";
import { UserError } from "../errors.js";
import { type PlanStep, planSync, wantedSchedules } from "../schedules/plan.js";
import { applyPlan, listSchedules, SyncError, withheldBypass } from "../schedules/sync.js";
import type { Diagnostic } from "../types.js";

export interface SchedulesSyncOptions {
  cwd: string;
  /** Print the plan, change nothing. */
  dryRun?: boolean;
  /** The environment, read before the env files; `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface SchedulesSyncResult {
  readonly jobsUrl: string;
  /** Where QJOBS_URL and QSTASH_URL came from: `QJOBS_URL from .env.production`. */
  readonly sources: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
  readonly steps: readonly PlanStep[];
  readonly dryRun: boolean;
  /** The steps applied (all of them, unless a QStash error stopped the run). */
  readonly applied: readonly PlanStep[];
  /** What failed, when QStash refused a step. */
  readonly failure?: { step: PlanStep; message: string };
  /** Wanted ids held by schedules this app does not own: when there is one, nothing is applied. */
  readonly conflicts: readonly PlanStep[];
  /** Jobs whose schedules go without the bypass secret, and the callback on another origin that is why. */
  readonly withheldBypass: readonly { key: string; callback: string }[];
}

/**
 * `qjobs schedules sync`: brings the QStash that QSTASH_URL/QSTASH_TOKEN name to the schedules the project
 * declares for the app at QJOBS_URL. Plans first; changes only the schedules qjobs owns for that URL.
 */
export async function schedulesSync(options: SchedulesSyncOptions): Promise<SchedulesSyncResult> {
  const config = await loadConfig(options.cwd);
  // As `next build`/`next start` read them: sync runs against production (issue 21: it read no file at all).
  const projectEnv = readProjectEnv(config.root, "production", options.env ?? process.env);
  let dispatch: ReturnType<typeof readDispatchConfig>;
  try {
    dispatch = readDispatchConfig(projectEnv.values, routeUrlPath(config.route));
  } catch (error) {
    if (error instanceof ConfigurationError)
      throw new UserError(error.message.replace("Cannot dispatch jobs", "Cannot sync schedules"));
    throw error;
  }
  const jobsUrl = new URL(dispatch.jobsUrl);
  if (isLoopbackUrl(jobsUrl) && dispatch.qstashUrl && !isLoopbackUrl(new URL(dispatch.qstashUrl))) {
    throw new UserError(
      `Cannot sync schedules: QJOBS_URL (${jobsUrl.href}) is on this machine but QSTASH_URL (${dispatch.qstashUrl}) is not: ` +
        "QStash could never call it. Set QJOBS_URL to your deployed jobs route, or QSTASH_URL to qjobs dev.",
    );
  }
  const sources = [sourceOf(projectEnv, "QJOBS_URL"), sourceOf(projectEnv, "QSTASH_URL")];
  const dryRun = options.dryRun ?? false;
  const empty = { jobsUrl: jobsUrl.href, sources, dryRun, steps: [], applied: [], conflicts: [], withheldBypass: [] };
  const scan = await scanProject(config, { persistCache: true });
  if (scan.diagnostics.length > 0) return { ...empty, diagnostics: scan.diagnostics };

  const { Client } = await import("@upstash/qstash");
  const client = new Client({
    token: dispatch.token,
    baseUrl: dispatch.qstashUrl,
    devMode: false,
    enableTelemetry: false,
  });
  const wanted = wantedSchedules(scan.model.jobs, jobsUrl, (key, hook) => deliveryUrl(jobsUrl, key, hook));
  let steps: PlanStep[];
  try {
    steps = planSync(wanted, await listSchedules(client), jobsUrl);
  } catch (error) {
    throw new UserError(`Could not list the schedules at QStash: ${(error as Error).message}`);
  }
  const planned = {
    ...empty,
    diagnostics: [],
    steps,
    conflicts: steps.filter((step) => step.action === "conflict"),
    withheldBypass: dispatch.bypassSecret ? withheldBypass(steps, jobsUrl) : [],
  };
  if (dryRun || planned.conflicts.length > 0) return planned;
  try {
    const applied = await applyPlan(client, steps, { bypassSecret: dispatch.bypassSecret, jobsUrl });
    return { ...planned, applied };
  } catch (error) {
    if (!(error instanceof SyncError)) throw error;
    return {
      ...planned,
      applied: error.done,
      failure: { step: error.failed, message: error.message },
    };
  }
}
