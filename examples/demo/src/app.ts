import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { toNodeHandler } from "@qjobs/runtime/node";
import { POST } from "./route.js";

/** The app: a plain Node server that mounts the generated jobs route at /api/jobs. */
export async function startApp(): Promise<{ url: string; server: Server }> {
  const route = toNodeHandler(POST);
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/api/jobs")) return void route(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
