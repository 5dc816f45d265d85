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
const load = (info: FlowControlInfo) => info.waitListSize + (info.parallelismCount ?? 0);

const numberOr = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined);

/**
 * The keys of QStash's `GET /v2/flowControl` answer: an array (qjobs dev, QStash's API reference) or
 * `{ flowControls }` (an older page of its docs), each with `waitListSize` (or `waitlistSize`, as the reference
 * spells it) and, where QStash sends them, the parallelism and rate figures. `ratePeriodStart` is documented in
 * seconds (qjobs dev sends seconds); a value in milliseconds is read as such, in case QStash sends them. An item without a key is left out;
 * an answer that holds no list throws, so the page says it could not read flow control rather than show none.
 */
export function readFlowKeys(answer: unknown): FlowControlInfo[] {
  const items = Array.isArray(answer) ? answer : (answer as { flowControls?: unknown } | null)?.flowControls;
  if (!Array.isArray(items)) throw new Error("QStash's answer to GET /v2/flowControl holds no list of keys");
  return items.flatMap((item: Record<string, unknown> | null) => {
    if (typeof item?.flowControlKey !== "string") return [];
    const start = numberOr(item.ratePeriodStart);
    const info: FlowControlInfo = {
      flowControlKey: item.flowControlKey,
      waitListSize: numberOr(item.waitListSize) ?? numberOr(item.waitlistSize) ?? 0,
      parallelismMax: numberOr(item.parallelismMax),
      parallelismCount: numberOr(item.parallelismCount),
      rateMax: numberOr(item.rateMax),
      rateCount: numberOr(item.rateCount),
      ratePeriod: numberOr(item.ratePeriod),
      ratePeriodStart: start !== undefined && start > 0 && start < 1e11 ? start * 1000 : start,
      isPaused: item.isPaused === true,
      isPinnedParallelism: item.isPinnedParallelism === true,
      isPinnedRate: item.isPinnedRate === true,
    };
    return [info];
  });
}

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

/** `used/max`, `used` alone when the key has no such limit (QStash answers 0 for none), `–` when not told. */
export const usedOfMax = (used?: number, max?: number) =>
  used === undefined ? "–" : max !== undefined && max > 0 ? `${used}/${max}` : `${used}`;
