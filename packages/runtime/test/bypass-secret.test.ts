// Issue 20, item 1: Vercel's bypass secret travels only to the app's own deployment. QStash copies a message's
// headers into its callbacks' body, so a message with a callback elsewhere must not carry it at all.
import { describe, expect, it, vi } from "vitest";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { createDispatch, createJob, foreignCallback } from "../src/index.js";

const jobsUrl = "https://app.example.com/api/jobs";
const SECRET = "BypassSecretAbcdefghijklmnopqrstu";
const qstash = useCaptureQStash({ jobsUrl, env: { VERCEL_AUTOMATION_BYPASS_SECRET: SECRET } });

/** Whether the secret is anywhere in what QStash was asked to publish: a header, the body, the batch. */
const secretSent = () =>
  qstash.requests.some(
    (request) => JSON.stringify(request.headers).includes(SECRET) || request.body.toString().includes(SECRET),
  );

describe("attack: a callback on a third party's host receives the bypass secret", () => {
  it("job.dispatch with a declared foreign callback publishes without the secret and says once why", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const notify = createJob("notify-third-party", {
      callback: "https://thirdparty.example/success",
      handler: async (_payload: { note?: string }) => {},
    });
    await notify.dispatch({});
    await notify.dispatch({});
    expect(qstash.requests).toHaveLength(2);
    expect(secretSent()).toBe(false);
    expect(warn.mock.calls.filter(([line]) => String(line).includes("notify-third-party"))).toHaveLength(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(/without VERCEL_AUTOMATION_BYPASS_SECRET.*thirdparty\.example/);
    warn.mockRestore();
  });

  it("the registry's dispatch and dispatchMany with a foreign failureCallback given at the call", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { dispatch, dispatchMany } = createDispatch({ alerts: {} });
    await dispatch("alerts" as never, {} as never, { failureCallback: "http://127.0.0.1:18101/alerts" });
    await dispatchMany("alerts" as never, [{}, {}] as never, { failureCallback: "http://127.0.0.1:18101/alerts" });
    expect(qstash.requests.map((request) => request.target)).toEqual([
      `/v2/publish/${jobsUrl}?job=alerts`,
      "/v2/batch",
    ]);
    expect(secretSent()).toBe(false);
    warn.mockRestore();
  });

  it("a callback with userinfo on the app's host counts as foreign", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { dispatch } = createDispatch({ userinfo: {} });
    await dispatch("userinfo" as never, {} as never, { callback: "https://evil.example@app.example.com/cb" });
    expect(secretSent()).toBe(false);
    warn.mockRestore();
  });

  it("still sends the secret when every callback is on the jobs URL's origin (the onFailure hook included)", async () => {
    const { dispatch } = createDispatch(
      { own: { callback: "https://app.example.com/api/done" } },
      { failureHooks: ["own"] },
    );
    await dispatch("own" as never, {} as never);
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-forward-x-vercel-protection-bypass": SECRET,
      "upstash-failure-callback-forward-x-vercel-protection-bypass": SECRET,
    });
  });
});

describe("foreignCallback decides for every path", () => {
  it("names the first callback off the jobs URL's origin", () => {
    expect(foreignCallback(jobsUrl, [undefined, `${jobsUrl}?job=a&hook=failure`])).toBeUndefined();
    expect(foreignCallback(jobsUrl, ["https://app.example.com:8443/x"])).toBe("https://app.example.com:8443/x");
    expect(foreignCallback(jobsUrl, ["http://app.example.com/x"])).toBe("http://app.example.com/x");
    expect(foreignCallback(jobsUrl, ["not a url"])).toBe("not a url");
  });
});
