// onFailure end to end through qjobs dev: real publishes, real failure callbacks, the route on a real server.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createJob, createRouteHandler, DEV_CREDENTIALS, type JobFailure, NonRetryableError } from "@qjobs/runtime";
import { toNodeHandler } from "@qjobs/runtime/node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startLocal } from "./dev-support.js";

const failures: { key: string; payload: unknown; failure: JobFailure }[] = [];
const record = (key: string) => async (payload: unknown, failure: JobFailure) =>
  void failures.push({ key, payload, failure });

const flaky = createJob("always-fails", {
  retries: 1,
  handler: async (_payload: { n: number }) => {
    throw new Error("still down");
  },
  onFailure: record("always-fails"),
});
const declined = createJob("declined", {
  handler: async (_payload: { n: number }) => {
    throw new NonRetryableError("card declined");
  },
  onFailure: record("declined"),
});
const fine = createJob("fine", { handler: async (_payload: { n: number }) => {}, onFailure: record("fine") });

afterEach(() => {
  vi.unstubAllEnvs();
  failures.length = 0;
});

describe("onFailure through qjobs dev", () => {
  it("runs once after retries are exhausted, once after a 489, and never after success", async () => {
    const { server: qstash, engine } = await startLocal();
    const jobs = { "always-fails": async () => flaky, declined: async () => declined, fine: async () => fine };
    const app = createServer(
      toNodeHandler(
        createRouteHandler(jobs, {
          env: () => process.env,
          logger: { error: () => undefined, warn: () => undefined },
        }),
      ),
    );
    await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
    try {
      const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/api/jobs`;
      vi.stubEnv("QSTASH_URL", qstash.url);
      vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
      vi.stubEnv("QSTASH_CURRENT_SIGNING_KEY", DEV_CREDENTIALS.currentSigningKey);
      vi.stubEnv("QSTASH_NEXT_SIGNING_KEY", DEV_CREDENTIALS.nextSigningKey);
      vi.stubEnv("QJOBS_URL", appUrl);

      const ids = {
        flaky: (await flaky.dispatch({ n: 1 })).messageId,
        declined: (await declined.dispatch({ n: 2 })).messageId,
        fine: (await fine.dispatch({ n: 3 })).messageId,
      };
      await engine.idle(); // every message and every failure callback delivered

      expect(failures.map((entry) => entry.key).sort()).toEqual(["always-fails", "declined"]);
      const byKey = Object.fromEntries(failures.map((entry) => [entry.key, entry]));
      expect(byKey["always-fails"]).toMatchObject({
        payload: { n: 1 },
        failure: { reason: "failed", status: 500, retried: 1, maxRetries: 1, sourceMessageId: ids.flaky },
      });
      expect(byKey.declined).toMatchObject({
        payload: { n: 2 },
        failure: { status: 489, sourceMessageId: ids.declined },
      });
      expect(byKey.declined?.failure.body).toContain("card declined");
      expect(byKey.declined?.failure.dlqId).toBeTruthy();
      expect(ids.fine).toBeTruthy();
    } finally {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app.close(() => resolve()));
    }
  });
});
