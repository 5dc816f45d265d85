import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DEV_CREDENTIALS, isLoopbackUrl } from "@qjobs/runtime";
import { DEFAULT_MAX_BODY_BYTES } from "./defaults.js";
import { flatHeaders } from "./deliver.js";
import type { Engine } from "./engine.js";
import { BadRequest, parsePublish } from "./message.js";
import { dlqView, messageView, queueView, scheduleView } from "./views.js";

interface Call {
  method: string;
  /** Path segments after /v2/, decoded. */
  segments: string[];
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
  /** The raw request target after `/v2/<verb>/`: a destination keeps its own query string. */
  rawTail: (prefix: string) => string;
  callerIp: string;
}

const safeDecode = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

type Answer = { status: number; body?: unknown };
const ok = (body?: unknown): Answer => ({ status: 200, body });
const notFound = (what: string): Answer => ({ status: 404, body: { error: `${what} not found` } });

function idsOf(query: URLSearchParams, name: string): string[] | undefined {
  const ids = query
    .getAll(name)
    .flatMap((value) => value.split(","))
    .filter(Boolean);
  return ids.length > 0 ? ids : undefined;
}

/** Pages newest-first lists: `cursor` is an offset, `count` at most 1,000 (QStash: 100 by default). */
function page<T>(items: T[], query: URLSearchParams): { items: T[]; cursor?: string } {
  const start = Number(query.get("cursor") ?? 0) || 0;
  const count = Math.min(1000, Number(query.get("count") ?? 100) || 100);
  const slice = items.slice(start, start + count);
  return start + count < items.length ? { items: slice, cursor: String(start + count) } : { items: slice };
}

