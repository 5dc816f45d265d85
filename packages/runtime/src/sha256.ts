/**
 * SHA-256 and HMAC-SHA256, the two primitives of a QStash signature, on the fastest implementation the
 * runtime has, chosen once when this module loads: Node's synchronous `node:crypto` where the runtime offers
 * it through `process.getBuiltinModule` (Node >= 20.16, Bun, Deno), else Web Crypto (edge runtimes). Web
 * Crypto's calls each take a trip to a worker thread in Node, which made them a third of a delivery's time.
 * `node:crypto` is reached without an import statement, so an edge bundle never sees a `node:` module.
 */

export interface Sha256 {
  readonly name: "node:crypto" | "web-crypto";
  /** Unpadded base64url of the SHA-256 of `data`: a signature's `body` claim. */
  hash(data: Uint8Array<ArrayBuffer>): Promise<string>;
  /** Whether `mac` is the HMAC-SHA256 of `data` under `secret`, compared in constant time. */
  verifyHmac(secret: string, data: Uint8Array<ArrayBuffer>, mac: Uint8Array<ArrayBuffer>): Promise<boolean>;
  /** The HMAC-SHA256 of `data` under `secret`. */
  signHmac(secret: string, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>>;
}

const encoder = new TextEncoder();

/** Unpadded base64url, as JWTs use. */
export function base64UrlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Base64 (padded or not) to bytes, with Web APIs only; atob throws on what is no base64. */
export function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Base64url (as JWTs and run tokens spell it) to bytes. */
export function base64UrlBytes(text: string): Uint8Array<ArrayBuffer> {
  return base64Bytes(text.replace(/-/g, "+").replace(/_/g, "/"));
}

const webKeys = new Map<string, Promise<CryptoKey>>();

/** A signing key as a Web Crypto HMAC key, imported once per key and use. */
function webKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  const cacheKey = `${usage}\n${secret}`;
  let key = webKeys.get(cacheKey);
  if (!key) {
    // The key is the signing key string's bytes, used as-is (not base64-decoded), as QStash does.
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
    webKeys.set(cacheKey, key);
  }
  return key;
}

export const webCrypto: Sha256 = {
  name: "web-crypto",
  async hash(data) {
    return base64UrlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
  },
  async verifyHmac(secret, data, mac) {
    return crypto.subtle.verify("HMAC", await webKey(secret, "verify"), mac, data);
  },
  async signHmac(secret, data) {
    return new Uint8Array(await crypto.subtle.sign("HMAC", await webKey(secret, "sign"), data));
  },
};

/** The part of `node:crypto` used here, typed locally so the runtime's types never name a Node module. */
interface NodeCrypto {
  createSecretKey(key: Uint8Array): object;
  createHmac(algorithm: "sha256", key: object): { update(data: Uint8Array): { digest(): Uint8Array<ArrayBuffer> } };
  createHash(algorithm: "sha256"): { update(data: Uint8Array): { digest(encoding: "base64url"): string } };
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

/** Node's synchronous crypto behind the same interface; undefined where the runtime has no `node:crypto`. */
export function nodeCryptoSha256(): Sha256 | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  let node: NodeCrypto | undefined;
  try {
    node = runtime?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
  if (typeof node?.createHmac !== "function" || typeof node.timingSafeEqual !== "function") return undefined;
  const crypto = node;
  // A KeyObject per signing key, made once: building an HMAC from a KeyObject skips copying the key each time.
  const keys = new Map<string, object>();
  const keyOf = (secret: string) => {
    let key = keys.get(secret);
    if (!key) {
      key = crypto.createSecretKey(encoder.encode(secret));
      keys.set(secret, key);
    }
    return key;
  };
  const mac = (secret: string, data: Uint8Array) => crypto.createHmac("sha256", keyOf(secret)).update(data).digest();
  return {
    name: "node:crypto",
    hash: async (data) => crypto.createHash("sha256").update(data).digest("base64url"),
    verifyHmac: async (secret, data, actual) => {
      const expected = mac(secret, data);
      return expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
    },
    signHmac: async (secret, data) => new Uint8Array(mac(secret, data)),
  };
}

/** The implementation every signature in this process uses. */
export const sha256: Sha256 = nodeCryptoSha256() ?? webCrypto;
