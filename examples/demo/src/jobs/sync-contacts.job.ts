import { createJob } from "@qjobs/runtime";
import { record } from "../timeline.js";

/** Fails its first attempt (a flaky upstream), and succeeds when QStash retries it. */
export const syncContacts = createJob("crm/sync-contacts", async (payload: { accountId: number }, ctx) => {
  if (ctx.retried === 0) {
    record({ key: ctx.key, attempt: 1, outcome: "failed", detail: "the CRM timed out; QStash will retry" });
    throw new Error("CRM timed out");
  }
  record({ key: ctx.key, attempt: ctx.retried + 1, outcome: "done", detail: `synced account ${payload.accountId}` });
  // The run's result, which the demo follows with waitForRun.
  return { synced: payload.accountId, at: new Date() };
});
