// useRun's tests, run once per React major (issue 19): packages/runtime/test/use-run.test.ts on React 19, and
// fixtures/react18/test/use-run.test.ts on React 18 (its own react and react-dom, so react-dom 18 renders with
// React 18). The caller runs under happy-dom and hands in its React.
import { afterEach, describe, expect, it } from "vitest";
import type { RunHandle } from "../packages/runtime/src/index.js";
import { createUseRun, type ReactHooks } from "../packages/runtime/src/run-hook.js";

/** The parts of React and react-dom the suite uses, typed loosely: the two majors' types differ. */
export interface ReactUnderTest {
  version: string;
  react: ReactHooks & { createElement(type: unknown, props?: unknown, ...children: unknown[]): unknown };
  client: {
    createRoot(container: Element): { render(element: unknown): void; unmount(): void };
    hydrateRoot(
      container: Element,
      element: unknown,
      options?: { onRecoverableError?: (error: unknown) => void },
    ): {
      unmount(): void;
    };
  };
  server: { renderToString(element: unknown): string };
}

interface RunBody {
  id: string;
  status: string;
  attempt: number;
  progress?: unknown;
  result?: unknown;
  error?: { name?: string; message: string };
}

/**
 * A stand-in for the jobs route's GET (the route itself is tested against the real store elsewhere): streams
 * the current run and each one set after it, as server-sent events, and counts the connections.
 */
function routeStandIn(token: string) {
  let current: RunBody = { id: "msg_hook", status: "queued", attempt: 0 };
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const encoder = new TextEncoder();
  const ended = () => ["succeeded", "failed", "cancelled"].includes(current.status);
  const stats = { requests: 0, open: 0, urls: [] as string[] };
  const fetch = async (url: string, init: RequestInit = {}) => {
    stats.requests++;
    stats.urls.push(url);
    const headers = new Headers(init.headers);
    if (headers.get("authorization") !== `Bearer ${token}`) {
      return new Response(JSON.stringify({ error: { code: "unauthorized", message: "no" } }), { status: 401 });
    }
    let mine: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        mine = controller;
        stats.open++;
        streams.add(controller);
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(current)}\n\n`));
        if (ended()) close(controller);
      },
      cancel() {
        if (mine && streams.delete(mine)) stats.open--;
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  };
  function close(controller: ReadableStreamDefaultController<Uint8Array>) {
    if (streams.delete(controller)) stats.open--;
    controller.close();
  }
  const set = (run: RunBody) => {
    current = run;
    for (const controller of [...streams]) {
      controller.enqueue(encoder.encode(`data: ${JSON.stringify(run)}\n\n`));
      if (ended()) close(controller);
    }
  };
  return { fetch: fetch as typeof globalThis.fetch, set, stats };
}

export function describeUseRun(under: ReactUnderTest): void {
  const { react, client, server } = under;
  const useRun = createUseRun(react);
  const h = react.createElement;
  const mounted: { unmount(): void }[] = [];
  afterEach(() => {
    for (const root of mounted.splice(0)) root.unmount();
    document.body.innerHTML = "";
  });

  const handle: RunHandle<string> = {
    id: "msg_hook",
    key: "reports/build",
    messageId: "msg_hook",
    token: "v1.token",
    route: "/api/jobs",
  };

  /** What a page shows of a run: its status, progress, result or error. */
  function View(props: { handle: RunHandle<string> | undefined; fetch: typeof fetch; label?: string }) {
    const { status, progress, result, error, done } = useRun(props.handle, {
      origin: "http://app.test",
      fetch: props.fetch,
    });
    const text = [
      props.label ?? "run",
      status ?? "unknown",
      progress === undefined ? "" : `progress ${JSON.stringify(progress)}`,
      result === undefined ? "" : `result ${JSON.stringify(result)}`,
      error ? `error ${"code" in error ? `${error.code}: ` : ""}${error.message}` : "",
      done ? "done" : "",
    ]
      .filter(Boolean)
      .join(" | ");
    return h("p", null, text);
  }

  const mount = (element: unknown) => {
    const container = document.createElement("div");
    document.body.append(container);
    const root = client.createRoot(container);
    root.render(element);
    mounted.push(root);
    return container;
  };

  describe(`useRun on React ${under.version}`, () => {
    it("renders the same on the server and the client: hydration finds no mismatch", async () => {
      const route = routeStandIn("v1.token");
      const element = h(View, { handle, fetch: route.fetch });
      const html = server.renderToString(element);
      expect(html).toContain("run | unknown");
      const container = document.createElement("div");
      container.innerHTML = html;
      document.body.append(container);
      const errors: unknown[] = [];
      mounted.push(client.hydrateRoot(container, element, { onRecoverableError: (error) => errors.push(error) }));
      await expect.poll(() => container.textContent).toBe("run | queued");
      expect(errors).toEqual([]);
    });

    it("shows each progress, then the result, without a reload, and stops at the end", async () => {
      const route = routeStandIn("v1.token");
      const container = mount(h(View, { handle, fetch: route.fetch }));
      await expect.poll(() => container.textContent).toBe("run | queued");
      for (const step of [1, 2, 3]) {
        route.set({ id: "msg_hook", status: "running", attempt: 1, progress: { step } });
        await expect.poll(() => container.textContent).toBe(`run | running | progress {"step":${step}}`);
      }
      route.set({ id: "msg_hook", status: "succeeded", attempt: 1, progress: { step: 3 }, result: { pages: 3 } });
      await expect
        .poll(() => container.textContent)
        .toBe('run | succeeded | progress {"step":3} | result {"pages":3} | done');
      await expect.poll(() => route.stats.open).toBe(0);
    });

    it("shows a failed run's exposed message", async () => {
      const route = routeStandIn("v1.token");
      const container = mount(h(View, { handle, fetch: route.fetch }));
      route.set({
        id: "msg_hook",
        status: "failed",
        attempt: 1,
        error: { name: "NonRetryableError", message: "card declined" },
      });
      await expect.poll(() => container.textContent).toBe("run | failed | error card declined | done");
    });

    it("accepts undefined until a handle exists, and asks nothing meanwhile", async () => {
      const route = routeStandIn("v1.token");
      const container = mount(h(View, { handle: undefined, fetch: route.fetch }));
      await expect.poll(() => container.textContent).toBe("run | unknown");
      expect(route.stats.requests).toBe(0);
    });

    it("components following one run share one connection", async () => {
      const route = routeStandIn("v1.token");
      const container = mount(
        h(
          "div",
          null,
          h(View, { handle, fetch: route.fetch, label: "a" }),
          h(View, { handle: { ...handle }, fetch: route.fetch, label: "b" }),
        ),
      );
      await expect.poll(() => container.textContent).toBe("a | queuedb | queued");
      expect(route.stats.requests).toBe(1);
    });

    it("attack: a refused token shows error.code unauthorized and stops asking", async () => {
      const route = routeStandIn("another token");
      const container = mount(h(View, { handle, fetch: route.fetch }));
      await expect.poll(() => container.textContent).toBe("run | unknown | error unauthorized: no");
      expect(route.stats.requests).toBe(1);
      // It asked the handle's route for the handle's run, with the token in a header, never in the URL.
      expect(route.stats.urls).toEqual(["http://app.test/api/jobs?run=msg_hook"]);
    });
  });
}
