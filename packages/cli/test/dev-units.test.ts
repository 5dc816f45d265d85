import { describe, expect, it } from "vitest";
import { cronProblem, parseCron } from "../../local/src/cron.js";
import type { AttemptReport } from "../../local/src/qstash/gateway.js";
import { parseRetryDelay } from "../../local/src/qstash/retry-delay.js";
import { ManualClock, parseDuration, parseRetryAfter } from "../../local/src/time.js";
import { formatAttempt } from "../src/dev-log.js";
import { colorsFor } from "../src/terminal.js";

const utc = (text: string) => Date.parse(`${text}Z`);
const iso = (ms: number | undefined) => (ms === undefined ? "never" : new Date(ms).toISOString().slice(0, 16));

describe("cron", () => {
  it.each([
    ["*/15 * * * *", "2030-01-01T00:07", "2030-01-01T00:15"],
    ["0 4 * * *", "2030-01-01T04:00", "2030-01-02T04:00"],
    ["30 9 * * 1-5", "2030-01-04T10:00", "2030-01-07T09:30"], // Friday 10:00 → Monday
    ["0 0 1 */3 *", "2030-01-15T00:00", "2030-04-01T00:00"],
    ["0 12 13 * 5", "2030-01-01T00:00", "2030-01-04T12:00"], // day 13 OR a Friday, as classic cron
    ["0 0 29 2 *", "2030-03-01T00:00", "2032-02-29T00:00"],
    ["5,10 1 * jan,feb sun", "2030-01-01T00:00", "2030-01-06T01:05"],
    ["0 0 * * 7", "2030-01-01T00:00", "2030-01-06T00:00"], // 7 is Sunday too
  ])("%s after %s is %s (UTC)", (cron, after, next) => {
    expect(iso(parseCron(cron).next(utc(after)))).toBe(next);
  });

  it("follows CRON_TZ, across a daylight-saving change", () => {
    const cron = parseCron("CRON_TZ=America/New_York 0 4 * * *");
    expect(iso(cron.next(utc("2030-01-01T00:00")))).toBe("2030-01-01T09:00"); // EST: UTC-5
    expect(iso(cron.next(utc("2030-07-01T00:00")))).toBe("2030-07-01T08:00"); // EDT: UTC-4
  });

  it.each([
    ["* * * *"],
    ["61 * * * *"],
    ["* * * * * *"],
    ["*/0 * * * *"],
    ["CRON_TZ=Mars/Olympus 0 0 * * *"],
    ["a b c d e"],
    ["0 0 L * *"],
    ["0 0 15W * *"],
    ["0 0 * * 5#2"],
    ["@daily"],
  ])("rejects %s", (cron) => {
    expect(() => parseCron(cron)).toThrow(SyntaxError);
  });

  it("names the field and the rule in what it refuses", () => {
    expect(cronProblem("61 * * * *")).toMatch(/^minute "61": /);
    expect(cronProblem("0 0 * * 5#2")).toBe('day of week "5#2": QStash does not take L, W, # or ?');
    expect(cronProblem("0 0 0 * * *")).toMatch(/has 6 fields; QStash takes 5: .*no seconds/);
    expect(cronProblem("0 9 * * MON-FRI")).toBeUndefined();
    expect(cronProblem("0 9 * * *", "Europe/Atlantis")).toMatch(
      /^timezone "Europe\/Atlantis" is not an IANA time zone/,
    );
  });
});

