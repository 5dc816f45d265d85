import type { IncomingMessage, ServerResponse } from "node:http";
import { crossSiteRefusal, flatHeaders, readBody, sameSecret } from "../http.js";
import type { Reply } from "./command.js";
import type { Outcome, RedisGateway } from "./gateway.js";

/** The largest request body accepted (a command, a pipeline or a transaction); Upstash's own cap is of this order. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** The most commands one /pipeline or /multi-exec may carry. */
export const MAX_PIPELINE_COMMANDS = 1000;
/** Where the local Redis is mounted on the local server. */
export const REDIS_PREFIX = "/redis";

/** Takes a request if it is under the prefix (and answers it); false leaves it to the server's other routes. */
export type RedisRequestHandler = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface RedisRouterOptions {
  /** The bearer token clients must send (`QJOBS_REDIS_REST_TOKEN`). */
  token: string;
  prefix?: string;
  maxRequestBytes?: number;
  maxPipelineCommands?: number;
}

interface Call {
  /** The path after the prefix, always starting with `/`. */
  path: string;
  query: URLSearchParams;
  body: Buffer;
}

type Answer = { status: number; body: unknown };

/** A request the protocol refuses: answered `status` with Redis-style `{ "error": "ERR …" }`. */
class ProtocolError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A JSON command (`["SET", "key", "value", "EX", 100]`) as Redis arguments: strings, numbers written out. */
function commandOf(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ProtocolError(400, `ERR ${where} must be a non-empty JSON array: [COMMAND, ARG1, ...]`);
  return value.map((item, index) => {
    if (typeof item === "string") return item;
    if (typeof item === "number" && Number.isFinite(item)) return String(item);
    throw new ProtocolError(
      400,
      `ERR ${where}: argument ${index} must be a string or a number, not ${JSON.stringify(item)}`,
    );
  });
}

function jsonBody(call: Call): unknown {
  try {
    return JSON.parse(call.body.toString("utf8"));
  } catch {
    throw new ProtocolError(400, "ERR the request body is not valid JSON");
  }
}

function commandsOf(call: Call, maxCommands: number): string[][] {
  const body = jsonBody(call);
  if (!Array.isArray(body) || body.length === 0)
    throw new ProtocolError(
      400,
      "ERR the body must be a non-empty JSON array of commands: [[COMMAND, ARG1, ...], ...]",
    );
  if (body.length > maxCommands)
    throw new ProtocolError(400, `ERR at most ${maxCommands} commands may be sent at once (MAX_PIPELINE_COMMANDS)`);
  return body.map((command, index) => commandOf(command, `command ${index}`));
}

/** The path form: `/set/foo/bar?EX=100`, a POST body as the last argument before the query's. */
function pathCommand(call: Call): string[] {
  const segments = call.path.split("/").filter(Boolean);
  const command = segments.map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new ProtocolError(
        400,
        `ERR the path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding`,
      );
    }
  });
  if (call.body.length > 0) command.push(call.body.toString("utf8"));
  for (const [name, value] of call.query) {
    if (name === "_token") continue;
    command.push(name, ...(value === "" ? [] : [value]));
  }
  return command;
}

const single = (outcome: Outcome): Answer => ({ status: "error" in outcome ? 400 : 200, body: outcome });

/** The routes, first match wins; the path form takes every other path. */
const ROUTES: {
  path: (path: string) => boolean;
  methods: readonly string[];
  answer: (gateway: RedisGateway, call: Call, options: Required<RedisRouterOptions>) => Answer;
}[] = [
  {
    path: (path) => path === "/pipeline",
    methods: ["POST"],
    answer: (gateway, call, options) => ({
      status: 200,
      body: gateway.pipeline(commandsOf(call, options.maxPipelineCommands)),
    }),
  },
  {
    path: (path) => path === "/multi-exec",
    methods: ["POST"],
    answer(gateway, call, options) {
      const outcome = gateway.transaction(commandsOf(call, options.maxPipelineCommands));
      // A discarded transaction is one error for the whole request.
      return { status: Array.isArray(outcome) ? 200 : 400, body: outcome };
    },
  },
  {
    path: (path) => path === "/",
    methods: ["POST"],
    answer: (gateway, call) => single(gateway.execute(commandOf(jsonBody(call), "the command"))),
  },
  {
    path: () => true,
    methods: ["HEAD", "GET", "POST", "PUT"],
    answer: (gateway, call) => single(gateway.execute(pathCommand(call))),
  },
];

