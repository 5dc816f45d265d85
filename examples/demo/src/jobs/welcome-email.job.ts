import { createJob } from "@qjobs/runtime";
import { record } from "../timeline.js";

/** Succeeds on the first attempt. */
export const welcomeEmail = createJob("welcome-email", async (payload: { userId: string }, ctx) => {
  record({
    key: ctx.key,
    attempt: ctx.retried + 1,
    outcome: "done",
    detail: `sent a welcome email to ${payload.userId}`,
  });
});
