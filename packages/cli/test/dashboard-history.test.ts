import { describe, expect, it } from "vitest";
import { dashboardEndpoint } from "../../local/src/dashboard/endpoints.js";
import {
  answerText,
  attemptsOf,
  countsByJob,
  elsewhereUrls,
  jobOf,
  type LogEntry,
  outcomesOverTime,
  payloadPreview,
  replayOf,
  replaysOf,
  summarize,
} from "../page/history.js";

const JOBS = "http://localhost:3000/api/jobs";
const entry = (
  time: number,
  state: string,
  messageId: string,
  job: string,
  extra: Partial<LogEntry> = {},
): LogEntry => ({
  time,
  state,
  messageId,
  url: `${JOBS}?job=${encodeURIComponent(job)}`,
  ...extra,
});

// Newest first, as /v2/events answers: m1 retried once then was delivered; m2 failed for good; m3 waits.
const LOG: LogEntry[] = [
  entry(900, "CREATED", "m3", "emails/greet"),
  entry(800, "DELIVERED", "m1", "emails/greet", { responseStatus: 200 }),
  entry(790, "ACTIVE", "m1", "emails/greet"),
  entry(700, "FAILED", "m2", "flaky", { responseStatus: 500, responseBody: "boom" }),
  entry(650, "ACTIVE", "m2", "flaky"),
  entry(400, "RETRY", "m1", "emails/greet", { nextDeliveryTime: 790 }),
  entry(390, "ERROR", "m1", "emails/greet", { responseStatus: 503, responseBody: "busy" }),
  entry(300, "ACTIVE", "m1", "emails/greet"),
  entry(200, "CREATED", "m2", "flaky"),
  entry(100, "CREATED", "m1", "emails/greet"),
];

