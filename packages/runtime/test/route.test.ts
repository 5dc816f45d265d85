import { beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { signLikeQStash } from "../../../testkit/qstash-signature.js";
import {
  createJob,
  createRouteHandler,
  DEV_CREDENTIALS,
  type JobContext,
  NonRetryableError,
  RetryAfterError,
} from "../src/index.js";
import { createDeliveryRequest } from "../src/testing.js";

const routeUrl = "https://app.example.com/api/jobs";
const keys = {
  QSTASH_CURRENT_SIGNING_KEY: "sig_current_route",
  QSTASH_NEXT_SIGNING_KEY: "sig_next_route",
  QJOBS_URL: routeUrl,
};

const runs: { key: string; payload: unknown; ctx: JobContext }[] = [];
const loaded: string[] = [];
const record = (key: string) => (payload: unknown, ctx: JobContext) => void runs.push({ key, payload, ctx });

const jobModules = {
  "welcome-email": createJob("welcome-email", record("welcome-email")),
  "images/resize": createJob("images/resize", {
    schema: z.object({ url: z.string().url(), width: z.number().int() }),
    handler: record("images/resize"),
  }),
  "charge:card": createJob("charge:card", () => {
    throw new NonRetryableError("card declined");
  }),
  flaky: createJob("flaky", () => {
    throw new Error("database password is hunter2");
  }),
  "rate-limited": createJob("rate-limited", () => {
    throw new RetryAfterError(42);
  }),
};
const jobs = Object.fromEntries(
  Object.entries(jobModules).map(([key, job]) => [
    key,
    async () => {
      loaded.push(key);
      return job;
    },
  ]),
);
const logger = { error: vi.fn(), warn: vi.fn() };
const POST = createRouteHandler(jobs, { env: keys, logger });

const deliver = (
  key: string,
  payload?: unknown,
  extra: { body?: string; signingKey?: string; retried?: number } = {},
) =>
  createDeliveryRequest({ routeUrl, key, payload, signingKey: keys.QSTASH_CURRENT_SIGNING_KEY, ...extra }).then(POST);

async function errorOf(response: Response) {
  return ((await response.json()) as { error: { code: string; message: string; issues?: unknown[] } }).error;
}

beforeEach(() => {
  runs.length = 0;
  loaded.length = 0;
  logger.error.mockClear();
  logger.warn.mockClear();
});

describe("the route answers every delivery as PRODUCT.md says", () => {
  it("says Qjobs-Route: 1 on every answer, so qjobs dev can tell it from a page that answered in its place", async () => {
    const unconfigured = createRouteHandler(jobs, { env: {}, logger });
    const answers = [
      await deliver("welcome-email", { userId: "u_1" }),
      await deliver("charge:card", {}),
      await deliver("flaky", {}),
      await deliver("no-such-job", {}),
      await POST(new Request(routeUrl, { method: "PUT" })),
      await POST(new Request(routeUrl, { method: "GET" })),
      await POST(new Request(`${routeUrl}?run=msg_1`, { method: "GET" })),
      await POST(new Request(`${routeUrl}?job=welcome-email`, { method: "POST", body: "{}" })),
      await unconfigured(new Request(`${routeUrl}?job=welcome-email`, { method: "POST", body: "{}" })),
    ];
    expect(answers.map((response) => response.status)).toEqual([200, 489, 500, 404, 405, 400, 401, 401, 500]);
    expect(answers.map((response) => response.headers.get("qjobs-route"))).toEqual(answers.map(() => "1"));
  });

  it("200: runs the handler with the payload and the delivery's context, loading only that job", async () => {
    const response = await deliver("welcome-email", { userId: "u_1" }, { retried: 2 });
    expect(response.status).toBe(200);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      key: "welcome-email",
      payload: { userId: "u_1" },
      ctx: { key: "welcome-email", retried: 2 },
    });
    expect(runs[0]?.ctx.messageId).toMatch(/^msg_/);
    expect(runs[0]?.ctx.headers.get("user-agent")).toBe("Upstash-QStash");
    expect(loaded).toEqual(["welcome-email"]);
  });

  it("200: passes the schema's output to the handler; keys with / and : route correctly", async () => {
    const response = await deliver("images/resize", { url: "https://x.dev/a.png", width: 300 });
    expect(response.status).toBe(200);
    expect(runs[0]).toMatchObject({ key: "images/resize", payload: { url: "https://x.dev/a.png", width: 300 } });
  });

  it("200: accepts a delivery signed with the next key", async () => {
    const response = await deliver("welcome-email", { userId: "u_2" }, { signingKey: keys.QSTASH_NEXT_SIGNING_KEY });
    expect(response.status).toBe(200);
  });

  it("200: an empty body is an undefined payload", async () => {
    const response = await deliver("welcome-email");
    expect(response.status).toBe(200);
    expect(runs[0]?.payload).toBeUndefined();
  });

  it("405 with Allow: GET, POST for any other method (GET reads a run)", async () => {
    for (const method of ["PUT", "DELETE", "PATCH", "HEAD"]) {
      const response = await POST(new Request(`${routeUrl}?job=welcome-email`, { method }));
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("GET, POST");
    }
  });

  it("401 without Upstash-Signature, and no job code runs", async () => {
    const response = await POST(new Request(`${routeUrl}?job=welcome-email`, { method: "POST", body: "{}" }));
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe("missing_signature");
    expect(loaded).toEqual([]);
  });

  it("401 for a wrong key, an expired token, a tampered body, or not a JWT; no job code runs", async () => {
    const url = `${routeUrl}?job=welcome-email`;
    const body = '{"userId":"u_1"}';
    const signatures = {
      wrongKey: await signLikeQStash({ signingKey: "sig_wrong", url, body }),
      devKey: await signLikeQStash({ signingKey: DEV_CREDENTIALS.currentSigningKey, url, body }),
      expired: await signLikeQStash({
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
        url,
        body,
        now: Math.floor(Date.now() / 1000) - 400,
      }),
      tampered: await signLikeQStash({ signingKey: keys.QSTASH_CURRENT_SIGNING_KEY, url, body: '{"userId":"u_0"}' }),
      notJwt: "not-a-jwt",
    };
    for (const [name, signature] of Object.entries(signatures)) {
      const response = await POST(
        new Request(url, { method: "POST", body, headers: { "Upstash-Signature": signature } }),
      );
      expect(response.status, name).toBe(401);
      expect((await errorOf(response)).code, name).toBe("invalid_signature");
    }
    expect(loaded).toEqual([]);
    expect(runs).toEqual([]);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/^\[qjobs\] Refused a delivery to ".*job=welcome-email": signature does not match/),
    );
  });

  it("401 for a delivery signed for one job and sent to another job's key", async () => {
    const request = await createDeliveryRequest({
      routeUrl,
      key: "welcome-email",
      payload: {},
      signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
    });
    const retargeted = new Request(`${routeUrl}?job=charge:card`, {
      method: "POST",
      headers: request.headers,
      body: await request.text(),
    });
    const response = await POST(retargeted);
    expect(response.status).toBe(401);
    expect((await errorOf(response)).message).toMatch(/another job/);
    expect(loaded).toEqual([]);
  });

  it("404 for an unknown job key (QStash retries, then dead-letters); prototype names are not jobs", async () => {
    for (const key of ["no-such-job", "constructor", "__proto__"]) {
      const response = await deliver(key, {});
      expect(response.status, key).toBe(404);
      expect((await errorOf(response)).code).toBe("unknown_job");
    }
  });

  it("489 non-retryable when the body is not JSON", async () => {
    const response = await deliver("welcome-email", undefined, { body: "{not json" });
    expect(response.status).toBe(489);
    expect(response.headers.get("upstash-nonretryable-error")).toBe("true");
    expect((await errorOf(response)).code).toBe("invalid_json");
    expect(runs).toEqual([]);
  });

  it("489 non-retryable with the reasons when the payload fails the schema", async () => {
    const response = await deliver("images/resize", { url: "not a url", width: 1.5 });
    expect(response.status).toBe(489);
    expect(response.headers.get("upstash-nonretryable-error")).toBe("true");
    const error = await errorOf(response);
    expect(error.code).toBe("invalid_payload");
    expect(error.issues).toEqual([
      expect.objectContaining({ path: "url" }),
      expect.objectContaining({ path: "width" }),
    ]);
    expect(runs).toEqual([]);
  });

  it("489 non-retryable when the handler throws NonRetryableError", async () => {
    const response = await deliver("charge:card", {});
    expect(response.status).toBe(489);
    expect(response.headers.get("upstash-nonretryable-error")).toBe("true");
    expect(await errorOf(response)).toEqual({ code: "non_retryable", message: "card declined" });
  });

  it("500 when the handler throws anything else, with no internals in the body; the log has them", async () => {
    const response = await deliver("flaky", {});
    expect(response.status).toBe(500);
    expect(response.headers.get("upstash-nonretryable-error")).toBeNull();
    const text = await response.text();
    expect(text).not.toMatch(/hunter2|at .*\.ts/);
    expect(JSON.parse(text).error.code).toBe("job_failed");
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringContaining('"flaky"'),
      expect.objectContaining({ message: "database password is hunter2" }),
    );
  });

  it("500 when a job's module fails to load, and when the registry maps a key to another job (stale)", async () => {
    const broken = createRouteHandler(
      (key) =>
        key === "welcome-email"
          ? Promise.reject(new Error("Cannot find module"))
          : key === "charge:card"
            ? Promise.resolve(jobModules.flaky)
            : undefined,
      { env: keys, logger },
    );
    const load = await broken(
      await createDeliveryRequest({
        routeUrl,
        key: "welcome-email",
        payload: {},
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
      }),
    );
    expect([load.status, (await errorOf(load)).code]).toEqual([500, "job_load_failed"]);
    const stale = await broken(
      await createDeliveryRequest({
        routeUrl,
        key: "charge:card",
        payload: {},
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
      }),
    );
    expect([stale.status, (await errorOf(stale)).code]).toEqual([500, "registry_stale"]);
    expect(logger.error).toHaveBeenCalledWith(expect.stringMatching(/run `qjobs generate`/));
  });

  it("500 with Retry-After when the handler throws RetryAfterError", async () => {
    const response = await deliver("rate-limited", {});
    expect(response.status).toBe(500);
    expect(response.headers.get("retry-after")).toBe("42");
  });
});

