// The attack catalogue of the runtime (issue 9): each test is one attack, named after it, that ran a job,
// crashed the route or grew the process before the fix.
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { signLikeQStash } from "../../../testkit/qstash-signature.js";
import {
  ConfigurationError,
  createJob,
  createRouteHandler,
  DEV_CREDENTIALS,
  type JobContext,
  memoryReplayGuard,
  PayloadTooLargeError,
  type RouteOptions,
} from "../src/index.js";
import { toNodeHandler } from "../src/node.js";
import { createDeliveryRequest } from "../src/testing.js";

const appUrl = "https://app.example.com/api/jobs";
const keys = { QSTASH_CURRENT_SIGNING_KEY: "sig_attack_current", QSTASH_NEXT_SIGNING_KEY: "sig_attack_next" };
const env = { ...keys, QJOBS_URL: appUrl };

const runs: { key: string; ctx: JobContext }[] = [];
const refund = createJob(
  "payments/refund",
  (_payload: unknown, ctx) => void runs.push({ key: "payments/refund", ctx }),
);
const jobs = { "payments/refund": async () => refund };
const logger = { error: vi.fn(), warn: vi.fn() };
const route = (options: RouteOptions = {}) => createRouteHandler(jobs, { env, logger, ...options });

/** A POST signed with the app's real key for `signedUrl`, sent to `sentTo`. */
async function signedFor(
  signedUrl: string,
  sentTo = signedUrl,
  body = "{}",
  signingKey = keys.QSTASH_CURRENT_SIGNING_KEY,
): Promise<Request> {
  const signature = await signLikeQStash({ signingKey, url: signedUrl, body });
  return new Request(sentTo, {
    method: "POST",
    body,
    headers: { "Upstash-Signature": signature, "Content-Type": "application/json" },
  });
}

const codeOf = async (response: Response) => ((await response.json()) as { error: { code: string } }).error.code;

beforeEach(() => {
  runs.length = 0;
  logger.error.mockClear();
  logger.warn.mockClear();
});

