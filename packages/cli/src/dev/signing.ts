import { createHash, createHmac, randomBytes } from "node:crypto";

const HEADER = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");

/**
 * Signs one delivery as QStash does: an HS256 JWT over the key string's bytes with iss, sub (the exact
 * URL called), exp (5 minutes), nbf, iat, jti and the padded base64url SHA-256 of the body bytes.
 * Node's crypto, synchronously: this is the local server, not the edge-safe runtime.
 */
export function signDelivery(signingKey: string, url: string, body: Uint8Array, nowMs: number): string {
  const now = Math.floor(nowMs / 1000);
  const hash = createHash("sha256").update(body).digest("base64url");
  const claims = {
    iss: "Upstash",
    sub: url,
    exp: now + 300,
    nbf: 0,
    iat: now,
    jti: `jwt_${randomBytes(12).toString("hex")}`,
    body: hash + "=".repeat((4 - (hash.length % 4)) % 4),
  };
  const unsigned = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${unsigned}.${createHmac("sha256", signingKey).update(unsigned).digest("base64url")}`;
}
