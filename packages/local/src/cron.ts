import { Cron as Croner } from "croner";

/**
 * Cron as QStash takes it: 5 fields (minute hour day-of-month month day-of-week) with ranges, lists, steps
 * and names, in UTC or in the zone of a `CRON_TZ=Area/City` prefix. Parsing and next run times are
 * croner's; this module only refuses what QStash refuses and croner would take (seconds, L, W, #, @nicknames).
 * One module for the generator (which checks declared schedules) and `qjobs dev` (which fires them).
 */
export interface Cron {
  /** As QStash stores it: `CRON_TZ=Zone expression`, or the bare expression for UTC. */
  readonly source: string;
  readonly expression: string;
  readonly timezone?: string;
  /** The first run strictly after `after` (ms), or undefined when there is none. */
  next(after: number): number | undefined;
}

const FIELD_NAMES = ["minute", "hour", "day of month", "month", "day of week"] as const;

/** Why an expression is not one QStash takes, naming the field; undefined when it is fine. */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (expression.trim().startsWith("@")) return `"${expression}" is a nickname; write the 5 fields (e.g. "0 0 * * *")`;
  if (fields.length !== 5) {
    return `"${expression}" has ${fields.length} field${fields.length === 1 ? "" : "s"}; QStash takes 5: minute hour day-of-month month day-of-week (no seconds)`;
  }
  for (const [index, field] of fields.entries()) {
    const name = FIELD_NAMES[index] as string;
    if (
      /[LW#?]/i.test(
        field.replace(/[A-Z]{3}/gi, (word) =>
          /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i.test(word) ? "" : word,
        ),
      )
    ) {
      return `${name} "${field}": QStash does not take L, W, # or ?`;
    }
    // Each field alone, the others "*": croner's complaint is then about this field.
    const probe = FIELD_NAMES.map((_, other) => (other === index ? field : "*")).join(" ");
    try {
      new Croner(probe, { paused: true, mode: "5-part" });
    } catch (error) {
      return `${name} "${field}": ${(error as Error).message.replace(/^CronPattern: /, "")}`;
    }
  }
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      return `timezone "${timezone}" is not an IANA time zone (like "Europe/Paris" or "America/New_York")`;
    }
  }
  return undefined;
}

/** Reads QStash's form (`CRON_TZ=Zone expression` or a bare expression); throws with the problem. */
export function parseCron(source: string): Cron {
  const match = /^CRON_TZ=(\S+)\s+(.*)$/.exec(source.trim());
  const timezone = match?.[1];
  const expression = (match?.[2] ?? source).trim();
  const problem = cronProblem(expression, timezone);
  if (problem) throw new SyntaxError(problem);
  const cron = new Croner(expression, { paused: true, mode: "5-part", timezone });
  return {
    source: timezone ? `CRON_TZ=${timezone} ${expression}` : expression,
    expression,
    timezone,
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
  };
}

/** The next `count` runs after `after` (ms). */
export function nextRuns(cron: Cron, count: number, after: number): number[] {
  const runs: number[] = [];
  for (let at = cron.next(after); at !== undefined && runs.length < count; at = cron.next(at)) runs.push(at);
  return runs;
}