describe("attack: a delivery made for somewhere else runs here", () => {
  const cases: [attack: string, signedUrl: string][] = [
    [
      "another app in the same QStash account (other host, same path and key)",
      "https://other.example/api/jobs?job=payments/refund",
    ],
    ["another app whose route path differs", "https://other.example/anything?job=payments/refund"],
    ["another path on this host", "https://app.example.com/api/other?job=payments/refund"],
    ["another port on this host", "https://app.example.com:8443/api/jobs?job=payments/refund"],
    ["the same URL over plain http", "http://app.example.com/api/jobs?job=payments/refund"],
    [
      "a lookalike host that starts with the app's host",
      "https://app.example.com.evil.example/api/jobs?job=payments/refund",
    ],
    ["a trailing slash on the path", "https://app.example.com/api/jobs/?job=payments/refund"],
  ];
  for (const [attack, signedUrl] of cases) {
    it(`is refused: ${attack}`, async () => {
      // Sent to this app's own URL, with the signed key: only the signed URL's origin or path differs.
      const response = await route()(await signedFor(signedUrl, `${appUrl}?job=payments/refund`));
      expect(response.status).toBe(401);
      expect(await codeOf(response)).toBe("invalid_signature");
      expect(runs).toEqual([]);
    });
  }

  it("is refused: a URL of this app that lacks QJOBS_URL's own query parameter (a bypass token)", async () => {
    const handler = route({ env: { ...keys, QJOBS_URL: `${appUrl}?token=s3cret` } });
    const stripped = await handler(await signedFor(`${appUrl}?job=payments/refund`, `${appUrl}?job=payments/refund`));
    expect(stripped.status).toBe(401);
    const wrong = await handler(await signedFor(`${appUrl}?token=guess&job=payments/refund`));
    expect(wrong.status).toBe(401);
    const right = await handler(await signedFor(`${appUrl}?token=s3cret&job=payments/refund`));
    expect(right.status).toBe(200);
    expect(runs).toHaveLength(1);
  });

  it("is refused: a delivery signed for the jobs URL plus an extra query parameter (another app's identity)", async () => {
    // Two apps whose jobs URLs differ by a parameter are two apps: `?tenant=b` is not this app's, even when
    // this app's QJOBS_URL has no parameter at all, or has `tenant=a` and the delivery adds `tenant=b` beside it.
    const plain = await route()(await signedFor(`${appUrl}?tenant=b&job=payments/refund`));
    expect(plain.status).toBe(401);
    const handler = route({ env: { ...keys, QJOBS_URL: `${appUrl}?tenant=a` } });
    const added = await handler(await signedFor(`${appUrl}?tenant=a&tenant=b&job=payments/refund`));
    expect(added.status).toBe(401);
    const reordered = await handler(await signedFor(`${appUrl}?job=payments/refund&tenant=a`));
    expect(reordered.status).toBe(200);
    expect(runs).toHaveLength(1);
  });

  it("is refused: two job parameters, so that two readers of the URL could disagree", async () => {
    const response = await route()(
      await signedFor(`${appUrl}?job=payments/refund&job=welcome`, `${appUrl}?job=payments/refund&job=welcome`),
    );
    expect(response.status).toBe(401);
    expect(runs).toEqual([]);
  });

  it("is refused: a delivery signed for one job sent to another job's key", async () => {
    const response = await route()(await signedFor(`${appUrl}?job=welcome`, `${appUrl}?job=payments/refund`));
    expect(response.status).toBe(401);
    expect(runs).toEqual([]);
  });

  it("is not fooled by encoding: images%2Fresize and images/resize are one key, taken from the signed URL", async () => {
    const response = await route()(await signedFor(`${appUrl}?job=payments%2Frefund`, `${appUrl}?job=payments/refund`));
    expect(response.status).toBe(200);
    expect(runs.map((run) => run.key)).toEqual(["payments/refund"]);
  });

  it("accepts the other names the app is reachable under (the urls option), and only those", async () => {
    const handler = route({ urls: ["https://jobs.example.net/q"] });
    expect((await handler(await signedFor("https://jobs.example.net/q?job=payments/refund"))).status).toBe(200);
    expect((await handler(await signedFor("https://jobs.example.net/other?job=payments/refund"))).status).toBe(401);
    expect(runs).toHaveLength(1);
  });

  describe("through the node adapter, with a spoofed Host header", () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer(toNodeHandler(route()));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("is refused: signed for another app and sent with Host set to that app, so request.url matches the signature", async () => {
      const signedUrl = "http://other.example/api/jobs?job=payments/refund";
      const signature = await signLikeQStash({
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
        url: signedUrl,
        body: "{}",
      });
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: "127.0.0.1",
            port,
            path: "/api/jobs?job=payments/refund",
            method: "POST",
            headers: { host: "other.example", "upstash-signature": signature },
          },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on("error", reject);
        req.end("{}");
      });
      expect(status).toBe(401);
      expect(runs).toEqual([]);
    });
  });
});

