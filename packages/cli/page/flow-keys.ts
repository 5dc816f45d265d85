import { matchesKeyTemplate } from "@qjobs/runtime/keys";
import type { ProjectJob } from "../../local/src/dashboard/view.js";
import type { FlowControlInfo } from "./api.js";

/** How many keys a job's card lists: the busiest, so a job with a key per tenant stays one card. */
export const KEYS_PER_JOB = 50;

/** The flow-control key (a literal, or a template such as `tenant:{tenantId}`) a job declares, if any. */
export function declaredFlowKey(job: ProjectJob): string | undefined {
  const flowControl = job.options.flowControl as { key?: unknown } | undefined;
  return typeof flowControl?.key === "string" ? flowControl.key : undefined;
}

/** How busy a key is: messages waiting for it and deliveries in flight under it. */
const load = (info: FlowControlInfo) => info.waitListSize + info.parallelismCount;

/**
 * Each job's flow-control keys, from one `GET /v2/flowControl` for the whole page: the keys its declared key
 * template made (the runtime's own matcher), busiest first, at most `KEYS_PER_JOB`, and how many matched.
 */
export function flowKeysByJob(
  jobs: readonly ProjectJob[],
  infos: readonly FlowControlInfo[],
): Map<string, { keys: FlowControlInfo[]; total: number }> {
  const byJob = new Map<string, { keys: FlowControlInfo[]; total: number }>();
  for (const job of jobs) {
    const template = declaredFlowKey(job);
    if (template === undefined) continue;
    const matched = infos.filter((info) => matchesKeyTemplate(template, info.flowControlKey));
    matched.sort((a, b) => load(b) - load(a) || a.flowControlKey.localeCompare(b.flowControlKey));
    byJob.set(job.key, { keys: matched.slice(0, KEYS_PER_JOB), total: matched.length });
  }
  return byJob;
}

/** `used/max`, or `used` alone when the key has no such limit (QStash answers 0 for none). */
export const usedOfMax = (used: number, max: number) => (max > 0 ? `${used}/${max}` : `${used}`);
