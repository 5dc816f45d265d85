// onFailure: a hook that runs once when QStash gives up on a message, through its failure callback (issue 13).
import { beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { signLikeQStash } from "../../../testkit/qstash-signature.js";
import { createDispatch, createJob, createRouteHandler, type JobFailure } from "../src/index.js";
import { createDeliveryRequest, createFailureCallbackRequest } from "../src/testing.js";

const routeUrl = "https://app.example.com/api/jobs";
const env = {
  QSTASH_CURRENT_SIGNING_KEY: "sig_hook_current",
  QSTASH_NEXT_SIGNING_KEY: "sig_hook_next",
  QJOBS_URL: routeUrl,
};
const signingKey = env.QSTASH_CURRENT_SIGNING_KEY;

const hooks: { payload: unknown; failure: JobFailure; messageId: string }[] = [];
const ran: unknown[] = [];
const charge = createJob("billing/charge", {
  schema: z.object({ orderId: z.string(), cents: z.number().int() }),
  retries: 3,
  handler: async (order) => void ran.push(order),
  onFailure: async (order, failure, ctx) => void hooks.push({ payload: order, failure, messageId: ctx.messageId }),
});
const plain = createJob("plain", async () => {});
const exploding = createJob("exploding", {
  handler: async () => {},
  onFailure: async () => {
    throw new Error("the hook failed too");
  },
});
const logger = { error: vi.fn(), warn: vi.fn() };
const POST = createRouteHandler(
  { "billing/charge": async () => charge, plain: async () => plain, exploding: async () => exploding },
  { env, logger },
);

beforeEach(() => {
  hooks.length = 0;
  ran.length = 0;
});

describe("the route runs onFailure for a signed failure callback", () => {
  it("once, with the original payload as the handler would have it and what failed", async () => {
    const request = await createFailureCallbackRequest({
      routeUrl,
      key: "billing/charge",
      payload: { orderId: "o_1", cents: 500 },
      status: 489,
      responseBody: '{"error":{"code":"non_retryable","message":"card declined"}}',
      retried: 0,
      sourceMessageId: "msg_source",
      dlqId: "dlq_1",
      signingKey,
    });
    const response = await POST(request);
    expect(response.status).toBe(200);
    expect(ran).toEqual([]);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]?.payload).toEqual({ orderId: "o_1", cents: 500 });
    expect(hooks[0]?.failure).toEqual({
      reason: "failed",
      status: 489,
      body: '{"error":{"code":"non_retryable","message":"card declined"}}',
      retried: 0,
      maxRetries: 3,
      sourceMessageId: "msg_source",
      dlqId: "dlq_1",
    });
    expect(hooks[0]?.messageId).not.toBe("msg_source"); // the hook delivery's own id; the source is in failure
  });

  it("says unreachable when no attempt got an answer (status 0: the app was down), with the payload", async () => {
    const request = await createFailureCallbackRequest({
      routeUrl,
      key: "billing/charge",
      payload: { orderId: "o_2", cents: 100 },
      status: 0,
      responseBody: "",
      signingKey,
    });
    expect((await POST(request)).status).toBe(200);
    expect(hooks[0]?.payload).toEqual({ orderId: "o_2", cents: 100 });
    expect(hooks[0]?.failure).toMatchObject({ reason: "unreachable", status: 0 });
  });

  it("says so, honestly typed, when the payload itself was the failure", async () => {
    const request = await createFailureCallbackRequest({
      routeUrl,
      key: "billing/charge",
      payload: { orderId: 7 },
      status: 489,
      signingKey,
    });
    expect((await POST(request)).status).toBe(200);
    expect(hooks[0]?.payload).toBeUndefined();
    expect(hooks[0]?.failure).toMatchObject({ reason: "invalid_payload", rawPayload: { orderId: 7 } });
  });

  it("answers 200 for a job without onFailure (removed since, say), so QStash does not retry it forever", async () => {
    const response = await POST(await createFailureCallbackRequest({ routeUrl, key: "plain", signingKey }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, hook: "none" });
  });

  it("answers 500 when the hook throws, so QStash retries the callback", async () => {
    const response = await POST(await createFailureCallbackRequest({ routeUrl, key: "exploding", signingKey }));
    expect(response.status).toBe(500);
  });

  it("never runs on a delivery, successful or not", async () => {
    const ok = await POST(
      await createDeliveryRequest({ routeUrl, key: "billing/charge", payload: { orderId: "o", cents: 1 }, signingKey }),
    );
    expect(ok.status).toBe(200);
    expect(ran).toHaveLength(1);
    expect(hooks).toEqual([]);
  });
});

