// Runs from the terminal (issue 18): `qjobs run <key> --wait`, `qjobs runs get`, `qjobs runs list`, the built CLI
// spawned as a process. The real QStash Client in it publishes to a capture server, which hands each message to
// a jobs route in this process; the route records runs in the local Redis stand-in that the CLI reads.
import { join } from "node:path";
import { createJob, createRouteHandler, NonRetryableError } from "@qjobs/runtime";
import { createDeliveryRequest } from "@qjobs/runtime/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CapturedRequest, type CaptureServer, startCaptureServer } from "../../../testkit/capture-server.js";
import { REDIS_TOKEN, type StandIn, startStandIn } from "../../local/test/redis-support.js";
import { fixturesDir, runCli } from "./support.js";

const project = join(fixturesDir, "export-forms");
const jobsUrl = "https://app.example.com/api/jobs";
const signing = { QSTASH_CURRENT_SIGNING_KEY: "sig_cli_runs_current", QSTASH_NEXT_SIGNING_KEY: "sig_cli_runs_next" };

// The fixture's billing.refund, as its route would run it: the order id back, or a failure for good.
const refund = createJob("billing.refund", async (payload: { orderId: string }) => {
  if (payload.orderId === "bad") throw new NonRetryableError("refund refused");
  return payload.orderId;
});
let redis: StandIn;
let deliverMessages = true;
const route = createRouteHandler(
  { "billing.refund": async () => refund },
  {
    env: () => ({
      ...signing,
      QJOBS_URL: jobsUrl,
      QJOBS_REDIS_REST_URL: redis.url,
      QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN,
    }),
    logger: { error: () => {}, warn: () => {} },
  },
);

/** Hands a published message to the route, as QStash would deliver it. */
async function deliver(request: CapturedRequest): Promise<void> {
  const { messageId } = request.answer as { messageId: string };
  const key = new URL(decodeURIComponent(request.target.slice("/v2/publish/".length))).searchParams.get("job") ?? "";
  await route(
    await createDeliveryRequest({
      routeUrl: jobsUrl,
      key,
      body: request.body.toString("utf8"),
      messageId,
      signingKey: signing.QSTASH_CURRENT_SIGNING_KEY,
    }),
  );
}

let qstash: CaptureServer;
beforeAll(async () => {
  qstash = await startCaptureServer((request) => {
    // After the answer is sent (it holds the message id), deliver it.
    if (deliverMessages && request.target.startsWith("/v2/publish/")) setImmediate(() => void deliver(request));
    return undefined;
  });
});
afterAll(() => qstash.close());
beforeEach(async () => {
  deliverMessages = true;
  redis = await startStandIn({ start: Date.now() });
});

const cliEnv = () => ({
  QSTASH_URL: qstash.url,
  QSTASH_TOKEN: "test-token",
  QJOBS_URL: jobsUrl,
  QJOBS_REDIS_REST_URL: redis.url,
  QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN,
});
const qjobs = (args: string[], env: Record<string, string> = cliEnv()) => runCli([...args, "--cwd", project], { env });

describe("qjobs run <key>", () => {
  it("--wait --json: dispatches, follows the run to its result, exit 0", async () => {
    const run = await qjobs(["run", "billing.refund", "--payload", '{"orderId":"o_7"}', "--wait", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ key: "billing.refund", status: "succeeded", result: "o_7" });
  });

  it("--wait: a run that fails exits 1 and prints the real error", async () => {
    const run = await qjobs(["run", "billing.refund", "--payload", '{"orderId":"bad"}', "--wait"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/billing\.refund {2}failed attempt 1: NonRetryableError: refund refused/);
  });

  it("--wait --timeout: a run that does not end in time exits 2 with its last known state", async () => {
    deliverMessages = false;
    const run = await qjobs(["run", "billing.refund", "--payload", '{"orderId":"o_8"}', "--wait", "--timeout", "1"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/queued/);
    expect(run.stderr).toContain("timed out");
  });

  it("without --wait: prints the run id; then runs get and runs list find it", async () => {
    const run = await qjobs(["run", "billing.refund", "--payload", '{"orderId":"o_9"}', "--json"]);
    expect(run.code).toBe(0);
    const handle = JSON.parse(run.stdout) as { id: string; key: string };
    expect(handle.key).toBe("billing.refund");
    await expect
      .poll(async () => JSON.parse((await qjobs(["runs", "get", handle.id, "--json"])).stdout || "{}").status)
      .toBe("succeeded");
    const listed = await qjobs(["runs", "list", "--job", "billing.refund", "--status", "succeeded", "--json"]);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { runs: { id: string }[] }).runs.map((entry) => entry.id)).toEqual([
      handle.id,
    ]);
  });

  it("bad input: a payload that is not JSON, an unknown key, an unknown status, each named", async () => {
    const notJson = await qjobs(["run", "billing.refund", "--payload", "{orderId"]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toContain("The payload is not JSON");
    const unknown = await qjobs(["run", "billing.refnud"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown job "billing.refnud"');
    const status = await qjobs(["runs", "list", "--status", "done"]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('Unknown status "done"');
    expect(qstash.requests.filter((request) => request.target.includes("refnud"))).toEqual([]);
  });

  it("runs list without a store: an error naming the variables", async () => {
    const { QJOBS_REDIS_REST_URL: _url, QJOBS_REDIS_REST_TOKEN: _token, ...withoutStore } = cliEnv();
    const run = await qjobs(["runs", "list"], withoutStore);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("QJOBS_REDIS_REST_URL");
  });
});
