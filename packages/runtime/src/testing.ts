import { deliveryUrl } from "./binding.js";
import { DEV_CREDENTIALS, processEnv, resolveJobsUrl } from "./env.js";
import { ConfigurationError } from "./errors.js";
import { base64UrlEncode, sha256 } from "./sha256.js";

export { DEV_CREDENTIALS };

export interface SignOptions {
  /** The exact URL the signed request is sent to (the `sub` claim). */
  url: string;
  /** The exact body bytes or text that will be sent. */
  body?: string | Uint8Array;
  signingKey?: string;
  /** Unix seconds of issue; the signature lives 5 minutes, as QStash's do. */
  now?: number;
}

const encoder = new TextEncoder();
const HEADER = base64UrlEncode(encoder.encode('{"alg":"HS256","typ":"JWT"}'));

/**
 * Signs a delivery the way QStash does (HS256 JWT with iss, sub, exp, nbf, iat, jti and the padded
 * body hash), so tests can call a jobs route without QStash; `qjobs dev` signs its deliveries with it too.
 * Uses the development key by default.
 */
export async function signDelivery(options: SignOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const body = typeof options.body === "string" ? encoder.encode(options.body) : new Uint8Array(options.body ?? []);
  const hash = await sha256.hash(body);
  const claims = {
    iss: "Upstash",
    sub: options.url,
    exp: now + 300,
    nbf: 0,
    iat: now,
    jti: `jwt_${crypto.randomUUID().replace(/-/g, "")}`,
    body: hash + "=".repeat((4 - (hash.length % 4)) % 4),
  };
  const unsigned = `${HEADER}.${base64UrlEncode(encoder.encode(JSON.stringify(claims)))}`;
  const mac = await sha256.signHmac(options.signingKey ?? DEV_CREDENTIALS.currentSigningKey, encoder.encode(unsigned));
  return `${unsigned}.${base64UrlEncode(mac)}`;
}

export interface DeliveryRequestOptions extends Omit<SignOptions, "url"> {
  /** The jobs route's URL, without `?job=`; default: the app's jobs URL (`QJOBS_URL`), as the route resolves it. */
  routeUrl?: string;
  key: string;
  payload?: unknown;
  messageId?: string;
  retried?: number;
}

/** A signed POST request exactly like QStash's delivery of `payload` to job `key`. */
export async function createDeliveryRequest(options: DeliveryRequestOptions): Promise<Request> {
  const routeUrl = options.routeUrl ?? resolveJobsUrl(processEnv())?.href;
  if (!routeUrl)
    throw new ConfigurationError("createDeliveryRequest needs a routeUrl, or QJOBS_URL set", ["QJOBS_URL"]);
  const url = deliveryUrl(routeUrl, options.key);
  const body =
    typeof options.body === "string" || options.body === undefined
      ? (options.body ?? (options.payload === undefined ? "" : JSON.stringify(options.payload)))
      : new Uint8Array(options.body);
  return signedRequest(url, body, options, { messageId: options.messageId, retried: options.retried });
}

/** A POST to `url` signed over exactly `body`, with the headers QStash sends. */
async function signedRequest(
  url: string,
  body: string | Uint8Array<ArrayBuffer>,
  options: Omit<SignOptions, "url" | "body">,
  delivery: { messageId?: string; retried?: number } = {},
): Promise<Request> {
  const signature = await signDelivery({ ...options, url, body });
  return new Request(url, {
    method: "POST",
    body,
    headers: {
      "Content-Type": "application/json",
      "Upstash-Signature": signature,
      "Upstash-Message-Id": delivery.messageId ?? `msg_${crypto.randomUUID().replace(/-/g, "")}`,
      "Upstash-Retried": String(delivery.retried ?? 0),
      "User-Agent": "Upstash-QStash",
    },
  });
}

export interface FailureCallbackRequestOptions extends Omit<SignOptions, "url" | "body"> {
  /** The jobs route's URL; default: the app's jobs URL (`QJOBS_URL`). */
  routeUrl?: string;
  key: string;
  /** The payload the failed message carried (its body, as published). */
  payload?: unknown;
  /** The last attempt's status and response body. */
  status?: number;
  responseBody?: string;
  retried?: number;
  maxRetries?: number;
  sourceMessageId?: string;
  dlqId?: string;
}

const base64 = (text: string) => btoa(String.fromCharCode(...encoder.encode(text)));

/** A signed POST exactly like QStash's failure callback for a message of job `key`: what runs its onFailure. */
export async function createFailureCallbackRequest(options: FailureCallbackRequestOptions): Promise<Request> {
  const routeUrl = options.routeUrl ?? resolveJobsUrl(processEnv())?.href;
  if (!routeUrl)
    throw new ConfigurationError("createFailureCallbackRequest needs a routeUrl, or QJOBS_URL set", ["QJOBS_URL"]);
  const url = deliveryUrl(routeUrl, options.key, "failure");
  const sourceMessageId = options.sourceMessageId ?? `msg_${crypto.randomUUID().replace(/-/g, "")}`;
  const body = JSON.stringify({
    status: options.status ?? 500,
    header: { "Content-Type": ["application/json"] },
    body: base64(options.responseBody ?? ""),
    retried: options.retried ?? 3,
    maxRetries: options.maxRetries ?? 3,
    ...(options.dlqId ? { dlqId: options.dlqId } : {}),
    sourceMessageId,
    url: deliveryUrl(routeUrl, options.key),
    method: "POST",
    sourceHeader: { "Content-Type": ["application/json"] },
    sourceBody: base64(options.payload === undefined ? "" : JSON.stringify(options.payload)),
  });
  return signedRequest(url, body, options);
}
