import { z } from "zod";
import type { JournalRecord } from "../storage/journal.js";
import { schemaProblem } from "../storage/record-check.js";
import type { WriteRecord } from "./command.js";

/**
 * The local Redis in the journal: one record per request's writes (`{ k: "redis", w: [...] }`), so a
 * transaction's writes sit on one line and a crash keeps all of them or none (a cut last line is dropped).
 */
export const REDIS_RECORD = "redis";

export const redisRecord = (writes: WriteRecord[]) => ({ k: REDIS_RECORD, w: writes });

const writeRecord = z.object({ at: z.number().finite(), command: z.array(z.string()).min(1) });
const record = z.looseObject({ k: z.literal(REDIS_RECORD), w: z.array(writeRecord) });

/** Why a parsed line is not a Redis record the gateway can replay, or undefined when it is one. */
export function redisRecordProblem(value: unknown): string | undefined {
  return schemaProblem(record, value);
}

/** The writes of the Redis records among a journal's, in order. */
export function redisWrites(records: readonly JournalRecord[]): WriteRecord[] {
  return records.flatMap((entry) => (entry.k === REDIS_RECORD ? (entry.w as WriteRecord[]) : []));
}
