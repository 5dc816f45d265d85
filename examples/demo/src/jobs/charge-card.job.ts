import { createJob, NonRetryableError } from "@qjobs/runtime";
import { record } from "../timeline.js";

/**
 * A declined card will not get better with retries: it ends in the dead-letter queue at once, and its
 * onFailure hook hears about it (through QStash's failure callback, verified like any delivery).
 */
export const chargeCard = createJob("billing/charge-card", {
  handler: async (payload: { orderId: string; cents: number }, ctx) => {
    record({
      key: ctx.key,
      attempt: ctx.retried + 1,
      outcome: "gave up",
      detail: `card declined for ${payload.orderId}`,
    });
    throw new NonRetryableError(`card declined for order ${payload.orderId}`);
  },
  onFailure: async (order, failure) => {
    record({
      key: "billing/charge-card",
      attempt: failure.retried + 1,
      outcome: "hook",
      detail: `onFailure: ${order?.orderId} failed for good (status ${failure.status}), the customer is told`,
    });
  },
});
