import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The request body as a web stream that reads only as fast as the handler asks. Cancelling it (the route
 * does past its body limit) discards the rest as it arrives instead of keeping it. Not `Readable.toWeb`:
 * its cancel destroys the socket, so the 413 would never reach the sender.
 */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => controller.close());
      req.once("error", (error) => controller.error(error));
    },
    pull() {
      req.resume();
    },
    cancel() {
      discard(req);
    },
  });
}

/** Lets the rest of a body flow into nothing, so the connection can be answered and closed. */
function discard(req: IncomingMessage): void {
  req.removeAllListeners("data");
  req.resume();
}

/**
 * Mounts a fetch-style handler (the generated route's `POST`) on a plain `node:http` server,
 * Express or anything else with Node's (req, res):
 *
 * ```ts
 * import { createServer } from "node:http";
 * import { toNodeHandler } from "@qjobs/runtime/node";
 * import { POST } from "./jobs/route.js";
 * createServer(toNodeHandler(POST)).listen(3000);
 * ```
 * The body is passed on byte for byte, as signature verification needs, and streamed: the handler
 * decides how much of it to read (the route refuses a body over its limit without buffering it).
 */
export function toNodeHandler(
  handler: (request: Request) => Promise<Response>,
  options: { origin?: string } = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
      // The Host header only builds this Request's URL; the route never trusts it (it binds to QJOBS_URL).
      const origin = options.origin ?? `http://${req.headers.host ?? "localhost"}`;
      const method = req.method ?? "GET";
      const hasBody = method !== "GET" && method !== "HEAD";
      // A browser that leaves ends a run's stream (GET with Accept: text/event-stream) on the route's side too.
      const gone = new AbortController();
      res.once("close", () => gone.abort());
      const request = new Request(new URL(req.url ?? "/", origin), {
        method,
        headers,
        signal: gone.signal,
        body: hasBody ? bodyStream(req) : undefined,
        // Node's fetch needs this for a streamed request body.
        ...(hasBody ? { duplex: "half" } : {}),
      } as RequestInit);
      const response = await handler(request);
      const unread = !req.complete;
      if (unread) discard(req);
      res.writeHead(response.status, {
        ...Object.fromEntries(response.headers),
        ...(unread ? { connection: "close" } : {}),
      });
      // Written as it comes: a run's stream sends each change when it happens, not all at its end.
      const reader = response.body?.getReader();
      gone.signal.addEventListener("abort", () => void reader?.cancel().catch(() => {}));
      for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read()) res.write(chunk.value);
      res.end();
    } catch (error) {
      console.error("[qjobs] The jobs route failed:", error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json", connection: "close" });
      res.end('{"error":{"code":"internal","message":"The jobs route failed"}}');
    }
  };
}
