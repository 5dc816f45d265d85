import { createJob } from "@qjobs/runtime";
import { record } from "../timeline.js";

/** Dispatched with a delay: it runs seconds later, not now. */
export const sendReminder = createJob("send-reminder", async (payload: { dispatchedAt: number }, ctx) => {
  const waited = ((Date.now() - payload.dispatchedAt) / 1000).toFixed(1);
  record({ key: ctx.key, attempt: ctx.retried + 1, outcome: "done", detail: `reminded, ${waited} s after dispatch` });
});