describe("message views from the logs", () => {
  it("a message is where its newest entry says", () => {
    const messages = summarize(LOG);
    expect([...messages.values()].map(({ messageId, state, status }) => ({ messageId, state, status }))).toEqual([
      { messageId: "m3", state: "scheduled", status: undefined },
      { messageId: "m1", state: "delivered", status: 200 },
      { messageId: "m2", state: "failed", status: 500 },
    ]);
  });

  it("attempts pair each start with its outcome, with durations", () => {
    expect(attemptsOf(LOG.filter((e) => e.messageId === "m1"))).toEqual([
      { startedAt: 300, endedAt: 390, outcome: "error", status: 503, responseBody: "busy" },
      { startedAt: 790, endedAt: 800, outcome: "delivered", status: 200 },
    ]);
    expect(attemptsOf([entry(1, "ACTIVE", "m9", "x")])).toEqual([{ startedAt: 1, outcome: "running" }]);
  });

  it("keeps the order of entries that share a millisecond", () => {
    // Newest first, a fast app: the first attempt ends, the retry is due and starts in the same millisecond.
    const sameMs: LogEntry[] = [
      entry(7, "FAILED", "m5", "flaky", { responseStatus: 500 }),
      entry(7, "ACTIVE", "m5", "flaky"),
      entry(7, "RETRY", "m5", "flaky"),
      entry(7, "ERROR", "m5", "flaky", { responseStatus: 500 }),
      entry(6, "ACTIVE", "m5", "flaky"),
    ];
    expect(attemptsOf(sameMs).map(({ startedAt, outcome }) => ({ startedAt, outcome }))).toEqual([
      { startedAt: 6, outcome: "error" },
      { startedAt: 7, outcome: "failed" },
    ]);
  });

  it("counts messages per job by outcome, leaving out other apps and failure hooks", () => {
    const others = [
      entry(950, "DELIVERED", "h1", "flaky", { url: `${JOBS}?job=flaky&hook=failure` }),
      entry(960, "DELIVERED", "o1", "x", { url: "https://elsewhere.example/api/jobs?job=flaky" }),
    ];
    expect(Object.fromEntries(countsByJob([...others, ...LOG], { jobsUrl: JOBS }))).toEqual({
      "emails/greet": { delivered: 1, retrying: 0, failed: 0 },
      flaky: { delivered: 0, retrying: 0, failed: 1 },
    });
  });

  it("buckets outcomes over time for the chart", () => {
    const chart = outcomesOverTime(LOG, { jobsUrl: JOBS }, { from: 0, to: 1000, buckets: 2 });
    expect(chart.get("emails/greet")?.map((bucket) => bucket.counts)).toEqual([
      { delivered: 0, retrying: 1, failed: 0 },
      { delivered: 1, retrying: 0, failed: 0 },
    ]);
    expect(chart.get("flaky")?.[1]?.counts.failed).toBe(1);
  });

  it("names the job of a delivery URL only on the app's own route", () => {
    expect(jobOf(`${JOBS}?job=images%2Fresize`, { jobsUrl: JOBS })).toEqual({ key: "images/resize" });
    expect(jobOf(`${JOBS}?job=a&hook=failure`, { jobsUrl: JOBS })).toEqual({ key: "a", hook: "failure" });
    expect(jobOf("http://localhost:3000/other?job=a", { jobsUrl: JOBS })).toBeUndefined();
    expect(jobOf(`${JOBS}?job=a`, {})).toBeUndefined();
  });

  it("in qjobs dev, counts a declared job's message to another loopback origin, marked elsewhere (issue 21)", () => {
    const dev = { jobsUrl: JOBS, anyLoopback: true, jobs: [{ key: "flaky" }, { key: "welcome-email" }] };
    const moved = "http://127.0.0.1:3001/api/jobs";
    const log = [
      entry(30, "DELIVERED", "m1", "welcome-email", { url: `${moved}?job=welcome-email` }),
      entry(20, "DELIVERED", "m2", "welcome-email"),
      entry(10, "DELIVERED", "m3", "undeclared", { url: `${moved}?job=undeclared` }),
      entry(5, "DELIVERED", "m4", "flaky", { url: "https://elsewhere.example/api/jobs?job=flaky" }),
    ];
    expect(countsByJob(log, dev).get("welcome-email")).toEqual({ delivered: 2, retrying: 0, failed: 0 });
    expect(countsByJob(log, dev).has("flaky")).toBe(false); // not loopback: not this app's
    expect(jobOf("https://elsewhere.example/api/jobs?job=flaky", dev)?.apart).toBe(true);
    expect(jobOf(`${moved}?job=welcome-email`, dev)).toEqual({ key: "welcome-email", elsewhere: moved });
    expect(elsewhereUrls(log, dev)).toEqual([moved]);
    // qjobs dashboard (production, shared) keeps the exact jobs URL: same-key messages elsewhere are apart.
    const shared = { ...dev, anyLoopback: false };
    expect(countsByJob(log, shared).get("welcome-email")?.delivered).toBe(1);
    expect(jobOf(`${moved}?job=welcome-email`, shared)).toEqual({
      key: "welcome-email",
      elsewhere: moved,
      apart: true,
    });
    expect(jobOf("https://preview.example/api/jobs?job=flaky", shared)?.apart).toBe(true);
    expect(elsewhereUrls(log, shared)).toEqual([]);
  });
});

