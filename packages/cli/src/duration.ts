// QStash durations as the generator and sync compare them.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** A QStash duration (seconds, or "10s", "5m", "2h", "1d") in seconds. */
export function seconds(value: number | string | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === "number") return value;
  const match = /^(\d+)([smhd])?$/.exec(value.trim());
  return match ? Number(match[1]) * (UNIT_SECONDS[match[2] ?? "s"] as number) : Number.NaN;
}
