import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { startCaptureServer, useCaptureQStash } from "../../../testkit/capture-server.js";
import {
  ConfigurationError,
  createDispatch,
  createJob,
  DEV_CREDENTIALS,
  DispatchError,
  dispatch,
  InvalidPayloadError,
} from "../src/index.js";

const jobsUrl = "https://app.example.com/api/jobs";
const qstash = useCaptureQStash({
  jobsUrl,
  answer: (request) =>
    request.headers["upstash-deduplication-id"] === "seen"
      ? { status: 202, body: { messageId: "msg_earlier", deduplicated: true } }
      : request.target.includes("job=refused")
        ? { status: 400, body: { error: "invalid destination url" } }
        : undefined,
});
afterEach(() => vi.unstubAllEnvs());

const email = createJob("welcome-email", async (_payload: { userId: string; note?: string }) => {});
const resize = createJob("images/resize", {
  schema: z.object({ url: z.string().url(), width: z.number().int() }),
  retries: 5,
  timeout: "30s",
  headers: { "X-Team": "media", "X-Trace": "default" },
  handler: async () => {},
});

describe("job.dispatch publishes through the real QStash Client", () => {
  it("sends the JSON payload to the jobs route with the key in ?job=, authenticated", async () => {
    const result = await email.dispatch({ userId: "u_1", note: "été \u2028 日本" });
    expect(result).toEqual({
      id: result.messageId,
      key: "welcome-email",
      messageId: expect.stringMatching(/^msg_\d+$/),
      route: "/api/jobs",
    });
    expect(qstash.requests[0]?.answer).toEqual({ messageId: result.id });
    const [request] = qstash.requests;
    expect(request?.method).toBe("POST");
    expect(request?.target).toBe(`/v2/publish/${jobsUrl}?job=welcome-email`);
    expect(request?.headers.authorization).toBe("Bearer test-token");
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["upstash-method"]).toBe("POST");
    expect(request?.body.toString("utf8")).toBe(JSON.stringify({ userId: "u_1", note: "été \u2028 日本" }));
  });

  it("every message carries the route's failure callback, so a run QStash gives up on ends failed", async () => {
    await email.dispatch({ userId: "u_1" });
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-failure-callback": `${jobsUrl}?job=welcome-email&hook=failure`,
      "upstash-failure-callback-retries": "3",
    });
    await createDispatch({ "welcome-email": {} }).dispatchMany("welcome-email", [{ userId: "u_2" }]);
    expect(qstash.requests[1]?.body.toString("utf8")).toContain(`${jobsUrl}?job=welcome-email&hook=failure`);
  });

  it("encodes keys with / and : in the destination", async () => {
    await resize.dispatch({ url: "https://x.dev/a.png", width: 10 });
    expect(qstash.requests[0]?.target).toBe(`/v2/publish/${jobsUrl}?job=images%2Fresize`);
  });

  it("maps every per-message option to QStash's headers", async () => {
    await email.dispatch(
      { userId: "u_1" },
      {
        delay: "10m",
        notBefore: new Date("2030-01-01T00:00:00Z"),
        deduplicationId: "order-42",
        contentBasedDeduplication: true,
        retries: 2,
        retryDelay: "1000 * pow(2, retried)",
        timeout: 20,
        callback: "https://app.example.com/api/callback",
        failureCallback: "https://app.example.com/api/failed",
        flowControl: { key: "tenant-1", parallelism: 2, rate: 10, period: "1m" },
        label: "onboarding",
        headers: { "X-Request-Id": "req_9" },
      },
    );
    const headers = qstash.requests[0]?.headers ?? {};
    expect(headers).toMatchObject({
      "upstash-delay": "10m",
      "upstash-not-before": String(Date.UTC(2030, 0, 1) / 1000),
      "upstash-deduplication-id": "order-42",
      "upstash-content-based-deduplication": "true",
      "upstash-retries": "2",
      "upstash-retry-delay": "1000 * pow(2, retried)",
      "upstash-timeout": "20s",
      "upstash-callback": "https://app.example.com/api/callback",
      "upstash-failure-callback": "https://app.example.com/api/failed",
      "upstash-flow-control-key": "tenant-1",
      "upstash-flow-control-value": "parallelism=2, rate=10, period=1m",
      "upstash-label": "onboarding",
      "upstash-forward-x-request-id": "req_9",
    });
    expect(headers).not.toHaveProperty("x-request-id");
  });

  it("merges job defaults under the call's options, header by header", async () => {
    await resize.dispatch({ url: "https://x.dev/a.png", width: 10 }, { retries: 1, headers: { "X-Trace": "call" } });
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-retries": "1",
      "upstash-timeout": "30s",
      "upstash-forward-x-team": "media",
      "upstash-forward-x-trace": "call",
    });
  });

  it("reports a deduplicated publish", async () => {
    expect(await email.dispatch({ userId: "u_1" }, { deduplicationId: "seen" })).toEqual({
      id: "msg_earlier",
      key: "welcome-email",
      messageId: "msg_earlier",
      route: "/api/jobs",
      deduplicated: true,
    });
  });

  it("validates against the schema before publishing, and publishes nothing when invalid", async () => {
    // @ts-expect-error width must be a number
    const invalid = resize.dispatch({ url: "nope", width: "wide" });
    await expect(invalid).rejects.toBeInstanceOf(InvalidPayloadError);
    await expect(invalid).rejects.toThrow(/url: .*; width: /);
    expect(qstash.requests).toEqual([]);
  });

  it("wraps QStash's refusals in a DispatchError with the status", async () => {
    const refused = createJob("refused", async () => {});
    const error = await refused.dispatch().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DispatchError);
    expect(error).toMatchObject({ code: "dispatch_failed", status: 400, key: "refused" });
  });
});

