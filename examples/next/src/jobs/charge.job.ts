import { createJob, NonRetryableError } from "@qjobs/runtime";

/** A charge the bank declines for good: the page shows the NonRetryableError's message. */
export const chargeCard = createJob("cards/charge", async (_payload: { cents: number }) => {
  throw new NonRetryableError("Your card was declined");
});