describe("attack: the public development keys, anywhere but local use", () => {
  const devKeys = {
    QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
  };
  const forged = () =>
    signedFor(
      `${appUrl}?job=payments/refund`,
      `${appUrl}?job=payments/refund`,
      "{}",
      DEV_CREDENTIALS.currentSigningKey,
    );

  for (const nodeEnv of ["Production", "staging", undefined]) {
    it(`is refused: a job forged with the public key on a public URL under NODE_ENV=${nodeEnv ?? "(unset)"}`, async () => {
      const handler = createRouteHandler(jobs, { env: { ...devKeys, QJOBS_URL: appUrl, NODE_ENV: nodeEnv }, logger });
      const response = await handler(await forged());
      expect(response.status).toBe(500);
      expect(await codeOf(response)).toBe("configuration");
      expect(logger.error).toHaveBeenCalledWith(
        expect.stringMatching(/QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY hold a public development key/),
      );
      expect(runs).toEqual([]);
    });
  }

  it("is refused: the public key when only one of the route's URLs is a loopback URL", async () => {
    const handler = createRouteHandler(jobs, {
      env: { ...devKeys, QJOBS_URL: "http://127.0.0.1:3000/api/jobs" },
      urls: [appUrl],
      logger,
    });
    expect((await handler(await forged())).status).toBe(500);
  });

  it("accepts them for a loopback jobs URL (a local next start), warning once under NODE_ENV=production", async () => {
    const local = "http://localhost:3000/api/jobs";
    const handler = createRouteHandler(jobs, { env: { ...devKeys, QJOBS_URL: local, NODE_ENV: "production" }, logger });
    for (let i = 0; i < 2; i++) {
      const request = await createDeliveryRequest({ routeUrl: local, key: "payments/refund", payload: {} });
      expect((await handler(request)).status).toBe(200);
    }
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/public development keys under NODE_ENV=production/),
    );
  });

  it("is refused at dispatch: the public token publishing for a public URL outside development", async () => {
    vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
    vi.stubEnv("QJOBS_URL", appUrl);
    vi.stubEnv("NODE_ENV", "staging");
    try {
      await expect(refund.dispatch({})).rejects.toSatisfy(
        (error) => error instanceof ConfigurationError && error.variables.includes("QSTASH_TOKEN"),
      );
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("attack: a body bomb", () => {
  const limit = 64 * 1024;

  it("is refused with 413 by its Content-Length, before a byte of it is read", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const signature = await signLikeQStash({
      signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
      url: `${appUrl}?job=payments/refund`,
      body: "",
    });
    const request = new Request(`${appUrl}?job=payments/refund`, {
      method: "POST",
      body,
      duplex: "half",
      headers: { "Upstash-Signature": signature, "Content-Length": String(200 * 1024 * 1024) },
    } as RequestInit);
    const response = await route({ maxBodyBytes: limit })(request);
    expect(response.status).toBe(413);
    expect(await codeOf(response)).toBe("payload_too_large");
    expect(pulled).toBeLessThanOrEqual(1); // a stream may pre-pull one chunk when it is made, never more
    expect(runs).toEqual([]);
  });

  it("is refused with 413 while streaming when it has no Content-Length, reading no further than the limit", async () => {
    let read = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        read += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024)); // endless
      },
    });
    const signature = await signLikeQStash({
      signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
      url: `${appUrl}?job=payments/refund`,
      body: "",
    });
    const request = new Request(`${appUrl}?job=payments/refund`, {
      method: "POST",
      body,
      duplex: "half",
      headers: { "Upstash-Signature": signature },
    } as RequestInit);
    const response = await route({ maxBodyBytes: limit })(request);
    expect(response.status).toBe(413);
    expect(read).toBeLessThanOrEqual(limit + 2 * 16 * 1024);
    expect(runs).toEqual([]);
  });

  it("is not read at all without an Upstash-Signature header", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        pulled++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = await route()(
      new Request(`${appUrl}?job=payments/refund`, { method: "POST", body, duplex: "half" } as RequestInit),
    );
    expect(response.status).toBe(401);
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it("takes its limit from QJOBS_MAX_BODY_BYTES", async () => {
    const handler = route({ env: { ...env, QJOBS_MAX_BODY_BYTES: "2048" } });
    const response = await handler(
      await signedFor(`${appUrl}?job=payments/refund`, undefined, JSON.stringify({ pad: "x".repeat(4096) })),
    );
    expect(response.status).toBe(413);
  });

  describe("through the node adapter", () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer(toNodeHandler(route({ maxBodyBytes: limit })));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });

    /** Sends headers, then streams 16 KiB chunks until the server answers (at most 200 MiB); resolves to the status and the bytes sent. */
    function bomb(headers: Record<string, string>, method = "POST"): Promise<{ status: number; sent: number }> {
      return new Promise((resolve, reject) => {
        let sent = 0;
        let answered = false;
        const req = httpRequest(
          { host: "127.0.0.1", port, path: "/api/jobs?job=payments/refund", method, headers },
          (res) => {
            answered = true;
            res.resume();
            resolve({ status: res.statusCode ?? 0, sent });
            req.destroy();
          },
        );
        req.on("error", (error) => (answered ? undefined : reject(error)));
        const chunk = Buffer.alloc(16 * 1024);
        const pump = () => {
          while (!answered && sent < 200 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once("drain", pump);
          }
        };
        req.flushHeaders();
        pump();
      });
    }

    it("is answered 413 from its Content-Length, long before 200 MiB are sent", async () => {
      const signature = await signLikeQStash({
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
        url: `${appUrl}?job=payments/refund`,
        body: "",
      });
      const { status, sent } = await bomb({
        "upstash-signature": signature,
        "content-length": String(200 * 1024 * 1024),
      });
      expect(status).toBe(413);
      expect(sent).toBeLessThan(50 * 1024 * 1024);
      expect(runs).toEqual([]);
    });

    it("is answered 413 when streamed in chunks with no Content-Length", async () => {
      const signature = await signLikeQStash({
        signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
        url: `${appUrl}?job=payments/refund`,
        body: "",
      });
      const { status, sent } = await bomb({ "upstash-signature": signature, "transfer-encoding": "chunked" });
      expect(status).toBe(413);
      expect(sent).toBeLessThan(50 * 1024 * 1024);
    });

    it("is never buffered when sent with another method: 405 at once", async () => {
      const { status, sent } = await bomb({ "transfer-encoding": "chunked" }, "PUT");
      expect(status).toBe(405);
      expect(sent).toBeLessThan(50 * 1024 * 1024);
    });

    it("is never buffered when sent with a GET (which reads a run, never a body): 400 at once", async () => {
      const { status, sent } = await bomb({ "transfer-encoding": "chunked" }, "GET");
      expect(status).toBe(400);
      expect(sent).toBeLessThan(50 * 1024 * 1024);
    });
  });

  describe("at dispatch", () => {
    const qstash = useCaptureQStash({ jobsUrl: appUrl, env: { QJOBS_MAX_BODY_BYTES: String(128 * 1024) } });

    it("is refused before publishing: a payload the route (or its failure callback) could not take", async () => {
      const error = await refund.dispatch({ blob: "x".repeat(100 * 1024) }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect(error).toMatchObject({ code: "payload_too_large", limit: 49_152 });
      expect(qstash.requests).toEqual([]);
    });

    it("is refused whole by dispatchMany, even when only the last payload is too large", async () => {
      const payloads = [...Array.from({ length: 150 }, () => ({})), { blob: "x".repeat(100 * 1024) }];
      await expect(refund.dispatchMany(payloads)).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(qstash.requests).toEqual([]);
    });
  });
});

