// `qjobs dashboard`'s proxy against a QStash stand-in that records exactly what reaches it and answers what
// each test needs (issue 20: items 1, 3, 4, 13 and 15).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { rawRequest } from "../../../testkit/raw-request.js";
import { qstash } from "../page/api.js";
import { spawnCli, tempProject } from "./support.js";

const TOKEN = "cloud-token-7a1f-never-shown-to-the-page";
const SECRET = "BypassSecretAbcdefghijklmnopqrstu";
const THIRD_PARTY = "https://thirdparty.example/alerts";
const jobsUrl = "http://localhost:3000/api/jobs";

interface Received {
  method: string;
  target: string;
  headers: Record<string, string | string[] | undefined>;
}
const received: Received[] = [];
/** What the stand-in answers next: status, content type and body. */
let answer: (target: string) => { status: number; type: string; body: string | Buffer } = () => ({
  status: 200,
  type: "application/json",
  body: '{"messageId":"msg_1"}',
});

let upstream: Server;
let dashboard: string;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    received.push({ method: req.method ?? "", target: req.url ?? "", headers: req.headers });
    req.resume().on("end", () => {
      const { status, type, body } = answer(req.url ?? "");
      res.writeHead(status, { "content-type": type }).end(body);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const job = (name: string, key: string, definition: string) =>
    `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob(${JSON.stringify(key)}, { ${definition} });\n`;
  const project = await tempProject({
    "qjobs.config.json": JSON.stringify({ jobs: ["jobs/*.job.ts"], registry: "qjobs.gen.ts", route: "route.ts" }),
    "jobs/greet.job.ts": job("greet", "emails/greet", "retries: 2, handler: async () => {}"),
    "jobs/alerts.job.ts": job("alerts", "alerts", `failureCallback: "${THIRD_PARTY}", handler: async () => {}`),
    "jobs/charge.job.ts": job("charge", "billing/charge", "handler: async () => {}, onFailure: async () => {}"),
  });
  const cli = spawnCli(["dashboard", "--cwd", project, "--port", "0", "--app-url", jobsUrl], {
    lifetime: "file",
    env: {
      QSTASH_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      QSTASH_TOKEN: TOKEN,
      VERCEL_AUTOMATION_BYPASS_SECRET: SECRET,
    },
  });
  [, dashboard = ""] = await cli.waitFor(/Open (\S+)/);
});
afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
beforeEach(() => {
  received.length = 0;
  answer = () => ({ status: 200, type: "application/json", body: '{"messageId":"msg_1"}' });
});

/** A request to the proxy with the path sent verbatim (no client-side normalising). */
async function proxy(
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; type: string; body: string }> {
  const base = new URL(dashboard);
  const method = options.method ?? "GET";
  const { status, body, headers } = await rawRequest(Number(base.port), {
    method,
    path: `${base.pathname}api/qstash${path}`,
    headers: { "content-type": "application/json", ...options.headers },
    ...(method === "POST" ? { body: "{}" } : {}),
  });
  return { status, type: String(headers["content-type"]), body };
}

const publish = (destination: string, headers: Record<string, string> = {}) =>
  proxy(`/v2/publish/${destination}`, { method: "POST", headers });

describe("attack: dot segments and encoded separators turn a listed call into a bulk one", () => {
  it.each([
    ["DELETE", "/v2/messages/."],
    ["DELETE", "/v2/messages/%2e"],
    ["DELETE", "/v2/messages/a%2F..%2Fb"],
    ["DELETE", "/v2/dlq/."],
    ["POST", "/v2/dlq/retry/%2E%2e"],
    ["PATCH", "/v2/schedules/%2e%2e/pause"],
    ["DELETE", "/v2/messages/a%5c..%5cb"],
    ["POST", `/v2/publish/${jobsUrl.replace("/api/jobs", "/../../../../api/jobs")}?job=emails%2Fgreet`],
  ])("%s %s is refused with 400 and never reaches QStash", async (method, path) => {
    const refused = await proxy(path, { method });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain("canonical paths");
    expect(received).toEqual([]);
  });

  it("a listed call goes through exactly as it was parsed", async () => {
    answer = () => ({ status: 200, type: "application/json", body: "{}" });
    expect((await proxy("/v2/messages/msg_1", { method: "DELETE" })).status).toBe(200);
    expect(received.map((call) => `${call.method} ${call.target}`)).toEqual(["DELETE /v2/messages/msg_1"]);
  });
});