describe("job.dispatchMany uses the batch endpoint", () => {
  it("publishes 250 payloads in 3 batch requests and returns their ids in order", async () => {
    const payloads = Array.from({ length: 250 }, (_, i) => ({ userId: `u_${i}` }));
    const results = await email.dispatchMany(payloads, { retries: 1 });
    expect(qstash.requests.map((r) => r.target)).toEqual(["/v2/batch", "/v2/batch", "/v2/batch"]);
    expect(results).toHaveLength(250);
    // The capture server numbers ids in the order it received the messages.
    const ids = results.map((r) => Number(r.messageId.slice("msg_".length)));
    expect(ids).toEqual(ids.map((_, i) => (ids[0] ?? 0) + i));
    const sent = qstash.requests.flatMap(
      (r) => JSON.parse(r.body.toString()) as { destination: string; body: string; headers: Record<string, string> }[],
    );
    expect(sent.map((m) => JSON.parse(m.body))).toEqual(payloads);
    expect(sent[0]).toMatchObject({ destination: `${jobsUrl}?job=welcome-email` });
    expect(sent[0]?.headers).toMatchObject({ "upstash-retries": "1", "content-type": "application/json" });
  });

  it("says which messages were published when a later batch fails", async () => {
    let batches = 0;
    const failing = await startCaptureServer((request) =>
      request.target === "/v2/batch" && ++batches === 2 ? { status: 500, body: { error: "boom" } } : undefined,
    );
    vi.stubEnv("QSTASH_URL", failing.url);
    try {
      const error = await email
        .dispatchMany(Array.from({ length: 150 }, (_, i) => ({ userId: `u_${i}` })))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DispatchError);
      expect((error as DispatchError).published).toHaveLength(100);
      expect((error as DispatchError).status).toBe(500);
    } finally {
      await failing.close();
    }
  });

  it("validates every payload before publishing any", async () => {
    await expect(
      resize.dispatchMany([
        { url: "https://x.dev/a.png", width: 1 },
        { url: "bad", width: 2 },
      ]),
    ).rejects.toBeInstanceOf(InvalidPayloadError);
    expect(qstash.requests).toEqual([]);
  });

  it("publishes nothing for no payloads", async () => {
    expect(await email.dispatchMany([])).toEqual([]);
    expect(qstash.requests).toEqual([]);
  });
});

