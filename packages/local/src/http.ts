import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopbackUrl } from "@qjobs/runtime";

// What every server of the CLI on 127.0.0.1 shares: qjobs dev's API and the dashboard's page and proxy.

/**
 * Why a request might come from a web page or through a DNS-rebinding name, or undefined when it may be
 * served. Ports do not make a site (a page on localhost:3000 is same-site with localhost:8080), so the
 * Origin must be this server's own; scripts and the SDK send no Origin and keep working.
 */
export function crossSiteRefusal(headers: Record<string, string>): string | undefined {
  const host = headers.host ?? "";
  let hostUrl: URL | undefined;
  try {
    hostUrl = new URL(`http://${host}`);
  } catch {
    hostUrl = undefined;
  }
  if (!hostUrl || !isLoopbackUrl(hostUrl))
    return `Host ${JSON.stringify(host.slice(0, 100))} is not a loopback address (DNS rebinding?)`;
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${host}`)
    return `Origin ${JSON.stringify(origin.slice(0, 100))} is not this server's`;
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none")
    return `Sec-Fetch-Site ${JSON.stringify(site.slice(0, 20))}: a request from another site`;
  return undefined;
}

/**
 * A request's body, or undefined once it is larger than `limit` (by its Content-Length, or as it streams
 * in): the rest is then let through into nothing, never kept.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(request.headers["content-length"] ?? 0) > limit) {
    request.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      request.off("data", onData);
      request.resume();
      resolve(undefined);
    };
    request.on("data", onData);
    request.once("end", () => resolve(Buffer.concat(chunks)));
    request.once("error", reject);
  });
}

/** Whether a token given by a client is `secret`, compared in constant time so its bytes cannot be guessed one by one. */
export function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A request's or response's headers as one string each (lower-case names, repeated values joined). */
export function flatHeaders(message: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  return headers;
}

/**
 * Listens on 127.0.0.1 (or `host`); resolves to the port it got and a close that ends open connections too
 * (keep-alive clients would otherwise hold it open). What each service serves on it is its own.
 */
export async function listenLocally(
  server: Server,
  port: number,
  host = "127.0.0.1",
): Promise<{ port: number; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
