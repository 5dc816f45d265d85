import { createJob } from "@qjobs/runtime";

/** Builds a report in three steps, telling the page after each one; the result is what the page shows at the end. */
export const buildReport = createJob("reports/build", async (payload: { pages: number }, ctx) => {
  for (let step = 1; step <= 3; step++) {
    // Stands in for real work: long enough that a person (and the browser test) sees each step.
    await new Promise((resolve) => setTimeout(resolve, 700));
    ctx.progress({ step, of: 3 });
  }
  return { pages: payload.pages, url: `/reports/${payload.pages}.pdf` };
});
