import { createJob } from "@qjobs/runtime";
import { z } from "zod";
import { record } from "../timeline.js";

/** A schema job, dispatched as a batch: one QStash request, one message per image. */
export const resizeImage = createJob("images/resize", {
  schema: z.object({ url: z.string().url(), width: z.number().int().positive() }),
  handler: async (payload, ctx) => {
    record({
      key: ctx.key,
      attempt: ctx.retried + 1,
      outcome: "done",
      detail: `resized ${payload.url} to ${payload.width}px`,
    });
  },
});
