/**
 * Standard 5-field cron (minute hour day-of-month month day-of-week), in UTC or in the zone of a
 * `CRON_TZ=Area/City` prefix, as QStash schedules take it. Lists, ranges, steps and `*` are supported.
 */
export interface Cron {
  readonly source: string;
  /** The first matching minute strictly after `after` (ms), or undefined within 5 years. */
  next(after: number): number | undefined;
}

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

const NAMES: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};

function parseField(text: string, field: (typeof FIELDS)[number]): Set<number> {
  const values = new Set<number>();
  const number = (part: string) => {
    const value = NAMES[part.toLowerCase()] ?? (/^\d+$/.test(part) ? Number(part) : Number.NaN);
    if (!(value >= field.min && value <= field.max)) throw new SyntaxError(`invalid ${field.name} "${part}" in cron`);
    return value;
  };
  for (const item of text.split(",")) {
    const [range, stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new SyntaxError(`invalid step "${item}" in cron`);
    let from: number = field.min;
    let to: number = field.max;
    if (range !== "*") {
      const [start, end] = (range ?? "").split("-");
      from = number(start ?? "");
      to = end === undefined ? (stepText === undefined ? from : field.max) : number(end);
    }
    for (let value = from; value <= to; value += step)
      values.add(field.name === "day of week" && value === 7 ? 0 : value);
  }
  return values;
}

function zonedParts(zone: string | undefined) {
  if (!zone) {
    return (ms: number) => {
      const date = new Date(ms);
      return {
        minute: date.getUTCMinutes(),
        hour: date.getUTCHours(),
        day: date.getUTCDate(),
        month: date.getUTCMonth() + 1,
        weekday: date.getUTCDay(),
      };
    };
  }
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    minute: "numeric",
    hour: "numeric",
    day: "numeric",
    month: "numeric",
    weekday: "short",
  });
  const weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  return (ms: number) => {
    const parts = Object.fromEntries(format.formatToParts(ms).map((part) => [part.type, part.value]));
    return {
      minute: Number(parts.minute),
      hour: Number(parts.hour),
      day: Number(parts.day),
      month: Number(parts.month),
      weekday: weekdays.indexOf(parts.weekday as string),
    };
  };
}

export function parseCron(source: string): Cron {
  let text = source.trim();
  let zone: string | undefined;
  const tz = /^CRON_TZ=(\S+)\s+(.*)$/.exec(text);
  if (tz) {
    zone = tz[1];
    text = tz[2] as string;
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
    } catch {
      throw new SyntaxError(`unknown time zone "${zone}" in cron`);
    }
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new SyntaxError(`cron needs 5 fields (minute hour day month weekday), got "${source}"`);
  const [minutes, hours, days, months, weekdays] = parts.map((part, i) =>
    parseField(part, FIELDS[i] as (typeof FIELDS)[number]),
  ) as Set<number>[] as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  // Classic cron: when both day fields are restricted, a day matching either one matches.
  const dayRestricted = parts[2] !== "*";
  const weekdayRestricted = parts[4] !== "*";
  const partsAt = zonedParts(zone);

  return {
    source,
    next(after) {
      const MINUTE = 60_000;
      let at = Math.floor(after / MINUTE) * MINUTE + MINUTE;
      const limit = after + 5 * 366 * 86_400_000;
      while (at < limit) {
        const t = partsAt(at);
        const dayMatches =
          dayRestricted && weekdayRestricted
            ? days.has(t.day) || weekdays.has(t.weekday)
            : days.has(t.day) && weekdays.has(t.weekday);
        if (!months.has(t.month) || !dayMatches)
          at += (24 * 60 - t.hour * 60 - t.minute) * MINUTE; // to the next local midnight
        else if (!hours.has(t.hour)) at += (60 - t.minute) * MINUTE;
        else if (!minutes.has(t.minute)) at += MINUTE;
        else return at;
      }
      return undefined;
    },
  };
}
