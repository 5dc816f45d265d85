// Issue 20, item 1, end to end: QStash (here qjobs dev) copies a message's headers into the body of its callbacks
// (`sourceHeader`), so the only way to keep Vercel's bypass secret from a third party is to leave it off the message.
import { createJob, DEV_CREDENTIALS } from "@qjobs/runtime";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startDestination } from "../../../testkit/destination.js";
import { startLocal } from "./dev-support.js";

const SECRET = "BypassSecretAbcdefghijklmnopqrstu";

afterEach(() => vi.unstubAllEnvs());

describe("attack: a third-party callback endpoint receives the bypass secret in the callback's body", () => {
  it("never: neither the success callback nor the failure callback carries it, while the app's own job does", async () => {
    const { server: qstash, engine } = await startLocal();
    // The app: `declined` fails for good, everything else is delivered.
    const app = await startDestination((delivery, response) =>
      delivery.target.includes("job=declined")
        ? response.writeHead(489, { "upstash-nonretryable-error": "true" }).end("declined")
        : response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'),
    );
    const thirdParty = await startDestination();
    try {
      vi.stubEnv("QSTASH_URL", qstash.url);
      vi.stubEnv("QSTASH_TOKEN", DEV_CREDENTIALS.token);
      vi.stubEnv("QJOBS_URL", `${app.url}/api/jobs`);
      vi.stubEnv("VERCEL_AUTOMATION_BYPASS_SECRET", SECRET);
      const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
      const reported = createJob("reported", {
        callback: `${thirdParty.url}/done`,
        handler: async (_payload: { n: number }) => {},
      });
      const declined = createJob("declined", {
        retries: 0,
        failureCallback: `${thirdParty.url}/alerts`,
        handler: async (_payload: { n: number }) => {},
      });
      const own = createJob("own", { handler: async (_payload: { n: number }) => {} });
      await reported.dispatch({ n: 1 });
      await declined.dispatch({ n: 2 });
      await own.dispatch({ n: 3 });
      await engine.idle();
      warn.mockRestore();

      const callbacks = await thirdParty.waitFor(2);
      expect(callbacks.map((callback) => callback.target).sort()).toEqual(["/alerts", "/done"]);
      for (const callback of callbacks) {
        expect(JSON.stringify(callback.headers)).not.toContain(SECRET);
        expect(callback.body.toString()).toContain("sourceHeader");
        expect(callback.body.toString()).not.toContain(SECRET);
      }
      // The secret is in use: the app's own job, with no callback elsewhere, still passes Vercel's protection.
      const ownDelivery = app.deliveries.find((delivery) => delivery.target.includes("job=own"));
      expect(ownDelivery?.headers["x-vercel-protection-bypass"]).toBe(SECRET);
    } finally {
      await Promise.all([app.close(), thirdParty.close()]);
    }
  });
});
