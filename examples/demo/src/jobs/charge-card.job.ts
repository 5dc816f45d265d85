import { createJob, NonRetryableError } from "@qjobs/runtime";
import { record } from "../timeline.js";

/** A declined card will not get better with retries: it ends in the dead-letter queue at once. */
export const chargeCard = createJob("billing/charge-card", async (payload: { orderId: string; cents: number }, ctx) => {
  record({
    key: ctx.key,
    attempt: ctx.retried + 1,
    outcome: "gave up",
    detail: `card declined for ${payload.orderId}`,
  });
  throw new NonRetryableError(`card declined for order ${payload.orderId}`);
});