describe("attack: a publish the page never makes, aimed elsewhere", () => {
  it.each([
    ["userinfo in the destination", "http://evil.example%23@localhost:3000/api/jobs?job=emails%2Fgreet"],
    ["the onFailure hook's URL (forged failure fields)", `${jobsUrl}?job=billing%2Fcharge&hook=failure`],
    ["an unknown job key", `${jobsUrl}?job=nobody`],
    ["an extra parameter", `${jobsUrl}?job=emails%2Fgreet&tenant=b`],
  ])("%s is refused with 403", async (_attack, destination) => {
    const refused = await publish(destination);
    expect(refused.status).toBe(403);
    expect(received).toEqual([]);
  });

  it("a destination in a non-canonical form is forwarded as parsed, never as the raw text", async () => {
    expect((await publish("http:localhost:3000/api/jobs?job=emails%2Fgreet")).status).toBe(200);
    expect(received.map((call) => call.target)).toEqual([`/v2/publish/${jobsUrl}?job=emails%2Fgreet`]);
  });

  it("a failure callback with userinfo, or to another job's hook, is refused", async () => {
    for (const callback of [
      `http://x@localhost:3000/api/jobs?job=billing%2Fcharge&hook=failure`,
      `${jobsUrl}?job=billing%2Fcharge&hook=failure`,
    ]) {
      const destination = callback.includes("x@") ? `${jobsUrl}?job=billing%2Fcharge` : `${jobsUrl}?job=emails%2Fgreet`;
      expect((await publish(destination, { "upstash-failure-callback": callback })).status).toBe(403);
    }
    expect(received).toEqual([]);
  });
});

describe("attack: the replay header carries a text of the page's choosing to the app", () => {
  it("a Qjobs-Replay-Of that is not a message id is refused with 403; a message id goes through", async () => {
    for (const forged of ["msg_1, <script>", "../../admin", "x".repeat(201)]) {
      const refused = await publish(`${jobsUrl}?job=emails%2Fgreet`, { "upstash-forward-qjobs-replay-of": forged });
      expect({ forged, status: refused.status }).toEqual({ forged, status: 403 });
    }
    expect(received).toEqual([]);
    expect(
      (await publish(`${jobsUrl}?job=emails%2Fgreet`, { "upstash-forward-qjobs-replay-of": "msg_abc-1" })).status,
    ).toBe(200);
    expect(received[0]?.headers["upstash-forward-qjobs-replay-of"]).toBe("msg_abc-1");
  });
});

describe("attack: a dead letter's retry carries the page's configuration headers (a callback, a forwarded header)", () => {
  it("a retry with any Upstash-* header is refused with 403; a plain one goes as it was", async () => {
    answer = (target) =>
      target.startsWith("/v2/dlq/dlq_1")
        ? { status: 200, type: "application/json", body: '{"dlqId":"dlq_1","messageId":"msg_dead-1"}' }
        : { status: 201, type: "application/json", body: '{"messageId":"msg_retry"}' };
    for (const [name, value] of [
      ["upstash-callback", THIRD_PARTY],
      ["upstash-forward-authorization", "Bearer forged"],
      ["upstash-forward-qjobs-retry-of", "msg_other"],
      ["upstash-retries", "0"],
    ] as const) {
      const refused = await proxy("/v2/dlq/retry/dlq_1", { method: "POST", headers: { [name]: value } });
      expect({ name, status: refused.status }).toEqual({ name, status: 403 });
    }
    expect(received).toEqual([]);
    // The page's own retry goes as it was, with no Upstash-* header; the CLI notes which dead letter it was.
    expect((await proxy("/v2/dlq/retry/dlq_1", { method: "POST" })).status).toBe(201);
    const retry = received.find((call) => call.target === "/v2/dlq/retry/dlq_1");
    expect(Object.keys(retry?.headers ?? {}).filter((name) => name.startsWith("upstash-"))).toEqual([]);
    expect(await (await fetch(`${dashboard}api/retries/msg_dead-1`)).json()).toEqual({ retriedAs: ["msg_retry"] });
    expect(await (await fetch(`${dashboard}api/retries/msg_retry`)).json()).toEqual({
      retryOf: "msg_dead-1",
      retriedAs: [],
    });
  });

  it("a dead letter QStash names with something that is not a message id is retried, and linked to nothing", async () => {
    answer = (target) =>
      target.startsWith("/v2/dlq/dlq_2")
        ? { status: 200, type: "application/json", body: '{"dlqId":"dlq_2","messageId":"msg_1, <script>"}' }
        : { status: 201, type: "application/json", body: '{"messageId":"msg_retry-2"}' };
    expect((await proxy("/v2/dlq/retry/dlq_2", { method: "POST" })).status).toBe(201);
    expect(await (await fetch(`${dashboard}api/retries/msg_retry-2`)).json()).toEqual({ retriedAs: [] });
    expect((await fetch(`${dashboard}api/retries/${encodeURIComponent("msg_1, <script>")}`)).status).toBe(400);
  });
});