describe("attack: a malformed signature crashes the route", () => {
  const url = `${appUrl}?job=payments/refund`;
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = segment({ alg: "HS256", typ: "JWT" });
  const payload = segment({ iss: "Upstash", sub: url, exp: 4_000_000_000 });
  const malformed: [string, string][] = [
    ["a MAC segment whose length is 1 mod 4 (atob throws)", `${header}.${payload}.abcde`],
    ["a header segment whose length is 1 mod 4", `a.${payload}.abcd`],
    ["a header that is not JSON", `${Buffer.from("{nope").toString("base64url")}.${payload}.abcd`],
    ["a header that is a JSON array", `${segment([1])}.${payload}.abcd`],
    ["an alg that is an object", `${segment({ alg: { toString: 1 } })}.${payload}.abcd`],
    ["empty segments", ".."],
    ["four segments", "a.b.c.d"],
    ["bytes outside base64", `${header}.${payload}.%%%`],
    ["two signatures joined by a comma", `${header}.${payload}.abcd, ${header}.${payload}.abcd`],
  ];
  for (const [attack, signature] of malformed) {
    it(`is a 401, never a 500: ${attack}`, async () => {
      const response = await route()(
        new Request(url, { method: "POST", body: "{}", headers: { "Upstash-Signature": signature } }),
      );
      expect(response.status).toBe(401);
      const text = await response.text();
      expect(text).not.toMatch(/DOMException|at .*\.(js|ts)/);
      expect(JSON.parse(text).error.code).toBe("invalid_signature");
      expect(runs).toEqual([]);
    });
  }
});