describe("the registry's dispatch(key) applies each job's declared options, without the job's code", () => {
  // What a generated registry holds: each job's declared options, read statically by qjobs generate.
  const { dispatch: byKey, dispatchMany: manyByKey } = createDispatch({
    "welcome-email": {},
    "images/resize": {
      retries: 5,
      timeout: "30s",
      label: "media",
      flowControl: { key: "img", parallelism: 2 },
      headers: { "X-Team": "media" },
    },
  });

  it("publishes with the declared options: retries, timeout, flow control, label, headers", async () => {
    await byKey("images/resize", { url: "https://x.dev/a.png", width: 10 });
    expect(qstash.requests[0]?.target).toBe(`/v2/publish/${jobsUrl}?job=images%2Fresize`);
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-retries": "5",
      "upstash-timeout": "30s",
      "upstash-label": "media",
      "upstash-flow-control-key": "img",
      "upstash-flow-control-value": "parallelism=2",
      "upstash-forward-x-team": "media",
    });
  });

  it("puts the call's options on top of the declared ones", async () => {
    await byKey("images/resize", { url: "https://x.dev/a.png", width: 10 }, { retries: 1, delay: 5 });
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-retries": "1",
      "upstash-delay": "5s",
      "upstash-label": "media",
    });
  });

  it("sends the declared options with every message of dispatchMany", async () => {
    await manyByKey("images/resize", [
      { url: "https://x.dev/a.png", width: 1 },
      { url: "https://x.dev/b.png", width: 2 },
    ]);
    const entries = JSON.parse(String(qstash.requests[0]?.body)) as { headers: Record<string, string> }[];
    const retries = (headers: Record<string, string>) =>
      Object.entries(headers).find(([name]) => name.toLowerCase() === "upstash-retries")?.[1];
    expect(entries.map((entry) => retries(entry.headers))).toEqual(["5", "5"]);
  });

  it("refuses a key the registry does not know, publishing nothing, saying what is true and what to do", async () => {
    const error = (await byKey("no-such-job" as "welcome-email", { userId: "u" }).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(
      /^Unknown job "no-such-job": this copy of the registry \(qjobs\.gen\.ts\) does not declare it\. If/,
    );
    expect(error.message).toContain(
      "Under `next dev`, if qjobs.gen.ts already lists it, the dev server still runs the copy an older route loaded",
    );
    expect(qstash.requests).toEqual([]);
  });

  it("says did you mean …? for a key near a declared one (a typo, a missing s)", async () => {
    await expect(byKey("image/resize" as "welcome-email", { userId: "u" })).rejects.toThrow(
      'does not declare it. Did you mean "images/resize"?',
    );
    await expect(manyByKey("welcome-emails" as "welcome-email", [])).rejects.toThrow('Did you mean "welcome-email"?');
    expect(qstash.requests).toEqual([]);
  });

  it("@qjobs/runtime's own dispatch(key) refuses, naming the import to use, so no declared option is ever dropped", async () => {
    // @ts-expect-error -- a compile error too, naming the import (typesafety.test.ts checks its words)
    const error = await dispatch("welcome-email", { userId: "u_1" }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "dispatch_moved" });
    expect((error as Error).message).toMatch(/import \{ dispatch \} from your generated registry/);
    expect(qstash.requests).toEqual([]);
  });
});