describe("the route follows its environment", () => {
  it("parses its configuration again when any variable it read changes: keys, the body limit, the jobs URL", async () => {
    const env: Record<string, string | undefined> = { ...keys, QJOBS_MAX_BODY_BYTES: "1024" };
    const handler = createRouteHandler(jobs, { env: () => env, logger });
    const send = (payload: unknown, signingKey = keys.QSTASH_CURRENT_SIGNING_KEY) =>
      createDeliveryRequest({ routeUrl, key: "welcome-email", payload, signingKey }).then(handler);
    const big = { note: "x".repeat(2000) };
    expect((await send(big)).status).toBe(413);
    env.QJOBS_MAX_BODY_BYTES = "4096";
    expect((await send(big)).status).toBe(200);
    // A rotated key: the old one is refused at once, the new one accepted.
    env.QSTASH_CURRENT_SIGNING_KEY = "sig_rotated";
    expect((await send({})).status).toBe(401);
    expect((await send({}, "sig_rotated")).status).toBe(200);
    // The jobs URL moved: a delivery signed for the old one is refused.
    env.QJOBS_URL = "https://other.example.com/api/jobs";
    expect((await send({}, "sig_rotated")).status).toBe(401);
  });
});

describe("the route fails closed", () => {
  const request = () => createDeliveryRequest({ routeUrl, key: "welcome-email", payload: {} });

  it("answers 500 and logs the missing variables when no signing keys are set, running nothing", async () => {
    const handler = createRouteHandler(jobs, { env: {}, logger });
    const response = await handler(await request());
    expect(response.status).toBe(500);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringMatching(/QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY are not set/),
    );
    expect(loaded).toEqual([]);
  });

  it("answers 500 and logs QJOBS_URL when the route has no jobs URL to bind deliveries to, running nothing", async () => {
    const { QJOBS_URL: _, ...withoutUrl } = keys;
    const handler = createRouteHandler(jobs, { env: withoutUrl, logger });
    const response = await handler(
      await createDeliveryRequest({
        routeUrl,
        key: "welcome-email",
        payload: {},
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
      }),
    );
    expect(response.status).toBe(500);
    expect((await errorOf(response)).code).toBe("configuration");
    expect(logger.error).toHaveBeenCalledWith(expect.stringMatching(/QJOBS_URL is not set/));
    expect(loaded).toEqual([]);
  });

  it("answers 500 and logs QJOBS_URL when it has no path (deliveries would go to the home page), running nothing", async () => {
    const handler = createRouteHandler(jobs, {
      env: { ...keys, QJOBS_URL: "https://app.example.com/" },
      routePath: "/api/jobs",
      logger,
    });
    expect((await handler(await request())).status).toBe(500);
    expect(logger.error).toHaveBeenCalledWith(
      expect.stringMatching(
        /QJOBS_URL is "https:\/\/app\.example\.com\/", which has no path.*https:\/\/app\.example\.com\/api\/jobs/,
      ),
    );
    expect(loaded).toEqual([]);
  });

  it("needs both keys", async () => {
    const handler = createRouteHandler(jobs, {
      env: { QSTASH_CURRENT_SIGNING_KEY: "sig_x", QJOBS_URL: routeUrl },
      logger,
    });
    expect((await handler(await request())).status).toBe(500);
    expect(logger.error).toHaveBeenCalledWith(expect.stringMatching(/QSTASH_NEXT_SIGNING_KEY is not set/));
  });

  it("refuses the public development keys for a public URL in production, but takes them in development", async () => {
    const devKeys = {
      QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
      QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
      QJOBS_URL: routeUrl,
    };
    const production = createRouteHandler(jobs, { env: { ...devKeys, NODE_ENV: "production" }, logger });
    expect((await production(await request())).status).toBe(500);
    expect(logger.error).toHaveBeenCalledWith(expect.stringMatching(/public development key/));
    expect(runs).toEqual([]);
    const development = createRouteHandler(jobs, { env: { ...devKeys, NODE_ENV: "development" }, logger });
    expect((await development(await request())).status).toBe(200);
  });

  it("ignores QSTASH_DEV: a stray dev flag never swaps in the development keys", async () => {
    const handler = createRouteHandler(jobs, { env: { ...keys, QSTASH_DEV: "true" }, logger });
    const response = await handler(await request()); // signed with the development key
    expect(response.status).toBe(401);
  });

  it("reads process.env when no env is given", async () => {
    vi.stubEnv("QSTASH_CURRENT_SIGNING_KEY", keys.QSTASH_CURRENT_SIGNING_KEY);
    vi.stubEnv("QSTASH_NEXT_SIGNING_KEY", keys.QSTASH_NEXT_SIGNING_KEY);
    vi.stubEnv("QJOBS_URL", routeUrl);
    try {
      const handler = createRouteHandler(jobs, { logger });
      const signed = await createDeliveryRequest({
        routeUrl,
        key: "welcome-email",
        payload: {},
        signingKey: keys.QSTASH_NEXT_SIGNING_KEY,
      });
      expect((await handler(signed)).status).toBe(200);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("payload types hold on a real delivery (issue 13)", () => {
  it("a schema that coerces gets the handler the Date its type says, from the string JSON carries", async () => {
    let seen: unknown;
    const stamped = createJob("stamped", {
      schema: z.object({ at: z.coerce.date() }),
      handler: async ({ at }) => {
        seen = at;
      },
    });
    const handler = createRouteHandler({ stamped: async () => stamped }, { env: keys, logger });
    const response = await handler(
      await createDeliveryRequest({
        routeUrl,
        key: "stamped",
        payload: { at: "2030-01-01T09:00:00.000Z" },
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
      }),
    );
    expect(response.status).toBe(200);
    expect(seen).toBeInstanceOf(Date);
    expect((seen as Date).toISOString()).toBe("2030-01-01T09:00:00.000Z");
  });
});