function routes(engine: Engine, keys: { current: string; next: string }) {
  const publish = (call: Call, destination: string, queueName?: string): Answer => {
    const spec = parsePublish(destination, call.headers, call.body, call.callerIp);
    const result = engine.publish(queueName ? { ...spec, queueName } : spec);
    return result.deduplicated ? { status: 202, body: result } : ok({ ...result, url: spec.url });
  };

  return (call: Call): Answer => {
    const [verb, id, action] = call.segments;
    const { method } = call;
    switch (verb) {
      case "keys":
        if (method === "GET") return ok(keys);
        break;
      case "publish":
        if (method === "POST") return publish(call, call.rawTail("/v2/publish/"));
        break;
      case "enqueue":
        if (method === "POST" && id) {
          // The destination starts after the queue's segment, however the client encoded the name.
          const afterQueue = call.rawTail("/v2/enqueue/");
          return publish(call, afterQueue.slice(afterQueue.indexOf("/") + 1), id);
        }
        break;
      case "batch": {
        if (method !== "POST") break;
        let entries: unknown;
        try {
          entries = JSON.parse(call.body.toString("utf8"));
        } catch {
          throw new BadRequest("batch body must be a JSON array");
        }
        if (!Array.isArray(entries)) throw new BadRequest("batch body must be a JSON array");
        // Validate every entry before accepting any, so a bad batch publishes nothing.
        const specs = entries.map(
          (entry: { destination?: string; headers?: Record<string, string>; body?: string; queue?: string }, index) => {
            if (typeof entry?.destination !== "string") throw new BadRequest(`batch entry ${index} has no destination`);
            const headers = Object.fromEntries(
              Object.entries(entry.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
            );
            const spec = parsePublish(entry.destination, headers, Buffer.from(entry.body ?? "", "utf8"), call.callerIp);
            return entry.queue ? { ...spec, queueName: entry.queue } : spec;
          },
        );
        return ok(specs.map((spec) => ({ ...engine.publish(spec), url: spec.url })));
      }
      case "messages": {
        if (id && method === "GET") {
          const message = engine.messages.get(id);
          return message ? ok(messageView(message)) : notFound("message");
        }
        if (id && method === "DELETE") return engine.cancel(id) ? ok({ cancelled: 1 }) : notFound("message");
        if (!id && method === "DELETE") {
          const ids = idsOf(call.query, "messageIds") ?? [...engine.messages.keys()];
          return ok({ cancelled: ids.filter((messageId) => engine.cancel(messageId)).length });
        }
        break;
      }
      case "dlq": {
        if (id === "retry" && method === "POST") {
          const ids = action ? [action] : (idsOf(call.query, "dlqIds") ?? [...engine.dlq.keys()]);
          const responses = ids.map((dlqId) => engine.retryDlq(dlqId)).filter((response) => response !== undefined);
          if (action) return responses[0] ? ok(responses[0]) : notFound("dlq message");
          return ok({ responses });
        }
        if (id && method === "GET") {
          const entry = engine.dlq.get(id);
          return entry ? ok(dlqView(entry)) : notFound("dlq message");
        }
        if (id && method === "DELETE") return engine.dlq.delete(id) ? ok() : notFound("dlq message");
        if (!id && method === "GET") {
          const url = call.query.get("url");
          const status = call.query.get("responseStatus");
          const ids = idsOf(call.query, "dlqIds");
          const entries = [...engine.dlq.values()]
            .filter(
              (entry) =>
                (!ids || ids.includes(entry.dlqId)) &&
                (!url || entry.message.url === url) &&
                (!status || String(entry.response.status) === status),
            )
            .reverse();
          const { items, cursor } = page(entries, call.query);
          return ok({ messages: items.map(dlqView), ...(cursor ? { cursor } : {}) });
        }
        if (!id && method === "DELETE") {
          const ids = idsOf(call.query, "dlqIds") ?? [...engine.dlq.keys()];
          return ok({ deleted: ids.filter((dlqId) => engine.dlq.delete(dlqId)).length });
        }
        break;
      }
      case "events":
      case "logs": {
        if (method !== "GET") break;
        const messageId = call.query.get("messageId");
        const state = call.query.get("state");
        const events = engine.events
          .filter((event) => (!messageId || event.messageId === messageId) && (!state || event.state === state))
          .reverse();
        const { items, cursor } = page(events, call.query);
        return ok({ [verb]: items, ...(cursor ? { cursor } : {}) });
      }
      case "schedules": {
        if (!id && method === "GET") return ok([...engine.schedules.values()].map(scheduleView));
        if (method === "POST" && /^https?:\/\//i.test(call.rawTail("/v2/schedules/"))) {
          const cron = call.headers["upstash-cron"];
          if (!cron) throw new BadRequest("the Upstash-Cron header is required to create a schedule");
          const spec = parsePublish(call.rawTail("/v2/schedules/"), call.headers, call.body, call.callerIp);
          const schedule = engine.createSchedule(cron, spec, call.headers["upstash-schedule-id"]);
          return ok({ scheduleId: schedule.scheduleId });
        }
        if (id && !action && method === "GET") {
          const schedule = engine.schedules.get(id);
          return schedule ? ok(scheduleView(schedule)) : notFound("schedule");
        }
        if (id && !action && method === "DELETE") return engine.deleteSchedule(id) ? ok() : notFound("schedule");
        if (id && (action === "pause" || action === "resume") && (method === "PATCH" || method === "POST")) {
          return engine.pauseSchedule(id, action === "pause") ? ok() : notFound("schedule");
        }
        break;
      }
      case "queues": {
        const lag = (name: string) =>
          [...engine.messages.values()].filter((m) => m.queueName === name && m.state !== "ACTIVE").length;
        if (!id && method === "POST") {
          let body: { queueName?: unknown; parallelism?: unknown; paused?: unknown };
          try {
            body = JSON.parse(call.body.toString("utf8") || "{}");
          } catch {
            throw new BadRequest("queue body must be JSON");
          }
          if (typeof body.queueName !== "string" || body.queueName === "")
            throw new BadRequest("queueName is required");
          const parallelism = body.parallelism === undefined ? undefined : Number(body.parallelism);
          if (parallelism !== undefined && !(Number.isInteger(parallelism) && parallelism > 0))
            throw new BadRequest("parallelism must be a whole number > 0");
          engine.upsertQueue(body.queueName, {
            parallelism,
            paused: body.paused === undefined ? undefined : Boolean(body.paused),
          });
          return ok();
        }
        if (!id && method === "GET")
          return ok([...engine.queues.values()].map((queue) => queueView(queue, lag(queue.name))));
        const queue = id ? engine.queues.get(id) : undefined;
        if (!queue) return notFound("queue");
        if (!action && method === "GET") return ok(queueView(queue, lag(queue.name)));
        if (!action && method === "DELETE") return engine.queues.delete(queue.name) ? ok() : notFound("queue");
        if ((action === "pause" || action === "resume") && method === "POST") {
          engine.upsertQueue(queue.name, { paused: action === "pause" });
          return ok();
        }
        break;
      }
    }
    return { status: 404, body: { error: `no route for ${method} /v2/${call.segments.join("/")}` } };
  };
}

/**
 * Why a request might come from a web page or through a DNS-rebinding name, or undefined when it may be
 * served. Ports do not make a site (a page on localhost:3000 is same-site with localhost:8080), so the
 * Origin must be this server's own; scripts and the SDK send no Origin and keep working.
 */
function crossSiteRefusal(headers: Record<string, string>): string | undefined {
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
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
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

export interface DevServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the QStash REST API over the engine on 127.0.0.1, behind the development token. */
export async function startServer(
  engine: Engine,
  options: {
    port: number;
    host?: string;
    token?: string;
    keys?: { current: string; next: string };
    maxBodyBytes?: number;
  },
): Promise<DevServer> {
  const token = options.token ?? DEV_CREDENTIALS.token;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const route = routes(
    engine,
    options.keys ?? { current: DEV_CREDENTIALS.currentSigningKey, next: DEV_CREDENTIALS.nextSigningKey },
  );

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const target = request.url ?? "/";
    const url = new URL(target, "http://qstash.local");
    const headers = flatHeaders(request);
    const send = ({ status, body }: Answer) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      // A refusal may leave a body unread: close the connection rather than read it.
      const close = request.complete ? {} : { connection: "close" };
      response
        .writeHead(status, body === undefined ? close : { "content-type": "application/json", ...close })
        .end(text);
    };
    // Refusals come before reading a byte of the body.
    const crossSite = crossSiteRefusal(headers);
    if (crossSite) return send({ status: 403, body: { error: `Forbidden: ${crossSite}` } });
    const bearer = headers.authorization?.replace(/^Bearer\s+/i, "") ?? url.searchParams.get("qstash_token");
    if (bearer !== token)
      return send({
        status: 401,
        body: { error: "Unauthorized: pass the development token as Authorization: Bearer <token>" },
      });
    const body = await readBody(request, maxBodyBytes);
    if (!body)
      return send({
        status: 413,
        body: { error: `Payload Too Large: the body is over ${maxBodyBytes} bytes (--max-body-size)` },
      });
    if (!url.pathname.startsWith("/v2/"))
      return send({ status: 404, body: { error: `no route for ${request.method} ${url.pathname}` } });
    const call: Call = {
      method: request.method ?? "GET",
      segments: url.pathname.slice("/v2/".length).split("/").filter(Boolean).map(safeDecode),
      query: url.searchParams,
      headers,
      body,
      rawTail: (prefix) => target.slice(prefix.length),
      callerIp: request.socket.remoteAddress ?? "127.0.0.1",
    };
    try {
      send(route(call));
    } catch (error) {
      if (error instanceof BadRequest) return send({ status: 400, body: { error: error.message } });
      send({ status: 500, body: { error: (error as Error).message } });
    }
  };

  const server: Server = createServer((request, response) => void handle(request, response));
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        engine.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