describe("attack: the page publishes a forged failure callback to a job's onFailure hook", () => {
  it("the page refuses it before any request (the proxy refuses it too, above)", async () => {
    const fetched = vi.spyOn(globalThis, "fetch");
    await expect(qstash.publish(`${jobsUrl}?job=billing%2Fcharge&hook=failure`, "{}", {})).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("onFailure hook"),
    });
    expect(fetched).not.toHaveBeenCalled();
    fetched.mockRestore();
  });
});

describe("attack: the bypass secret reaches a third-party callback through the dashboard", () => {
  it("a job whose failure callback is a third party's is published without the secret in any header", async () => {
    const sent = await publish(`${jobsUrl}?job=alerts`, { "upstash-failure-callback": THIRD_PARTY });
    expect(sent.status).toBe(200);
    expect(received).toHaveLength(1);
    expect(received[0]?.target).toBe(`/v2/publish/${jobsUrl}?job=alerts`);
    expect(JSON.stringify(received[0]?.headers)).not.toContain(SECRET);
  });

  it("a forwarded bypass header from the page is dropped; the app's own jobs get the proxy's", async () => {
    await publish(`${jobsUrl}?job=alerts`, {
      "upstash-failure-callback": THIRD_PARTY,
      "upstash-forward-x-vercel-protection-bypass": SECRET,
    });
    expect(JSON.stringify(received[0]?.headers)).not.toContain(SECRET);
    await publish(`${jobsUrl}?job=billing%2Fcharge`, {
      "upstash-failure-callback": `${jobsUrl}?job=billing%2Fcharge&hook=failure`,
    });
    expect(received[1]?.headers).toMatchObject({
      "upstash-forward-x-vercel-protection-bypass": SECRET,
      "upstash-failure-callback-forward-x-vercel-protection-bypass": SECRET,
    });
  });
});

describe("attack: a log body cut across the bypass secret leaves most of it readable", () => {
  it("hides every value holding 8 or more characters of it, cut at any offset, plain or base64", async () => {
    const prefix = `{"sourceHeader":{"X-Vercel-Protection-Bypass":["`;
    const events: Record<string, unknown>[] = [];
    for (let cut = 0; cut <= SECRET.length; cut++) {
      const text = `${prefix}${SECRET.slice(0, cut)}`;
      events.push({ messageId: `plain-${cut}`, body: text });
      events.push({
        messageId: `base64-${cut}`,
        body: Buffer.from(`${"x".repeat(cut % 3)}${text}`).toString("base64"),
      });
      events.push({ messageId: `tail-${cut}`, body: `${SECRET.slice(cut)}"]}` });
      events.push({ messageId: `token-${cut}`, header: { Authorization: [`Bearer ${TOKEN.slice(0, cut)}`] } });
    }
    answer = () => ({ status: 200, type: "application/json", body: JSON.stringify({ events }) });
    const page = await proxy("/v2/events?count=100");
    expect(page.status).toBe(200);
    const shown = JSON.parse(page.body) as { events: { body?: string; header?: Record<string, string[]> }[] };
    const readable = shown.events.flatMap((event) => [
      event.body ?? "",
      Buffer.from(event.body ?? "", "base64").toString("latin1"),
      JSON.stringify(event.header ?? {}),
    ]);
    for (const secret of [SECRET, TOKEN])
      for (let start = 0; start + 8 <= secret.length; start++)
        expect(readable.filter((text) => text.includes(secret.slice(start, start + 8)))).toEqual([]);
    // Values without a piece of a secret are kept as they were.
    expect(shown.events[0]?.body).toBe(prefix);
  });
});

describe("attack: QStash's answer runs as script in the page's origin, or fills the CLI's memory", () => {
  it("an answer that is not JSON reaches the page as a JSON error, never as text/html", async () => {
    answer = () => ({ status: 200, type: "text/html", body: "<script>document.title='ran'</script>" });
    const shown = await proxy("/v2/dlq");
    expect(shown.type).toBe("application/json");
    expect(JSON.parse(shown.body)).toEqual({ error: expect.stringContaining("a body that is not JSON") });
  });

  it("an answer over 32 MiB is cut off with a clear error", async () => {
    const huge = Buffer.alloc(33 * 1024 * 1024, 0x20);
    answer = () => ({ status: 200, type: "application/json", body: huge });
    const shown = await proxy("/v2/events?count=1000");
    expect(shown.status).toBe(502);
    expect(shown.type).toBe("application/json");
    expect(JSON.parse(shown.body)).toMatchObject({ error: expect.stringContaining("over 32 MiB"), tooLarge: true });
  });
});
