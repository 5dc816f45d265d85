import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { dispatch, type RouteHandler } from "@qjobs/runtime";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type CaptureServer, startCaptureServer } from "../../../testkit/capture-server.js";
import { signLikeQStash } from "../../../testkit/qstash-signature.js";
import { runCli, tempProject } from "./support.js";

const signingKeys = { QSTASH_CURRENT_SIGNING_KEY: "sig_e2e_current", QSTASH_NEXT_SIGNING_KEY: "sig_e2e_next" };
const jobsUrl = "http://127.0.0.1:3000/api/jobs";

// Each job module records that it was loaded, and each handler that it ran.
const jobFile = (name: string, key: string, payload: string) => `import { createJob } from "@qjobs/runtime";
const state = ((globalThis as any).__qjobsE2E ??= { loaded: [], ran: [] });
state.loaded.push(${JSON.stringify(name)});
export const ${name} = createJob(${JSON.stringify(key)}, async (payload: ${payload}, ctx) => {
  state.ran.push({ key: ctx.key, payload, retried: ctx.retried });
});
`;

let qstash: CaptureServer;
let POST: RouteHandler;
const state = () => (globalThis as unknown as { __qjobsE2E: { loaded: string[]; ran: unknown[] } }).__qjobsE2E;

beforeAll(async () => {
  const dir = await tempProject(
    {
      "src/jobs/alpha.job.ts": jobFile("alpha", "alpha", "{ n: number }"),
      "src/jobs/beta.job.ts": jobFile("beta", "team/beta", "{ s: string }"),
      "src/jobs/gamma.job.ts": jobFile("gamma", "gamma", "undefined"),
      "src/app/.keep": "",
    },
    { inRepo: true },
  );
  expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
  ({ POST } = await import(pathToFileURL(join(dir, "src/app/api/jobs/route.ts")).href));
  qstash = await startCaptureServer();
  vi.stubEnv("QSTASH_URL", qstash.url);
  vi.stubEnv("QSTASH_TOKEN", "e2e-token");
  vi.stubEnv("QJOBS_URL", jobsUrl);
  for (const [name, value] of Object.entries(signingKeys)) vi.stubEnv(name, value);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await qstash?.close();
});

/** Turns the message the real Client published into the delivery QStash would make of it. */
async function deliveryOf(index: number): Promise<Request> {
  const published = qstash.requests[index];
  if (!published) throw new Error(`no publish #${index}`);
  const destination = published.target.slice("/v2/publish/".length);
  const body = published.body.toString("utf8");
  return new Request(destination, {
    method: published.headers["upstash-method"] as string,
    body,
    headers: {
      "content-type": published.headers["content-type"] as string,
      "upstash-signature": await signLikeQStash({
        signingKey: signingKeys.QSTASH_CURRENT_SIGNING_KEY,
        url: destination,
        body,
      }),
      "upstash-message-id": `msg_${index}`,
      "upstash-retried": "0",
    },
  });
}

describe("a generated route serves signed deliveries end to end", () => {
  it("loads nothing until a delivery arrives, then only the delivered job's module", async () => {
    expect(state()?.loaded ?? []).toEqual([]);
    await dispatch("alpha", { n: 41 });
    const response = await POST(await deliveryOf(0));
    expect(response.status).toBe(200);
    expect(state().loaded).toEqual(["alpha"]);
    expect(state().ran).toEqual([{ key: "alpha", payload: { n: 41 }, retried: 0 }]);
  });

  it("routes a key with a slash, and a job without payload", async () => {
    await dispatch("team/beta", { s: "hi" });
    await dispatch("gamma");
    expect((await POST(await deliveryOf(1))).status).toBe(200);
    expect((await POST(await deliveryOf(2))).status).toBe(200);
    expect(state().loaded.sort()).toEqual(["alpha", "beta", "gamma"]);
    expect(state().ran).toContainEqual({ key: "team/beta", payload: { s: "hi" }, retried: 0 });
  });

  it("refuses the same delivery with a tampered body, running nothing", async () => {
    await dispatch("alpha", { n: 1 });
    const delivery = await deliveryOf(3);
    const tampered = new Request(delivery.url, { method: "POST", headers: delivery.headers, body: '{"n":1000}' });
    const ran = state().ran.length;
    expect((await POST(tampered)).status).toBe(401);
    expect(state().ran.length).toBe(ran);
  });
});

describe("a large registry", () => {
  it("finds every one of 130 jobs across its chunks, and no unknown key", async () => {
    const keys = Array.from({ length: 130 }, (_, i) => `group-${i % 7}/job.${i}`);
    const files = Object.fromEntries(
      keys.map((key, i) => [
        `src/jobs/j${i}.job.ts`,
        `import { createJob } from "@qjobs/runtime";\nexport const j${i} = createJob(${JSON.stringify(key)}, async () => {});\n`,
      ]),
    );
    const dir = await tempProject({ ...files, "src/app/.keep": "" }, { inRepo: true });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    const { loadJob } = (await import(pathToFileURL(join(dir, "src/qjobs.gen.ts")).href)) as {
      loadJob: (key: string) => Promise<{ key: string }> | undefined;
    };
    for (const key of keys) expect((await loadJob(key))?.key).toBe(key);
    for (const unknown of ["", "group-0", "group-9/job.1", "zzz", "group-3/job.1000"])
      expect(loadJob(unknown)).toBeUndefined();
  });
});