describe("Upstash-Retry-Delay expressions", () => {
  it.each([
    ["1000", [1000, 1000]],
    ["1000 * (1 + retried)", [1000, 2000, 3000]],
    ["pow(2, retried) * 1000", [1000, 2000, 4000]],
    ["max(10, pow(2, retried))", [10, 10, 10, 10, 16]],
    ["min(5000, 100 * exp(retried))", [100, 100 * Math.E, 100 * Math.E ** 2]],
    ["floor(sqrt(retried) * 1000) + ceil(0.5) + round(1.4) + abs(-3)", [5, 1005, 1419]],
    ["-(retried - 10) * 100 / 2 % 7", [((10 * 100) / 2) % 7]],
  ])("%s", (expression, values) => {
    const delay = parseRetryDelay(expression);
    for (const [retried, value] of values.entries()) expect(delay(retried)).toBeCloseTo(value, 6);
  });

  it.each([[""], ["1000 +"], ["retry"], ["eval(1)"], ["pow(2 3)"], ["(1"], ["1000; 2"]])("rejects %j", (expression) => {
    expect(() => parseRetryDelay(expression)).toThrow(SyntaxError);
  });
});

describe("durations", () => {
  it("reads QStash durations", () => {
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("1d10h30m")).toBe(86_400_000 + 10 * 3_600_000 + 30 * 60_000);
    expect(parseDuration("45")).toBe(45_000);
    expect(parseDuration("10 minutes")).toBeUndefined();
  });

  it("reads Retry-After as seconds, an HTTP date or a Go duration, and ignores more than a day", () => {
    const now = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("6m5s", now)).toBe(365_000);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter("90000", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });

  it("the manual clock fires timers in order as time advances, and not before", () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.schedule(() => fired.push("b"), 20);
    clock.schedule(() => fired.push("a"), 10);
    const cancel = clock.schedule(() => fired.push("never"), 15);
    cancel();
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now()).toBe(20);
  });
});

describe("the delivery log line", () => {
  const plain = colorsFor({ isTTY: false }, {});
  const report = (
    response: Partial<AttemptReport["response"]>,
    outcome: AttemptReport["outcome"],
    extra: Partial<AttemptReport> = {},
  ) =>
    ({
      message: { url: "http://127.0.0.1:3000/api/jobs?job=billing%2Fcharge", sourceMessageId: undefined },
      attempt: 2,
      response: { headers: {}, body: Buffer.alloc(0), durationMs: 12.4, ...response },
      outcome,
      ...extra,
    }) as AttemptReport;
  const at = Date.UTC(2030, 0, 1, 9, 5, 7, 123);

  it("names the job key, the attempt, the status and the time taken", () => {
    expect(formatAttempt(report({ status: 200 }, "delivered"), at, plain)).toBe(
      "09:05:07.123  billing/charge            #2  200    12 ms",
    );
  });

  it("says what happens next and why, from the route's error message", () => {
    const body = Buffer.from('{"error":{"code":"job_failed","message":"Job failed; QStash will retry it"}}');
    expect(formatAttempt(report({ status: 500, body }, "retry", { retryInMs: 1480 }), at, plain)).toMatch(
      /#2 {2}500 .* retry in 1\.48 s: Job failed; QStash will retry it$/,
    );
    expect(formatAttempt(report({ status: 489, body: Buffer.from("plain text reason") }, "failed"), at, plain)).toMatch(
      /failed for good → DLQ: plain text reason$/,
    );
  });

  it("attack: a publisher's URL or the app's error text forges or hides log lines on the terminal", () => {
    const forged = `${"\u001b"}[8m\r10:00:00.000  billing/charge  #1  200\n${"\u009b"}2K${"\u202e"}`;
    const url = `http://127.0.0.1:3000/api/jobs?job=${encodeURIComponent(`x${forged}`)}`;
    const body = Buffer.from(JSON.stringify({ error: { message: `card declined${forged}` } }));
    const line = formatAttempt(
      { ...report({ status: 500, body }, "failed"), message: { url } } as AttemptReport,
      at,
      plain,
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is checked for.
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(line).toContain("\\u001b[8m\\u000d10:00:00.000");
    expect(line).toMatch(/failed for good → DLQ: card declined\\u001b/);
  });

  it("points at the app when nothing listens there", () => {
    expect(formatAttempt(report({ error: "ECONNREFUSED" }, "retry", { retryInMs: 120 }), at, plain)).toMatch(
      /---.*ECONNREFUSED: is the app running at http:\/\/127\.0\.0\.1:3000\?$/,
    );
  });
});
