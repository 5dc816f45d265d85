import { createHash, randomBytes } from "node:crypto";
import { SignJWT } from "jose";

export interface QStashSignatureOptions {
  signingKey: string;
  url: string;
  body: string | Uint8Array;
  now?: number;
  ttl?: number;
  /** Override or drop claims to build broken tokens. */
  claims?: Record<string, unknown>;
  alg?: "HS256" | "HS384" | "HS512";
  /** Send the body hash unpadded instead of QStash's padded form. */
  unpadded?: boolean;
}

/**
 * Signs a delivery exactly as QStash does (shared/research/qstash-protocol.md §1.5.1), with jose,
 * independently of the runtime's own signing code.
 */
export async function signLikeQStash(options: QStashSignatureOptions): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const hash = createHash("sha256").update(options.body).digest("base64url");
  const bodyClaim = options.unpadded ? hash : hash + "=".repeat((4 - (hash.length % 4)) % 4);
  const claims: Record<string, unknown> = {
    iss: "Upstash",
    sub: options.url,
    exp: now + (options.ttl ?? 300),
    nbf: 0,
    iat: now,
    jti: `jwt_${randomBytes(16).toString("hex")}`,
    body: bodyClaim,
    ...options.claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(options.signingKey));
}
