import type { IncomingMessage, ServerResponse } from "node:http";

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
 * The body is passed on byte for byte, as signature verification needs.
 */
export function toNodeHandler(
  handler: (request: Request) => Promise<Response>,
  options: { origin?: string } = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = new Headers();
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
      const origin = options.origin ?? `http://${req.headers.host ?? "localhost"}`;
      const method = req.method ?? "GET";
      const request = new Request(new URL(req.url ?? "/", origin), {
        method,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : Buffer.concat(chunks),
      });
      const response = await handler(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      console.error("[qjobs] The jobs route failed:", error);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end('{"error":{"code":"internal","message":"The jobs route failed"}}');
    }
  };
}
