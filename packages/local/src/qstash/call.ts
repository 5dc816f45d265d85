import { BadRequest } from "./message.js";

// A request to the local QStash's API and its answer, with the small readers its routes share.

/** One request to the QStash API, as its routes see it. */
export interface Call {
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

export const safeDecode = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

export type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
export const ok = (body?: unknown): Answer => ({ status: 200, body });
export const notFound = (what: string): Answer => ({ status: 404, body: { error: `${what} not found` } });

/** A JSON body, or a 400 saying what it should have been. */
export function jsonBody<T>(call: Call, what: string): T {
  try {
    return JSON.parse(call.body.toString("utf8") || "{}") as T;
  } catch {
    throw new BadRequest(`${what} must be JSON`);
  }
}

export const isUrl = (destination: string) => /^https?:\/\//i.test(destination);

/** A URL group's name from a request path: decoded, without the query string the SDK may add. */
export const groupName = (raw: string) => safeDecode(raw.split("?")[0] as string);

/** QStash APIs this server does not implement: 501 naming them (an unknown path is a 404, as QStash answers). */
export const NOT_IMPLEMENTED: Record<string, string> = {
  workflows: "Upstash Workflow runs",
  notify: "Upstash Workflow notify",
  waiters: "Upstash Workflow waiters",
  llm: "LLM calls",
  chat: "LLM calls",
};

/** What the engine knows but the API cannot do here: answered 501, naming it. */
export const notImplemented = (what: string): Answer => ({
  status: 501,
  body: { error: `qjobs dev does not implement ${what}; see the README for what it does` },
});

export function endpointsOf(call: Call): { name?: string; url: string }[] {
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

export function number(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new BadRequest(`${name} must be a whole number, got "${value}"`);
  return Number(value);
}
