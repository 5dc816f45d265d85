import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import type { PageHandler } from "../dashboard/server.js";
import { crossSiteRefusal, flatHeaders, readBody } from "../http.js";
import { parseDuration } from "../time.js";
import { DEFAULT_MAX_BODY_BYTES, MAX_BATCH_MESSAGES } from "./defaults.js";
import { type Engine, LimitReached, NotFound } from "./engine.js";
import { parseQuery } from "./filters.js";
import { BadRequest, parsePublish } from "./message.js";
import { dlqView, eventView, groupView, messageView, queueView, scheduleView } from "./views.js";

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

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
const ok = (body?: unknown): Answer => ({ status: 200, body });
const notFound = (what: string): Answer => ({ status: 404, body: { error: `${what} not found` } });

/** A JSON body, or a 400 saying what it should have been. */
function jsonBody<T>(call: Call, what: string): T {
  try {
    return JSON.parse(call.body.toString("utf8") || "{}") as T;
  } catch {
    throw new BadRequest(`${what} must be JSON`);
  }
}

const isUrl = (destination: string) => /^https?:\/\//i.test(destination);

/** A URL group's name from a request path: decoded, without the query string the SDK may add. */
const groupName = (raw: string) => safeDecode(raw.split("?")[0] as string);

/** QStash APIs this server does not implement: 501 naming them (an unknown path is a 404, as QStash answers). */
const NOT_IMPLEMENTED: Record<string, string> = {
  workflows: "Upstash Workflow runs",
  notify: "Upstash Workflow notify",
  waiters: "Upstash Workflow waiters",
  llm: "LLM calls",
  chat: "LLM calls",
};

/** What the engine knows but the API cannot do here: answered 501, naming it. */
const notImplemented = (what: string): Answer => ({
  status: 501,
  body: { error: `qjobs dev does not implement ${what}; see the README for what it does` },
});

function endpointsOf(call: Call): { name?: string; url: string }[] {
  const { endpoints } = jsonBody<{ endpoints?: unknown }>(call, "the endpoints body");
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw new BadRequest("endpoints must be a non-empty list");
  return endpoints.map((endpoint: { name?: unknown; url?: unknown }, index) => {
    if (endpoint.url !== undefined && (typeof endpoint.url !== "string" || !isUrl(endpoint.url))) {
      throw new BadRequest(`endpoint ${index} needs an http(s) url`);
    }
    if (endpoint.name !== undefined && typeof endpoint.name !== "string")
      throw new BadRequest(`endpoint ${index}: name must be a string`);
    return { ...(endpoint.name ? { name: endpoint.name as string } : {}), url: endpoint.url as string };
  });
}

function number(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new BadRequest(`${name} must be a whole number, got "${value}"`);
  return Number(value);
}