describe("attack: a forged log line", () => {
  it("cannot start a new line in the log or the 401 body through the JWT's alg", async () => {
    const alg = 'none\n[qjobs] Job "payments/refund" succeeded';
    const forged = `${Buffer.from(JSON.stringify({ alg })).toString("base64url")}.e30.abcd`;
    const response = await route()(
      new Request(`${appUrl}?job=payments/refund`, {
        method: "POST",
        body: "{}",
        headers: { "Upstash-Signature": forged },
      }),
    );
    expect(response.status).toBe(401);
    const body = await response.text();
    const logged = logger.warn.mock.calls.flat().join(" ");
    for (const text of [logged, JSON.parse(body).error.message as string]) {
      expect(text).not.toMatch(/[\n\r\u2028\u2029]/);
      expect(text).toContain("\\n[qjobs]"); // there, but escaped
    }
  });

  it("cannot forge lines through a signed URL from another app, whatever characters it holds", async () => {
    const signedUrl = "https://other.example/api/jobs?job=payments/refund&x=\u2028[qjobs]%20ok";
    await route()(await signedFor(signedUrl, `${appUrl}?job=payments/refund`));
    const logged = logger.warn.mock.calls.flat().join(" ");
    expect(logged).toMatch(/not this app's jobs URL/);
    expect(logged).not.toMatch(/[\n\r\u2028\u2029]/);
  });

  it("truncates what it quotes", async () => {
    const signedUrl = `https://other.example/${"a".repeat(5000)}?job=payments/refund`;
    await route()(await signedFor(signedUrl, `${appUrl}?job=payments/refund`));
    const logged = logger.warn.mock.calls.flat().join(" ");
    expect(logged).toMatch(/"https:\/\/other\.example\/a+\.\.\.", which is not this app's jobs URL/);
    expect(logged.length).toBeLessThan(1000);
  });
});

describe("attack: a captured delivery replayed before its signature expires", () => {
  it("runs the job again without a replay guard (QStash signs only the body and the URL), but the handler sees the signed claims", async () => {
    const request = await signedFor(`${appUrl}?job=payments/refund`);
    const copy = request.clone();
    expect((await route()(request)).status).toBe(200);
    expect((await route()(copy)).status).toBe(200);
    expect(runs).toHaveLength(2);
    const claims = runs[0]?.ctx.claims;
    expect(claims?.jti).toMatch(/^jwt_/);
    expect(claims?.iat).toBeTypeOf("number");
    expect(claims?.sub).toBe(`${appUrl}?job=payments/refund`);
  });

  it("is refused by the replay guard: the same signature id twice runs once", async () => {
    const handler = route({ replayGuard: memoryReplayGuard() });
    const request = await signedFor(`${appUrl}?job=payments/refund`);
    const copy = request.clone();
    expect((await handler(request)).status).toBe(200);
    const replay = await handler(copy);
    expect(replay.status).toBe(401);
    expect(await codeOf(replay)).toBe("replayed_signature");
    expect(runs).toHaveLength(1);
    // A genuine retry is signed afresh (a new jti), so it still runs.
    expect((await handler(await signedFor(`${appUrl}?job=payments/refund`))).status).toBe(200);
    expect(runs).toHaveLength(2);
  });

  it("forgets a signature id only once it has expired", () => {
    let now = 1_000;
    const guard = memoryReplayGuard({ now: () => now });
    expect(guard.claim("jwt_a", 1_300)).toBe(true);
    now = 1_299;
    expect(guard.claim("jwt_a", 1_300)).toBe(false);
    now = 1_400;
    expect(guard.claim("jwt_a", 1_700)).toBe(true);
  });
});
