import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { Client, Receiver } from "@upstash/qstash";
import { afterEach } from "vitest";
import { type Destination, type Responder, startDestination } from "../../../testkit/destination.js";
import { deliverHttp } from "../../local/src/qstash/deliver.js";
import { Engine, type EngineOptions } from "../../local/src/qstash/gateway.js";
import { type DevServer, startServer } from "../../local/src/qstash/server.js";
import { type Clock, realClock } from "../../local/src/time.js";

export const receiver = new Receiver({
  currentSigningKey: DEV_CREDENTIALS.currentSigningKey,
  nextSigningKey: DEV_CREDENTIALS.nextSigningKey,
  devMode: false,
});

export interface Local {
  engine: Engine;
  server: DevServer;
  client: Client;
  destination: Destination;
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

/** A `qjobs dev` engine and server, the real SDK Client pointed at it, and a destination that records deliveries. */
export async function startLocal(
  options: {
    clock?: Clock;
    respond?: Responder;
    engine?: Partial<EngineOptions>;
    server?: { maxBodyBytes?: number };
  } = {},
): Promise<Local> {
  const engine = new Engine({
    clock: options.clock ?? realClock,
    deliver: deliverHttp,
    retryScale: 0.0001,
    ...options.engine,
  });
  const server = await startServer(engine, { port: 0, ...options.server });
  const destination = await startDestination(options.respond);
  open.push(
    () => server.close(),
    () => destination.close(),
  );
  const client = localClient(server.url);
  return { engine, server, client, destination };
}

/** The real SDK Client pointed at a local server, with the development token and no retries of its own. */
export function localClient(baseUrl: string): Client {
  return new Client({ baseUrl, token: DEV_CREDENTIALS.token, devMode: false, enableTelemetry: false, retry: false });
}

/** Verifies a delivery's signature with the real Receiver, against the exact URL it was sent to. */
export async function verified(
  destination: Destination,
  delivery: { target: string; headers: Record<string, unknown>; body: Buffer },
): Promise<boolean> {
  return receiver
    .verify({
      signature: String(delivery.headers["upstash-signature"]),
      body: delivery.body.toString("utf8"),
      url: `${destination.url}${delivery.target}`,
    })
    .then(
      () => true,
      () => false,
    );
}
