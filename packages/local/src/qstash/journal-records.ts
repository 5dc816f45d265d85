import { z } from "zod";
import { parseCron } from "../cron.js";
import { schemaProblem } from "../storage/record-check.js";
import { parseRetryDelay } from "./retry-delay.js";

/**
 * What each kind of journal record must hold for the engine to resume from it (issue 20, item 10): a line
 * that parses as JSON but is not such a record is skipped and reported by its line number, instead of
 * stopping every start. Loose objects: a record keeps the fields it has beyond these.
 */
const parses = (parse: (text: string) => unknown) => (text: string) => {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
};

const time = z.number().finite();
const count = z.number().int().nonnegative();
const headers = z.record(z.string(), z.string());

const message = z.looseObject({
  messageId: z.string(),
  url: z.string(),
  method: z.string(),
  headers,
  body: z.string(),
  labels: z.array(z.string()),
  callerIp: z.string(),
  createdAt: time,
  dueAt: time,
  delayMs: time,
  retried: count,
  maxRetries: count,
  state: z.enum(["CREATED", "ACTIVE", "RETRY", "DELIVERED", "FAILED"]),
  retryDelay: z.string().refine(parses(parseRetryDelay), "invalid retryDelay").optional(),
});

const journalRecord = z.discriminatedUnion("k", [
  z.looseObject({ k: z.literal("msg"), m: message }),
  z.looseObject({ k: z.literal("gone"), id: z.string() }),
  z.looseObject({
    k: z.literal("dlq"),
    e: z.looseObject({
      dlqId: z.string(),
      seq: count,
      failedAt: time,
      message,
      response: z.looseObject({ headers, body: z.string() }),
    }),
  }),
  z.looseObject({ k: z.literal("undlq"), id: z.string() }),
  z.looseObject({
    k: z.literal("event"),
    e: z.looseObject({ seq: count, time, state: z.string(), messageId: z.string(), labels: z.array(z.string()) }),
  }),
  z.looseObject({
    k: z.literal("queue"),
    q: z.looseObject({
      name: z.string(),
      parallelism: z.number().int().positive(),
      paused: z.boolean(),
      createdAt: time,
      updatedAt: time,
    }),
  }),
  z.looseObject({ k: z.literal("unqueue"), name: z.string() }),
  z.looseObject({
    k: z.literal("group"),
    g: z.looseObject({
      name: z.string(),
      createdAt: time,
      updatedAt: time,
      endpoints: z.array(z.looseObject({ url: z.string(), name: z.string().optional() })),
    }),
  }),
  z.looseObject({ k: z.literal("ungroup"), name: z.string() }),
  z.looseObject({
    k: z.literal("flow"),
    f: z.looseObject({
      key: z.string(),
      paused: z.boolean(),
      pinned: z
        .looseObject({ parallelism: count.optional(), rate: count.optional(), periodMs: time.optional() })
        .optional(),
    }),
  }),
  z.looseObject({
    k: z.literal("schedule"),
    s: z.looseObject({
      scheduleId: z.string(),
      cron: z.string().refine(parses(parseCron), "invalid cron"),
      spec: message,
      createdAt: time,
      isPaused: z.boolean(),
      lastScheduleTime: time.optional(),
    }),
  }),
  z.looseObject({ k: z.literal("unschedule"), id: z.string() }),
  z.looseObject({ k: z.literal("dedup"), id: z.string(), messageId: z.string(), expiresAt: time }),
]);

/** Why a parsed line is not a journal record the engine can resume from, or undefined when it is one. */
export function journalRecordProblem(value: unknown): string | undefined {
  return schemaProblem(journalRecord, value);
}
