// watchRun (@qjobs/runtime/client, issue 19): a browser follows runs through the real route's GET, served over
// HTTP on 127.0.0.1 with the run store in the local Redis stand-in.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { REDIS_TOKEN, type StandIn, startStandIn } from "../../local/test/redis-support.js";
import { HIDDEN_POLL_MS, MAX_BACKOFF_MS, POLL_MS, type RunWatchState, watchRun } from "../src/client.js";
import { createJob, createRouteHandler, type JobContext, type RunHandle } from "../src/index.js";
import { toNodeHandler } from "../src/node.js";
import { mintRunToken, readRunTokenKeys } from "../src/runs/token.js";
import { createDeliveryRequest } from "../src/testing.js";

const routeUrl = "https://app.example.com/api/jobs";
const signing = { QSTASH_CURRENT_SIGNING_KEY: "sig_watch_current", QSTASH_NEXT_SIGNING_KEY: "sig_watch_next" };

/** The steps of the job: each `ctx.progress` waits for the test to let it go on. */
const gates: (() => void)[] = [];
const gate = () => new Promise<void>((resolve) => gates.push(resolve));
const jobs = {
  "reports/build": createJob("reports/build", async (_payload: undefined, ctx: JobContext) => {
    for (let step = 1; step <= 3; step++) {
      ctx.progress({ step });
      await gate();
    }
    return { pages: 3 };
  }),
};
const loaders = { "reports/build": async () => jobs["reports/build"] };

let redis: StandIn;
let server: Server;
let origin: string;
/** The GETs in flight, by run id and kind. */
let open: { id: string; stream: boolean }[] = [];
let gets = 0;
const stops: (() => void)[] = [];
let env: Record<string, string>;
const route = createRouteHandler(loaders, { env: () => env, logger: { error: () => {}, warn: () => {} } });

