import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Delivery {
  method: string;
  /** Path and query as received. */
  target: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

/** Answers a delivery: set the status, headers and body on `response`, or leave it hanging, or destroy the socket. */
export type Responder = (delivery: Delivery, response: ServerResponse, index: number) => void;

export interface Destination {
  url: string;
  deliveries: Delivery[];
  /** Deliveries being answered right now, and the most at once. */
  concurrency: { now: number; max: number };
  respond: Responder;
  /** Resolves once `count` deliveries arrived; rejects after `timeoutMs`, so no test waits forever. */
  waitFor(count: number, timeoutMs?: number): Promise<Delivery[]>;
  close(): Promise<void>;
}

export const answer200: Responder = (_delivery, response) =>
  response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');

/** A loopback HTTP server standing in for the user's app: it records what `qjobs dev` delivers. */
export async function startDestination(respond: Responder = answer200): Promise<Destination> {
  const waiters: { count: number; resolve: () => void }[] = [];
  const destination: Destination = {
    url: "",
    deliveries: [],
    concurrency: { now: 0, max: 0 },
    respond,
    waitFor(count, timeoutMs = 10_000) {
      if (destination.deliveries.length >= count) return Promise.resolve(destination.deliveries);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`only ${destination.deliveries.length} of ${count} deliveries arrived in ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(destination.deliveries);
          },
        });
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const delivery: Delivery = {
      method: request.method ?? "",
      target: request.url ?? "",
      headers: request.headers,
      body: Buffer.concat(chunks),
      at: Date.now(),
    };
    const index = destination.deliveries.push(delivery) - 1;
    destination.concurrency.now++;
    destination.concurrency.max = Math.max(destination.concurrency.max, destination.concurrency.now);
    const done = () => destination.concurrency.now--;
    response.once("close", done);
    for (const waiter of waiters.filter((w) => destination.deliveries.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    destination.respond(delivery, response, index);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  destination.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return destination;
}