function routes(engine: Engine, keys: { current: string; next: string }) {
  /** One publish: to a URL, or fanned out to every endpoint of a URL group. */
  const publishTo = (
    call: Call,
    destination: string,
    headers: Record<string, string>,
    body: Buffer,
    queueName?: string,
  ) => {
    if (isUrl(destination)) {
      const spec = parsePublish(destination, headers, body, call.callerIp);
      engine.ensureRoom(1);
      const result = engine.publish(queueName ? { ...spec, queueName } : spec);
      return { result: { ...result, url: spec.url }, group: false };
    }
    // A name is a URL group, as QStash reads it; something with a slash is a URL without its scheme.
    if (!destination || (destination.split("?")[0] as string).includes("/"))
      parsePublish(destination, headers, body, call.callerIp);
    // The spec of a group's messages is checked against a placeholder URL.
    const spec = parsePublish("http://url-group.invalid/", headers, body, call.callerIp);
    engine.ensureRoom(engine.groupSize(groupName(destination)));
    const results = engine.publishToGroup(groupName(destination), queueName ? { ...spec, queueName } : spec);
    return { result: results, group: true };
  };
  const publish = (call: Call, destination: string, queueName?: string): Answer => {
    const { result, group } = publishTo(call, destination, call.headers, call.body, queueName);
    if (!group && (result as { deduplicated?: boolean }).deduplicated) return { status: 202, body: result };
    return ok(result);
  };

  return (call: Call): Answer => {
    const [verb, id, action] = call.segments;
    const { method, query } = call;
    const route = `${method} /v2/${call.segments.join("/")}`;
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
        const entries = jsonBody<unknown>(call, "the batch body");
        if (!Array.isArray(entries)) throw new BadRequest("batch body must be a JSON array");
        if (entries.length > MAX_BATCH_MESSAGES)
          throw new BadRequest(
            `batch has ${entries.length} messages: qjobs dev takes at most ${MAX_BATCH_MESSAGES} in one request; split it`,
          );
        // Validate every entry before accepting any, so a bad batch publishes nothing.
        const checked = entries.map(
          (entry: { destination?: string; headers?: Record<string, string>; body?: string; queue?: string }, index) => {
            if (typeof entry?.destination !== "string") throw new BadRequest(`batch entry ${index} has no destination`);
            const headers = Object.fromEntries(
              Object.entries(entry.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
            );
            const body = Buffer.from(entry.body ?? "", "utf8");
            parsePublish(
              isUrl(entry.destination) ? entry.destination : "http://url-group.invalid/",
              headers,
              body,
              call.callerIp,
            );
            if (!isUrl(entry.destination) && !engine.getGroup(groupName(entry.destination))) {
              throw new BadRequest(`batch entry ${index}: url group "${entry.destination}" not found`);
            }
            return { destination: entry.destination, headers, body, queue: entry.queue };
          },
        );
        // All or nothing: a batch that would pass the live-message cap publishes none of its messages.
        engine.ensureRoom(
          checked.reduce(
            (sum, entry) => sum + (isUrl(entry.destination) ? 1 : engine.groupSize(groupName(entry.destination))),
            0,
          ),
        );
        return ok(
          checked.map((entry) => publishTo(call, entry.destination, entry.headers, entry.body, entry.queue).result),
        );
      }
      case "messages": {
        if (id && method === "GET") {
          const message = engine.getMessage(id);
          return message ? ok(messageView(message)) : notFound("message");
        }
        if (id && method === "DELETE") return engine.cancel(id) ? ok({ cancelled: 1 }) : notFound("message");
        if (!id && method === "DELETE") {
          const { filter } = parseQuery(query, "cancel", route);
          return ok({ cancelled: engine.cancelMatching(filter) });
        }
        break;
      }
      case "dlq": {
        if (id === "retry" && method === "POST") {
          if (action) {
            const response = engine.retryDlq(action);
            return response ? ok(response) : notFound("dlq message");
          }
          const { filter, count, cursor } = parseQuery(query, "dlq-action", route);
          return ok(engine.retryDlqMatching(filter, count, cursor));
        }
        if (id && method === "GET") {
          const entry = engine.getDlq(id);
          return entry ? ok(dlqView(entry)) : notFound("dlq message");
        }
        if (id && method === "DELETE") return engine.deleteDlq(id) ? ok() : notFound("dlq message");
        if (!id && method === "GET") {
          const { filter, count, cursor } = parseQuery(query, "dlq", route);
          const { items, cursor: next } = engine.listDlq(filter, count, cursor);
          return ok({ messages: items.map(dlqView), ...(next ? { cursor: next } : {}) });
        }
        if (!id && method === "DELETE") {
          const { filter, count, cursor } = parseQuery(query, "dlq-action", route);
          return ok(engine.deleteDlqMatching(filter, count, cursor));
        }
        break;
      }
      case "events":
      case "logs": {
        if (method !== "GET" || id) break;
        const { filter, count, cursor } = parseQuery(query, "events", route);
        const { items, cursor: next } = engine.listEvents(filter, count, cursor);
        return ok({ [verb]: items.map(eventView), ...(next ? { cursor: next } : {}) });
      }
      case "schedules": {
        if (!id && method === "GET") return ok(engine.listSchedules().map(scheduleView));
        if (method === "POST" && call.headers["upstash-cron"] !== undefined) {
          const destination = call.rawTail("/v2/schedules/");
          if (!isUrl(destination) && !destination.split("?")[0]?.includes("/")) {
            return notImplemented("schedules that publish to a URL group");
          }
          const cron = call.headers["upstash-cron"];
          if (!cron) throw new BadRequest("the Upstash-Cron header is required to create a schedule");
          const spec = parsePublish(destination, call.headers, call.body, call.callerIp);
          const schedule = engine.createSchedule(cron, spec, call.headers["upstash-schedule-id"]);
          return ok({ scheduleId: schedule.scheduleId });
        }
        if (id && !action && method === "GET") {
          const schedule = engine.getSchedule(id);
          return schedule ? ok(scheduleView(schedule)) : notFound("schedule");
        }
        if (id && !action && method === "DELETE") return engine.deleteSchedule(id) ? ok() : notFound("schedule");
        // qjobs dev's own: run a schedule once, now.
        if (id && action === "trigger" && method === "POST") {
          const triggered = engine.triggerSchedule(id);
          return triggered ? ok(triggered) : notFound("schedule");
        }
        if (id && (action === "pause" || action === "resume") && (method === "PATCH" || method === "POST")) {
          return engine.pauseSchedule(id, action === "pause") ? ok() : notFound("schedule");
        }
        break;
      }
      case "queues": {
        if (!id && method === "POST") {
          const body = jsonBody<{ queueName?: unknown; parallelism?: unknown; paused?: unknown }>(call, "queue body");
          if (typeof body.queueName !== "string" || body.queueName === "")
            throw new BadRequest("queueName is required");
          const parallelism = body.parallelism === undefined ? undefined : Number(body.parallelism);
          if (parallelism !== undefined && !(Number.isInteger(parallelism) && parallelism > 0)) {
            throw new BadRequest("parallelism must be a whole number > 0");
          }
          engine.upsertQueue(body.queueName, {
            parallelism,
            paused: body.paused === undefined ? undefined : Boolean(body.paused),
          });
          return ok();
        }
        if (!id && method === "GET") {
          return ok(engine.listQueues().map((queue) => queueView(queue, engine.queueLag(queue.name))));
        }
        const queue = id ? engine.getQueue(id) : undefined;
        if (!queue) return notFound("queue");
        if (!action && method === "GET") return ok(queueView(queue, engine.queueLag(queue.name)));
        if (!action && method === "DELETE") return engine.deleteQueue(queue.name) ? ok() : notFound("queue");
        if ((action === "pause" || action === "resume") && method === "POST") {
          engine.upsertQueue(queue.name, { paused: action === "pause" });
          return ok();
        }
        break;
      }
      case "topics": {
        if (!id && method === "GET") return ok(engine.listGroups().map(groupView));
        if (!id) break;
        if (action === "endpoints" && method === "POST") {
          engine.addEndpoints(id, endpointsOf(call));
          return ok();
        }
        if (action === "endpoints" && method === "DELETE") {
          const { endpoints } = jsonBody<{ endpoints?: { name?: string; url?: string }[] }>(call, "the endpoints body");
          if (!Array.isArray(endpoints) || endpoints.length === 0)
            throw new BadRequest("endpoints must be a non-empty list");
          return engine.removeEndpoints(id, endpoints) ? ok() : notFound(`url group "${id}"`);
        }
        const group = engine.getGroup(id);
        if (!action && method === "GET") return group ? ok(groupView(group)) : notFound(`url group "${id}"`);
        if (!action && method === "DELETE") return engine.deleteGroup(id) ? ok() : notFound(`url group "${id}"`);
        break;
      }
      case "flowControl": {
        if (!id && method === "GET") return ok(engine.flowControlKeys().map((key) => engine.flowControlInfo(key)));
        if (id && !action && method === "GET") {
          const info = engine.flowControlInfo(id);
          return info ? ok(info) : notFound(`flow control key "${id}"`);
        }
        if (
          id &&
          method === "POST" &&
          (action === "pause" ||
            action === "resume" ||
            action === "resetRate" ||
            action === "pin" ||
            action === "unpin")
        ) {
          if (action === "unpin") {
            // unpin names what to unpin: parallelism=true, rate=true (neither: everything).
            const flag = (name: string) => (query.get(name) === "true" ? 1 : undefined);
            const values = { parallelism: flag("parallelism"), rate: flag("rate") };
            return engine.updateFlow(id, action, values) ? ok() : notFound(`flow control key "${id}"`);
          }
          const period = query.get("period");
          const periodMs = period ? parseDuration(period) : undefined;
          if (period && periodMs === undefined) throw new BadRequest(`invalid period: "${period}"`);
          const values = { parallelism: number(query, "parallelism"), rate: number(query, "rate"), periodMs };
          return engine.updateFlow(id, action, values) ? ok() : notFound(`flow control key "${id}"`);
        }
        break;
      }
      case "globalParallelism":
        if (method === "GET" && !id) return ok(engine.globalParallelism());
        break;
      case undefined:
        break;
      default:
        if (Object.hasOwn(NOT_IMPLEMENTED, verb)) return notImplemented(`${NOT_IMPLEMENTED[verb]} (/v2/${verb})`);
    }
    return { status: 404, body: { error: `no route for ${route}` } };
  };
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
    /** Serves what is not QStash's API (`/v2/...`): the dashboard. */
    pages?: PageHandler;
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
    const send = ({ status, body, headers: extra = {} }: Answer) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      // A refusal may leave a body unread: close the connection rather than read it.
      const close = request.complete ? {} : { connection: "close" };
      response
        .writeHead(
          status,
          body === undefined ? { ...extra, ...close } : { "content-type": "application/json", ...extra, ...close },
        )
        .end(text);
    };
    // Refusals come before reading a byte of the body.
    const crossSite = crossSiteRefusal(headers);
    if (crossSite) return send({ status: 403, body: { error: `Forbidden: ${crossSite}` } });
    // A page that fails half-way can only drop its connection: the API and the process go on.
    if (options.pages && !url.pathname.startsWith("/v2/"))
      return options.pages(request, response).catch(() => response.destroy());
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
    let answer: Answer;
    try {
      answer = route(call);
    } catch (error) {
      if (error instanceof BadRequest) answer = { status: 400, body: { error: error.message } };
      else if (error instanceof NotFound) answer = { status: 404, body: { error: error.message } };
      else if (error instanceof LimitReached)
        answer = {
          status: 429,
          body: { error: error.message },
          headers: { "ratelimit-limit": String(error.limit), "ratelimit-remaining": String(error.remaining) },
        };
      else answer = { status: 500, body: { error: (error as Error).message } };
    }
    // What was accepted reaches the operating system before the client hears that it was.
    engine.flush();
    send(answer);
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