beforeEach(async () => {
  open = [];
  gets = 0;
  redis = await startStandIn({ start: Date.now() });
  env = { ...signing, QJOBS_URL: routeUrl, QJOBS_REDIS_REST_URL: redis.url, QJOBS_REDIS_REST_TOKEN: REDIS_TOKEN };
  const node = toNodeHandler(route);
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const entry = { id: url.searchParams.get("run") ?? "", stream: req.headers.accept === "text/event-stream" };
    gets++;
    open.push(entry);
    res.once("close", () => open.splice(open.indexOf(entry), 1));
    void node(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const release of gates.splice(0)) release();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const handleFor = async (id: string, seconds?: number, now?: number): Promise<RunHandle<"reports/build">> => {
  const keys = await readRunTokenKeys(signing, new URL(routeUrl));
  const token = await mintRunToken(keys as NonNullable<typeof keys>, routeUrl, id, seconds, now);
  return { id, key: "reports/build", messageId: id, token, route: "/api/jobs" };
};
const watch = (handle: RunHandle<"reports/build">) => {
  const states: RunWatchState[] = [];
  stops.push(watchRun(handle, (state) => states.push(state), { origin }));
  return states;
};
const deliver = async (id: string) =>
  route(
    await createDeliveryRequest({
      routeUrl,
      key: "reports/build",
      payload: undefined,
      signingKey: signing.QSTASH_CURRENT_SIGNING_KEY,
      messageId: id,
    }),
  );

describe("watchRun follows a run through the route", () => {
  it("from queued through each progress to its result, then stops", async () => {
    const states = watch(await handleFor("msg_follow"));
    await expect.poll(() => states.at(-1)?.run?.status).toBe("queued");
    const delivered = deliver("msg_follow");
    for (let step = 1; step <= 3; step++) {
      await expect.poll(() => states.at(-1)?.run?.progress).toEqual({ step });
      await expect.poll(() => gates.length).toBe(step);
      gates[step - 1]?.();
    }
    await delivered;
    await expect
      .poll(() => states.at(-1))
      .toMatchObject({ run: { status: "succeeded", result: { pages: 3 } }, stopped: true });
    await expect.poll(() => open.length).toBe(0);
  });

  it("one connection per run, shared by every watcher of it", async () => {
    const handle = await handleFor("msg_shared");
    const first = watch(handle);
    const second = watch({ ...handle });
    await expect.poll(() => first.length > 0 && second.length > 0).toBe(true);
    expect(open.filter((entry) => entry.id === "msg_shared")).toHaveLength(1);
    expect(gets).toBe(1);
  });

  it("at most two streams per page; the other runs poll", async () => {
    for (const id of ["msg_a", "msg_b", "msg_c", "msg_d"]) watch(await handleFor(id));
    await expect.poll(() => open.filter((entry) => entry.stream).length).toBe(2);
    // The runs without a stream are read by polling: each gets answered at least twice.
    const polled = new Set<string>();
    await expect
      .poll(() => {
        for (const entry of open) if (!entry.stream) polled.add(entry.id);
        return gets >= 6 && polled.size >= 1;
      })
      .toBe(true);
    expect(open.filter((entry) => entry.stream).length).toBeLessThanOrEqual(2);
  });

  it("attack: an expired token stops the browser at once with error.code token_expired", async () => {
    const states = watch(await handleFor("msg_old", 60, Date.now() - 120_000));
    await expect
      .poll(() => states.at(-1))
      .toMatchObject({ error: { code: "token_expired", status: 401 }, stopped: true });
    expect(gets).toBe(1);
  });

  it("attack: a forged token stops the browser with error.code unauthorized", async () => {
    const handle = await handleFor("msg_forged");
    const states = watch({ ...handle, token: `${handle.token?.slice(0, -2)}AA` });
    await expect.poll(() => states.at(-1)).toMatchObject({ error: { code: "unauthorized" }, stopped: true });
    expect(gets).toBe(1);
  });
});

describe("a route that is down or failing", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("polls every 5 s while the tab is hidden, every second while it shows", async () => {
    vi.useFakeTimers();
    const page = { visibilityState: "hidden" };
    vi.stubGlobal("document", page);
    const calls: number[] = [];
    const fetch = async () => {
      calls.push(Date.now());
      return Response.json({ id: "msg_hidden", status: "running", attempt: 1 });
    };
    stops.push(watchRun(await handleFor("msg_hidden"), () => {}, { origin, fetch: fetch as typeof globalThis.fetch }));
    await vi.advanceTimersByTimeAsync(3 * HIDDEN_POLL_MS);
    const hiddenGaps = calls.slice(1).map((at, index) => at - (calls[index] as number));
    expect(hiddenGaps.length).toBeGreaterThanOrEqual(2);
    for (const gap of hiddenGaps) expect(gap).toBe(HIDDEN_POLL_MS);
    page.visibilityState = "visible";
    const before = calls.length;
    await vi.advanceTimersByTimeAsync(HIDDEN_POLL_MS + 3 * POLL_MS);
    expect(calls.length - before).toBeGreaterThanOrEqual(3);
  });

  it("keeps the last run, reports the error, and backs off instead of flooding", async () => {
    vi.useFakeTimers();
    const calls: number[] = [];
    let down = false;
    const fetch = async () => {
      calls.push(Date.now());
      if (down) return Response.json({ error: { code: "store_unavailable", message: "down" } }, { status: 503 });
      return Response.json({ id: "msg_down", status: "running", attempt: 1 }, { headers: { etag: '"1"' } });
    };
    const states: RunWatchState[] = [];
    const handle = await handleFor("msg_down");
    stops.push(watchRun(handle, (state) => states.push(state), { origin, fetch: fetch as typeof globalThis.fetch }));
    await vi.waitFor(() => expect(states.at(-1)?.run?.status).toBe("running"));
    down = true;
    // Each answer is JSON (no stream), so the next read waits: 1 s while all is well, then doubling after errors.
    for (let i = 0; i < 6; i++) await vi.advanceTimersByTimeAsync(MAX_BACKOFF_MS);
    expect(states.at(-1)).toMatchObject({ run: { status: "running" }, error: { code: "unavailable", status: 503 } });
    const gaps = calls.slice(1).map((at, index) => at - (calls[index] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(POLL_MS);
    expect(gaps[0]).toBeLessThan(2 * POLL_MS);
    for (let i = 2; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan((gaps[i - 1] as number) - 1);
    expect(gaps.at(-1)).toBeGreaterThanOrEqual(8 * POLL_MS);
    // Three minutes down: about ten reads (1, 2, 4, 8, 16, then every 30 s), where a steady poll would make 180.
    expect(calls.length).toBeLessThan(12);
  });
});
