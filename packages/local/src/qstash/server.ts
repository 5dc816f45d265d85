import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import type { PageHandler } from "../dashboard/server.js";
import { crossSiteRefusal, flatHeaders, listenLocally, readBody, sameSecret } from "../http.js";
import { type Answer, type Call, safeDecode } from "./call.js";
import { DEFAULT_MAX_BODY_BYTES } from "./defaults.js";
import { errorAnswer } from "./errors.js";
import type { Engine } from "./gateway.js";
import { qstashRouter } from "./router.js";

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
  const route = qstashRouter(
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
    if (bearer === null || !sameSecret(bearer, token))
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
      answer = errorAnswer(error);
    }
    // What was accepted reaches the operating system before the client hears that it was.
    engine.flush();
    send(answer);
  };

  const server: Server = createServer((request, response) => void handle(request, response));
  server.keepAliveTimeout = 30_000;
  const listening = await listenLocally(server, options.port, options.host);
  return {
    url: `http://127.0.0.1:${listening.port}`,
    port: listening.port,
    close: () => {
      engine.stop();
      return listening.close();
    },
  };
}
