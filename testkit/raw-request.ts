import { request as httpRequest, type IncomingHttpHeaders } from "node:http";

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One request to 127.0.0.1 with exactly these headers (fetch would not let a test set Host), answered or refused. */
export function rawRequest(
  port: number,
  request: RawRequest,
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, method: request.method ?? "POST", path: request.path, headers: request.headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(request.body);
  });
}
