import type { SigningKeys } from "./env.js";
import { QJobsError } from "./errors.js";
import { quoteForLog } from "./log-text.js";
import { base64Bytes, type Sha256, sha256 } from "./sha256.js";

/** A delivery's `Upstash-Signature` is missing, malformed, expired, or not ours. */
export class SignatureError extends QJobsError {
  constructor(message: string) {
    super("invalid_signature", message);
  }
}

/** The claims of a verified QStash signature. */
export interface SignatureClaims {
  readonly iss: string;
  /** The URL QStash called. */
  readonly sub: string;
  readonly exp: number;
  readonly iat?: number;
  readonly nbf?: number;
  readonly jti?: string;
  readonly body: string;
}

export interface VerifyOptions {
  /** The `Upstash-Signature` header. */
  readonly signature: string;
  /** The request body exactly as received. */
  readonly body: Uint8Array<ArrayBuffer>;
  readonly keys: SigningKeys;
  /** Seconds of clock skew tolerated on `exp` and `nbf`. */
  readonly clockTolerance?: number;
  /** Unix seconds; for tests. */
  readonly now?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  // A length of 1 mod 4 is no base64 at all (atob would throw a DOMException, not a SignatureError).
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text) || base64.length % 4 === 1)
    throw new SignatureError("signature is not a JWT");
  return base64Bytes(base64);
}

function decodeJson(segment: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(decoder.decode(base64UrlDecode(segment)));
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (error) {
    if (error instanceof SignatureError) throw error;
  }
  throw new SignatureError("signature is not a JWT");
}

/**
 * Verifies a QStash signature (edge-safe: Web Crypto, or Node's crypto where it exists): an HS256 JWT signed with the
 * current or the next signing key, issued by Upstash, unexpired, over exactly these body bytes.
 * Stricter than the SDK's Receiver on purpose: the algorithm is pinned to HS256 and `exp` is required.
 * Resolves to the claims, or throws SignatureError.
 */
export function verifySignature(options: VerifyOptions): Promise<SignatureClaims> {
  return verifySignatureWith(sha256, options);
}

/** `verifySignature` on a given SHA-256 implementation, so tests hold both to the same cases. */
export async function verifySignatureWith(sha: Sha256, options: VerifyOptions): Promise<SignatureClaims> {
  try {
    return await verifyClaims(sha, options);
  } catch (error) {
    // Whatever a malformed header makes the crypto or the decoders throw is a refusal (401), never a 500.
    if (error instanceof SignatureError) throw error;
    throw new SignatureError("signature is malformed");
  }
}

/** The last JWT header found to pin HS256: QStash sends the same one every time, so it is decoded once. */
let checkedHeader = "";

async function verifyClaims(sha: Sha256, options: VerifyOptions): Promise<SignatureClaims> {
  const parts = options.signature.split(".");
  if (parts.length !== 3) throw new SignatureError("signature is not a JWT");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  if (headerPart !== checkedHeader) {
    const header = decodeJson(headerPart);
    if (header.alg !== "HS256")
      throw new SignatureError(`unexpected signature algorithm ${quoteForLog(String(header.alg), 20)}`);
    checkedHeader = headerPart;
  }

  const signed = encoder.encode(`${headerPart}.${payloadPart}`);
  const mac = base64UrlDecode(signaturePart);
  // Web Crypto's calls each take a trip to a worker thread: hash the body while the MAC is checked.
  const [validWithCurrent, actualBodyHash] = await Promise.all([
    sha.verifyHmac(options.keys.current, signed, mac),
    sha.hash(options.body),
  ]);
  const valid = validWithCurrent || (await sha.verifyHmac(options.keys.next, signed, mac));
  if (!valid) throw new SignatureError("signature does not match the current or the next signing key");

  const claims = decodeJson(payloadPart);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.clockTolerance ?? 0;
  if (claims.iss !== "Upstash") throw new SignatureError("signature was not issued by Upstash");
  if (typeof claims.sub !== "string") throw new SignatureError("signature has no subject");
  if (typeof claims.exp !== "number") throw new SignatureError("signature has no expiry");
  if (claims.exp <= now - tolerance) throw new SignatureError("signature has expired");
  if (typeof claims.nbf === "number" && claims.nbf > now + tolerance) {
    throw new SignatureError("signature is not valid yet");
  }
  if (typeof claims.body !== "string") throw new SignatureError("signature has no body hash");

  if (claims.body.replace(/=+$/, "") !== actualBodyHash) throw new SignatureError("body does not match its signature");
  return claims as unknown as SignatureClaims;
}
