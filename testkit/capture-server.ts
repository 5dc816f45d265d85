import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, vi } from "vitest";

export interface CapturedRequest {
  method: string;
  /** The raw request target, e.g. `/v2/publish/http://app/api/jobs?job=a`. */
  target: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** What the server answered it. */
  answer?: unknown;
}

export interface CaptureServer {
  url: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

/**
 * Stands in for QStash's publish and batch API so the real `@upstash/qstash` Client really publishes:
 * it records every request and answers like QStash (`{ messageId }`, or one per batch entry).
 * `answer` can replace a response, e.g. to simulate a deduplicated publish or an error.
 */
export async function startCaptureServer(
  answer?: (request: CapturedRequest) => { status: number; body: unknown } | undefined,
): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  let nextId = 1;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const captured: CapturedRequest = {
      method: req.method ?? "",
      target: req.url ?? "",
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    requests.push(captured);
    const custom = answer?.(captured);
    let status = custom?.status ?? 200;
    let body = custom?.body;
    if (!custom) {
      if (captured.target.startsWith("/v2/publish/")) body = { messageId: `msg_${nextId++}` };
      else if (captured.target === "/v2/batch") {
        const entries = JSON.parse(captured.body.toString()) as unknown[];
        body = entries.map(() => ({ messageId: `msg_${nextId++}` }));
      } else [status, body] = [404, { error: "not found" }];
    }
    captured.answer = body;
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A capture server for a test file, with what publishing reads pointed at it before each test (QSTASH_URL,
 * a token, QJOBS_URL, and any `env`), its requests cleared, and the environment restored after.
 */
export function useCaptureQStash(options: {
  jobsUrl: string;
  env?: Record<string, string>;
  answer?: Parameters<typeof startCaptureServer>[0];
}): Pick<CaptureServer, "url" | "requests"> {
  let server: CaptureServer | undefined;
  const current = () => {
    if (!server) throw new Error("the capture server starts in beforeAll");
    return server;
  };
  beforeAll(async () => {
    server = await startCaptureServer(options.answer);
  });
  afterAll(() => server?.close());
  beforeEach(() => {
    current().requests.length = 0;
    vi.stubEnv("QSTASH_TOKEN", "test-token");
    vi.stubEnv("QSTASH_URL", current().url);
    vi.stubEnv("QJOBS_URL", options.jobsUrl);
    for (const [name, value] of Object.entries(options.env ?? {})) vi.stubEnv(name, value);
  });
  afterEach(() => vi.unstubAllEnvs());
  return {
    get url() {
      return current().url;
    },
    get requests() {
      return current().requests;
    },
  };
}