describe("the dashboard's endpoint list", () => {
  it("matches the calls the page makes and nothing else", () => {
    const listed = (method: string, path: string) => dashboardEndpoint(method, path)?.path;
    expect(listed("GET", "/v2/events")).toBe("/v2/events");
    expect(listed("POST", "/v2/publish/http://localhost:3000/api/jobs")).toBe("/v2/publish/:destination*");
    expect(listed("PATCH", "/v2/schedules/qjobs.abc.nightly.at-0/pause")).toBe("/v2/schedules/:scheduleId/pause");
    expect(listed("DELETE", "/v2/dlq/123-4")).toBe("/v2/dlq/:dlqId");
    expect(listed("GET", "/v2/flowControl")).toBe("/v2/flowControl");
    expect(listed("GET", "/v2/flowControl/tenant:acme")).toBe("/v2/flowControl/:flowControlKey");
    for (const [method, path] of [
      ["GET", "/v2/keys"],
      ["DELETE", "/v2/dlq"],
      ["POST", "/v2/publish/"],
      ["POST", "/v2/schedules/x"],
      ["DELETE", "/v2/schedules/x"],
      ["GET", "/v2/events/extra"],
      ["POST", "/v2/dlq/retry"],
      // The page reads flow control; it never pauses, pins or resets a key.
      ["POST", "/v2/flowControl/tenant:acme/pause"],
      ["POST", "/v2/flowControl/tenant:acme/resetRate"],
      ["GET", "/v2/flowControl/tenant:acme/extra"],
    ] as const)
      expect({ method, path, listed: listed(method, path) }).toEqual({ method, path, listed: undefined });
  });
});

describe("an answer as a person reads it (issue 21: escaped raw JSON)", () => {
  it("says the route's error as code: message, a plain error as its text, anything else as it is", () => {
    expect(answerText('{"error":{"code":"job_failed","message":"Job \\"x\\" failed; QStash will retry it"}}')).toBe(
      'job_failed: Job "x" failed; QStash will retry it',
    );
    expect(answerText('{"error":"no such page"}')).toBe("no such page");
    expect(answerText("<h1>Home</h1>")).toBe("<h1>Home</h1>");
    expect(answerText('{"ok":true}')).toBe('{"ok":true}');
    expect(answerText(undefined)).toBe("");
  });
});

describe("a dead letter's payload preview (issue 21)", () => {
  it("is the payload in one short line, compact JSON or the text, cut with an ellipsis", () => {
    expect(payloadPreview('{\n  "orderId": "o_1",\n  "cents": 500\n}')).toBe('{"orderId":"o_1","cents":500}');
    expect(payloadPreview("plain\ntext")).toBe("plain text");
    expect(payloadPreview("x".repeat(100), 10)).toBe(`${"x".repeat(9)}…`);
    expect(payloadPreview(undefined)).toBe("");
  });
});

describe("a replay links to its original and back, from QStash's logs alone (issue 21)", () => {
  const created = (time: number, messageId: string, header: LogEntry["header"] = {}) =>
    entry(time, "CREATED", messageId, "emails/greet", { header });

  it("a replay's CREATED entry names its original, as QStash lists the forwarded header or as it was sent", () => {
    expect(replayOf(created(1, "m2", { "Qjobs-Replay-Of": ["m1"] }))).toBe("m1");
    expect(replayOf(created(1, "m2", { "qjobs-replay-of": "m1" }))).toBe("m1");
    expect(replayOf(created(1, "m2", { "Upstash-Forward-Qjobs-Replay-Of": ["m1"] }))).toBe("m1");
    expect(replayOf(created(1, "m2", { "Content-Type": ["application/json"] }))).toBeUndefined();
    expect(replayOf(created(1, "m2", { "Qjobs-Replay-Of": [""] }))).toBeUndefined();
    expect(replayOf(undefined)).toBeUndefined();
  });

  it("the original lists its replays oldest first, once each, and not the replays of another message", () => {
    // Newest first, as /v2/events answers.
    const log = [
      created(500, "r3", { "Qjobs-Replay-Of": ["r1"] }),
      created(400, "r2", { "Qjobs-Replay-Of": ["m1"] }),
      entry(350, "DELIVERED", "r1", "emails/greet", { header: { "Qjobs-Replay-Of": ["m1"] } }),
      created(300, "r1", { "Qjobs-Replay-Of": ["m1"] }),
      created(200, "other", {}),
      created(100, "m1", {}),
    ];
    expect(replaysOf("m1", log)).toEqual(["r1", "r2"]);
    expect(replaysOf("r1", log)).toEqual(["r3"]);
    expect(replaysOf("other", log)).toEqual([]);
  });
});
