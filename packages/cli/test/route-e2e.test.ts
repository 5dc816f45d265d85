import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { RegistryDispatch, RouteHandler } from "@qjobs/runtime";
import { createDeliveryRequest } from "@qjobs/runtime/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type CaptureServer, startCaptureServer } from "../../../testkit/capture-server.js";
import { signLikeQStash } from "../../../testkit/qstash-signature.js";
import { jobSource, runCli, tempProject } from "./support.js";

const signingKeys = { QSTASH_CURRENT_SIGNING_KEY: "sig_e2e_current", QSTASH_NEXT_SIGNING_KEY: "sig_e2e_next" };
const jobsUrl = "http://127.0.0.1:3000/api/jobs";

let qstash: CaptureServer;
let projects = 0;

/**
 * A new project with three jobs, generated and its route imported: each job module records in its own
 * global (fresh for every project) that it was loaded, and each handler that it ran.
 */
async function generatedRoute() {
  const global = `__qjobsE2E${projects++}`;
  const jobFile = (name: string, key: string, payload: string) => `import { createJob } from "@qjobs/runtime";
const state = ((globalThis as any).${global} ??= { loaded: [], ran: [] });
state.loaded.push(${JSON.stringify(name)});
export const ${name} = createJob(${JSON.stringify(key)}, async (payload: ${payload}, ctx) => {
  state.ran.push({ key: ctx.key, payload, retried: ctx.retried });
});
`;
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
  const { POST } = (await import(pathToFileURL(join(dir, "src/app/api/jobs/route.ts")).href)) as { POST: RouteHandler };
  const { dispatch } = (await import(pathToFileURL(join(dir, "src/qjobs.gen.ts")).href)) as RegistryDispatch;
  const state = () =>
    ((globalThis as Record<string, unknown>)[global] as { loaded: string[]; ran: unknown[] } | undefined) ?? {
      loaded: [],
      ran: [],
    };
  /** Dispatches with the project's registry, then turns the publish into the delivery QStash would make of it. */
  const deliver = (...args: Parameters<RegistryDispatch["dispatch"]>) => dispatchAndDeliver(() => dispatch(...args));
  return { POST, state, deliver };
}

beforeAll(async () => {
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

/** Dispatches through the real Client, then turns what it published into the delivery QStash would make of it. */
async function dispatchAndDeliver(publish: () => Promise<unknown>): Promise<Request> {
  const index = qstash.requests.length;
  await publish();
  const published = qstash.requests[index];
  if (!published) throw new Error("nothing was published");
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
    const { POST, state, deliver } = await generatedRoute();
    expect(state().loaded).toEqual([]);
    const response = await POST(await deliver("alpha", { n: 41 }));
    expect(response.status).toBe(200);
    expect(state().loaded).toEqual(["alpha"]);
    expect(state().ran).toEqual([{ key: "alpha", payload: { n: 41 }, retried: 0 }]);
  });

  it("routes a key with a slash, and a job without payload", async () => {
    const { POST, state, deliver } = await generatedRoute();
    expect((await POST(await deliver("team/beta", { s: "hi" }))).status).toBe(200);
    expect((await POST(await deliver("gamma"))).status).toBe(200);
    expect(state().loaded.sort()).toEqual(["beta", "gamma"]);
    expect(state().ran).toContainEqual({ key: "team/beta", payload: { s: "hi" }, retried: 0 });
  });

  it("refuses the same delivery with a tampered body, running nothing", async () => {
    const { POST, state, deliver } = await generatedRoute();
    const delivery = await deliver("alpha", { n: 1 });
    const tampered = new Request(delivery.url, { method: "POST", headers: delivery.headers, body: '{"n":1000}' });
    expect((await POST(tampered)).status).toBe(401);
    expect(state().ran).toEqual([]);
  });
});

describe("a large registry", () => {
  it("finds every one of 130 jobs across its chunks, and no unknown key", async () => {
    const keys = Array.from({ length: 130 }, (_, i) => `group-${i % 7}/job.${i}`);
    const files = Object.fromEntries(keys.map((key, i) => [`src/jobs/j${i}.job.ts`, jobSource(`j${i}`, key)]));
    const dir = await tempProject({ ...files, "src/app/.keep": "" }, { inRepo: true });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    const { POST } = (await import(pathToFileURL(join(dir, "src/app/api/jobs/route.ts")).href)) as {
      POST: RouteHandler;
    };
    const deliver = async (key: string) =>
      POST(await createDeliveryRequest({ key, signingKey: signingKeys.QSTASH_CURRENT_SIGNING_KEY }));
    for (const key of keys) expect((await deliver(key)).status, key).toBe(200);
    for (const unknown of ["", "group-0", "group-9/job.1", "zzz", "group-3/job.1000"])
      expect((await deliver(unknown)).status, unknown).toBe(404);
  });
});
