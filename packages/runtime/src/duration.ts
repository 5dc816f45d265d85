import type { Duration } from "./types.js";

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** A duration in seconds (`30`, `"30s"`, `"5m"`); NaN for anything else. */
export function durationSeconds(value: number | Duration): number {
  if (typeof value === "number") return value;
  const match = /^(\d+)([smhd])$/.exec(value);
  return match ? Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS] : Number.NaN;
}

/** A duration as a whole number of seconds > 0; a RangeError names `what` when it is not one. */
export function wholeSeconds(value: number | Duration, what: string): number {
  const seconds = durationSeconds(value);
  if (!Number.isInteger(seconds) || seconds <= 0) {
    throw new RangeError(`${what} must be a whole number of seconds > 0 or a duration like "2h", got ${String(value)}`);
  }
  return seconds;
}