describe("attack: a forged failure callback", () => {
  it("is refused unsigned, signed with another key, or signed for a delivery and sent to the hook", async () => {
    const genuine = await createFailureCallbackRequest({
      routeUrl,
      key: "billing/charge",
      payload: { orderId: "o", cents: 1 },
      signingKey,
    });
    const body = await genuine.clone().text();
    const unsigned = new Request(genuine.url, { method: "POST", body });
    const wrongKey = new Request(genuine.url, {
      method: "POST",
      body,
      headers: { "Upstash-Signature": await signLikeQStash({ signingKey: "sig_attacker", url: genuine.url, body }) },
    });
    // A delivery's signature names the job's URL without hook=failure: replayed at the hook, it is refused.
    const deliveryUrl = `${routeUrl}?job=billing%2Fcharge`;
    const retargeted = new Request(genuine.url, {
      method: "POST",
      body,
      headers: { "Upstash-Signature": await signLikeQStash({ signingKey, url: deliveryUrl, body }) },
    });
    for (const request of [unsigned, wrongKey, retargeted]) expect((await POST(request)).status).toBe(401);
    expect(hooks).toEqual([]);
  });
});

describe("attack: a signed failure callback with a malformed body", () => {
  // QStash signs only the URL and the body: anyone with the account's token can publish these to ?hook=failure.
  const hookUrl = `${routeUrl}?job=billing%2Fcharge&hook=failure`;
  const signed = async (body: string) =>
    new Request(hookUrl, {
      method: "POST",
      body,
      headers: { "Upstash-Signature": await signLikeQStash({ signingKey, url: hookUrl, body }) },
    });

  it.each([
    ["a null body", "null"],
    ["an array body", "[]"],
    ["a sourceBody that is not base64", JSON.stringify({ sourceBody: "not base64!", body: "" })],
    ["a response body that is not base64", JSON.stringify({ sourceBody: "", body: "%%%" })],
  ])("answers 489 invalid_json for %s, never throws, and runs no hook", async (_name, body) => {
    const response = await POST(await signed(body));
    expect(response.status).toBe(489);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_json");
    expect(hooks).toEqual([]);
  });
});

describe("dispatch points a hooked job's failure callback at the route", () => {
  const qstash = useCaptureQStash({ jobsUrl: routeUrl });

  it("from job.dispatch and from the registry's dispatch, with the callback's own retries", async () => {
    await charge.dispatch({ orderId: "o", cents: 1 });
    const { dispatch } = createDispatch({ "billing/charge": { retries: 3 } }, { failureHooks: ["billing/charge"] });
    await dispatch("billing/charge" as never, { orderId: "o", cents: 1 } as never);
    for (const request of qstash.requests) {
      expect(request.headers["upstash-failure-callback"]).toBe(`${routeUrl}?job=billing%2Fcharge&hook=failure`);
      expect(request.headers["upstash-failure-callback-retries"]).toBe("3");
    }
    expect(qstash.requests).toHaveLength(2);
  });

  it("refuses a job that declares both onFailure and failureCallback", () => {
    expect(() =>
      createJob("both", {
        failureCallback: "https://x.example/cb",
        handler: async () => {},
        onFailure: async () => {},
      }),
    ).toThrow(/both onFailure and failureCallback/);
  });
});