describe("dispatch fails closed", () => {
  it.each([
    ["QSTASH_TOKEN", /QSTASH_TOKEN is not set/],
    ["QJOBS_URL", /QJOBS_URL is not set/],
  ])("throws naming %s when it is missing, publishing nothing", async (variable, message) => {
    vi.stubEnv(variable, "");
    const error = await email.dispatch({ userId: "u_1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variables: [variable] });
    expect((error as Error).message).toMatch(message);
    expect(qstash.requests).toEqual([]);
  });

  it("refuses the public development token in production", async () => {
    vi.stubEnv("NODE_ENV", "production");
    vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
    await expect(email.dispatch({ userId: "u_1" })).rejects.toThrow(/development token/);
    expect(qstash.requests).toEqual([]);
  });

  it("refuses at once, naming QSTASH_URL, the public development token without QSTASH_URL (Upstash's cloud)", async () => {
    vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
    vi.stubEnv("QSTASH_URL", "");
    const error = await email.dispatch({ userId: "u_1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ variables: ["QSTASH_URL"] });
    expect((error as Error).message).toMatch(/public development token but QSTASH_URL is not set/);
    expect(qstash.requests).toEqual([]);
  });

  it("ignores QSTASH_DEV: publishing goes where QSTASH_URL says", async () => {
    vi.stubEnv("QSTASH_DEV", "true");
    await email.dispatch({ userId: "u_1" });
    expect(qstash.requests).toHaveLength(1);
    expect(qstash.requests[0]?.headers.authorization).toBe("Bearer test-token");
  });

  it.each(["https://app.example.com", "https://app.example.com/", "http://localhost:3000?x=1"])(
    "refuses QJOBS_URL %s, which has no path (QStash would deliver to the home page, which answers 200)",
    async (url) => {
      vi.stubEnv("QJOBS_URL", url);
      const error = await email.dispatch({ userId: "u_1" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ variables: ["QJOBS_URL"] });
      expect((error as Error).message).toMatch(/QJOBS_URL is .* which has no path.*home page/);
      const registry = createDispatch({ "welcome-email": {} }, { routePath: "/api/jobs" });
      await expect(registry.dispatch("welcome-email", { userId: "u_1" })).rejects.toThrow(
        `Use your jobs route's URL ${new URL(url).origin}/api/jobs.`,
      );
      expect(qstash.requests).toEqual([]);
    },
  );

  it("warns once, naming QJOBS_URL and the route's path, when the URL's path does not end with the route's", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const registry = createDispatch({ "welcome-email": {} }, { routePath: "/api/jobs" });
      for (const url of ["https://app.example.com/app/api/jobs", "https://app.example.com/api/jobs/"]) {
        vi.stubEnv("QJOBS_URL", url);
        await registry.dispatch("welcome-email", { userId: "u_1" });
      }
      expect(warn).not.toHaveBeenCalled();
      vi.stubEnv("QJOBS_URL", "https://app.example.com/api/job");
      await registry.dispatch("welcome-email", { userId: "u_1" });
      await registry.dispatch("welcome-email", { userId: "u_1" });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[0]).toMatch(
        /QJOBS_URL is "https:\/\/app\.example\.com\/api\/job", but your jobs route is at \/api\/jobs/,
      );
      expect(qstash.requests).toHaveLength(4);
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    [{ userId: "u_1", at: new Date(0) }, "payload.at is a Date (send a string or a number)"],
    [{ userId: "u_1", tags: new Set(["a"]) }, "payload.tags is a Set (send an array)"],
    [{ userId: "u_1", ids: ["a", undefined] }, "payload.ids[] may hold undefined (JSON turns it into null)"],
    [{ userId: "u_1", cents: 10n }, "payload.cents is a bigint"],
    [{ userId: "u_1", price: new URL("https://x.dev") }, "payload.price is a URL instance (send a plain object)"],
  ])(
    "outside production, refuses a payload JSON cannot carry in tsc's words, publishing nothing (%#)",
    async (payload, words) => {
      vi.stubEnv("NODE_ENV", "development");
      const error = await email.dispatch(payload as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidPayloadError);
      expect((error as Error).message).toBe(
        `Invalid payload for job "welcome-email": ${words}: a payload travels as JSON`,
      );
      expect(qstash.requests).toEqual([]);
    },
  );

  it("in production, publishes a Date as JSON.stringify makes it (the check is a development aid)", async () => {
    vi.stubEnv("NODE_ENV", "production");
    await email.dispatch({ userId: "u_1", at: new Date(0) } as never);
    expect(qstash.requests[0]?.body.toString()).toBe('{"userId":"u_1","at":"1970-01-01T00:00:00.000Z"}');
  });

  it("rejects a relative QJOBS_URL", async () => {
    vi.stubEnv("QJOBS_URL", "/api/jobs");
    await expect(email.dispatch({ userId: "u_1" })).rejects.toThrow(/absolute/);
  });
});

describe("job.run", () => {
  it("calls the handler directly, through the schema, with a local context", async () => {
    const seen: unknown[] = [];
    const job = createJob("run-me", {
      schema: z.object({ n: z.coerce.number() }),
      handler: (payload, ctx) => {
        seen.push(payload, ctx.key, ctx.retried);
        return payload.n * 2;
      },
    });
    expect(await job.run({ n: "21" })).toBe(42);
    expect(seen).toEqual([{ n: 21 }, "run-me", 0]);
  });

  it("refuses invalid keys at definition", () => {
    expect(() => createJob("has space", async () => {})).toThrow(/Invalid job key/);
    expect(() => createJob("x".repeat(129), async () => {})).toThrow(/Invalid job key/);
    expect(() => createJob("", async () => {})).toThrow(/Invalid job key/);
  });
});
