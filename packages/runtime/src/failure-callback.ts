import { deliveryUrl } from "./binding.js";

/** How often QStash retries the failure callback to the route (which ends the run and runs any onFailure hook). */
export const FAILURE_CALLBACK_RETRIES = 3;

/**
 * The failure callback a message of job `key` carries, and the headers that go with it: the route's own
 * (`?job=<key>&hook=failure`), so that QStash giving up on any message ends its run `failed` and runs the job's
 * onFailure if it has one; or, for a job that declares a `failureCallback` of its own, that one (its runs may
 * then end `retrying`: the route never hears the end). The one rule for dispatch, schedules and the dashboard.
 */
export function failureCallbackOf(
  jobsUrl: string | URL,
  key: string,
  declared: string | undefined,
): { failureCallback: string; headers: Record<string, string> } {
  if (declared !== undefined) return { failureCallback: declared, headers: {} };
  return {
    failureCallback: deliveryUrl(jobsUrl, key, "failure"),
    headers: { "Upstash-Failure-Callback-Retries": String(FAILURE_CALLBACK_RETRIES) },
  };
}
