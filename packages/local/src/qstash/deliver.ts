import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { flatHeaders } from "../http.js";

export interface DeliveryRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
}

export interface DeliveryResponse {
  /** Undefined when no response came: connection error or timeout (`error` says which). */
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  error?: string;
  durationMs: number;
}

export type Deliver = (request: DeliveryRequest) => Promise<DeliveryResponse>;

// Response bodies are kept for logs, callbacks and the DLQ; QStash truncates them too.
const MAX_BODY = 1024 * 1024;
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

/** One HTTP attempt with node:http and keep-alive; never throws: failures come back as `error`. */
export const deliverHttp: Deliver = (delivery) =>
  new Promise((resolve) => {
    const started = performance.now();
    let done = false;
    const finish = (response: Omit<DeliveryResponse, "durationMs">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...response, durationMs: Math.round(performance.now() - started) });
    };
    let url: URL;
    try {
      url = new URL(delivery.url);
    } catch {
      return finish({ headers: {}, body: Buffer.alloc(0), error: "invalid url" });
    }
    const secure = url.protocol === "https:";
    const request = (secure ? httpsRequest : httpRequest)(url, {
      method: delivery.method,
      headers: { ...delivery.headers, "content-length": String(delivery.body.length) },
      agent: secure ? agents.https : agents.http,
    });
    const timer = setTimeout(() => {
      request.destroy();
      finish({ headers: {}, body: Buffer.alloc(0), error: `timed out after ${delivery.timeoutMs} ms` });
    }, delivery.timeoutMs);
    request.on("error", (error: NodeJS.ErrnoException) =>
      finish({ headers: {}, body: Buffer.alloc(0), error: error.code ?? error.message }),
    );
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        if (size < MAX_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      response.on("error", (error: NodeJS.ErrnoException) =>
        finish({ headers: {}, body: Buffer.alloc(0), error: error.code ?? error.message }),
      );
      response.on("end", () =>
        finish({
          status: response.statusCode,
          headers: flatHeaders(response),
          body: Buffer.concat(chunks).subarray(0, MAX_BODY),
        }),
      );
    });
    request.end(delivery.body);
  });