function encodeStrings(reply: Reply): Reply {
  if (Array.isArray(reply)) return reply.map(encodeStrings);
  if (typeof reply !== "string" || reply === "OK") return reply;
  return Buffer.from(reply, "utf8").toString("base64");
}

/** With `Upstash-Encoding: base64`, every string in a result, at any depth, is base64 (except "OK", as Upstash does). */
function base64Body(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(base64Body);
  if (body && typeof body === "object" && "result" in body) return { result: encodeStrings(body.result as Reply) };
  return body;
}

/**
 * The Upstash Redis REST protocol over the gateway, for a node:http server: a command as a JSON array
 * (POST to the prefix) or as a path, `/pipeline`, `/multi-exec`, a bearer token (or `?_token=`), and
 * `Upstash-Encoding: base64`. Errors are `{ "error": "ERR …" }`, as Upstash answers them.
 */
export function redisHandler(gateway: RedisGateway, options: RedisRouterOptions): RedisRequestHandler {
  // An empty token would let in every request that sends none.
  if (!options.token)
    throw new Error("the local Redis needs a token (QJOBS_REDIS_REST_TOKEN) to check requests against");
  const settings: Required<RedisRouterOptions> = {
    prefix: REDIS_PREFIX,
    maxRequestBytes: MAX_REQUEST_BYTES,
    maxPipelineCommands: MAX_PIPELINE_COMMANDS,
    ...options,
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, url: URL) => {
    const headers = flatHeaders(request);
    const send = ({ status, body }: Answer) => {
      // A refusal may leave a body unread: close the connection rather than read it.
      const close = request.complete ? {} : { connection: "close" };
      const encoded = headers["upstash-encoding"]?.toLowerCase() === "base64" ? base64Body(body) : body;
      response.writeHead(status, { "content-type": "application/json", ...close }).end(JSON.stringify(encoded));
    };
    // Refusals come before a byte of the body is read.
    const crossSite = crossSiteRefusal(headers);
    if (crossSite) return send({ status: 403, body: { error: `ERR forbidden: ${crossSite}` } });
    const bearer = headers.authorization?.replace(/^Bearer\s+/i, "") ?? url.searchParams.get("_token") ?? "";
    if (!sameSecret(bearer, settings.token))
      return send({
        status: 401,
        body: { error: "ERR unauthorized: pass QJOBS_REDIS_REST_TOKEN as Authorization: Bearer <token>" },
      });
    const path = url.pathname.slice(settings.prefix.length) || "/";
    const method = request.method ?? "GET";
    const route = ROUTES.find((candidate) => candidate.path(path)) as (typeof ROUTES)[number];
    if (!route.methods.includes(method)) {
      response.setHeader("allow", route.methods.join(", "));
      return send({
        status: 405,
        body: { error: `ERR ${method} is not allowed on ${path}: use ${route.methods.join(", ")}` },
      });
    }
    const body = await readBody(request, settings.maxRequestBytes);
    if (!body)
      return send({
        status: 413,
        body: { error: `ERR max request size exceeded: the body is over ${settings.maxRequestBytes} bytes` },
      });
    try {
      send(route.answer(gateway, { path, query: url.searchParams, body }, settings));
    } catch (error) {
      if (error instanceof ProtocolError) send({ status: error.status, body: { error: error.message } });
      else send({ status: 500, body: { error: `ERR internal error: ${(error as Error).message}` } });
    }
  };

  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://redis.local");
    const under = url.pathname === settings.prefix || url.pathname.startsWith(`${settings.prefix}/`);
    if (!under) return false;
    handle(request, response, url).catch(() => response.destroy());
    return true;
  };
}
