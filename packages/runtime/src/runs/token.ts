import { wholeSeconds } from "../duration.js";
import { DEV_CREDENTIALS, type Env, isLocalUse } from "../env.js";
import { ConfigurationError } from "../errors.js";
import { base64UrlBytes, base64UrlEncode, sha256 } from "../sha256.js";
import type { Duration } from "../types.js";
import { appHash } from "./store.js";

/**
 * Run tokens (issue 19): read-only, for one run of one app, expiring. A token is `v1.<expiry>.<mac>`, the MAC an
 * HMAC-SHA256 over a text of its own domain (`qjobs run token`, the version, the app's hash, the run id and the
 * expiry), so no other qjobs signature can be replayed as one. The key is `QJOBS_RUN_TOKEN_SECRET` when set;
 * otherwise one derived from a QStash signing key: minted under the next key, verified under both, so a token
 * survives one rotation of the keys.
 */

/** How long a token lasts when nothing says: 24 hours. */
export const DEFAULT_RUN_TOKEN_SECONDS = 24 * 60 * 60;

/** The shortest secret accepted: a guessable secret would let anyone read any run. */
const MIN_SECRET_LENGTH = 32;

const VERSION = "v1";
const DOMAIN = "qjobs run token";
/** Expiry in unix seconds (ten digits until 2286) and a 32-byte MAC in unpadded base64url. */
const TOKEN_SHAPE = /^v1\.(\d{10})\.([A-Za-z0-9_-]{43})$/;
/** QStash's message ids (`msg_...`) and the ids of tests: anything else never reaches the store. */
export const RUN_ID_SHAPE = /^[A-Za-z0-9_-]{1,128}$/;

export interface RunTokenKeys {
  /** The key new tokens are minted under. */
  readonly mint: string;
  /** The keys a token may have been minted under. */
  readonly verify: readonly string[];
}

const encoder = new TextEncoder();

/** Derived keys by signing key: a dispatch mints a token each time, and the keys change only on rotation. */
const derived = new Map<string, Promise<string>>();

/** A key of the token domain derived from a signing key, so a token's MAC is never a QStash signature. */
function derivedKey(signingKey: string): Promise<string> {
  let key = derived.get(signingKey);
  if (!key) {
    if (derived.size >= 8) derived.clear(); // rotations only: a handful of keys in a process's life
    key = sha256.signHmac(signingKey, encoder.encode(`${DOMAIN} key ${VERSION}`)).then((mac) => base64UrlEncode(mac));
    key.catch(() => derived.delete(signingKey)); // a failure is not kept
    derived.set(signingKey, key);
  }
  return key;
}

const isDevKey = (key: string | undefined) =>
  key === DEV_CREDENTIALS.currentSigningKey || key === DEV_CREDENTIALS.nextSigningKey;

/**
 * The keys run tokens are minted and checked with, or undefined when the environment has none. Fails closed:
 * a short secret, or signing keys that are the public development keys outside local use, is a ConfigurationError.
 */
export async function readRunTokenKeys(env: Env, jobsUrl: URL): Promise<RunTokenKeys | undefined> {
  const secret = env.QJOBS_RUN_TOKEN_SECRET;
  if (secret) {
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new ConfigurationError(
        `QJOBS_RUN_TOKEN_SECRET must be at least ${MIN_SECRET_LENGTH} characters (e.g. \`openssl rand -base64 32\`).`,
        ["QJOBS_RUN_TOKEN_SECRET"],
      );
    }
    return { mint: secret, verify: [secret] };
  }
  const current = env.QSTASH_CURRENT_SIGNING_KEY;
  const next = env.QSTASH_NEXT_SIGNING_KEY;
  if (!current || !next) return undefined;
  // Anyone can compute a token under the public development keys: as deliveries signed with them, local use only.
  if ((isDevKey(current) || isDevKey(next)) && !isLocalUse(env, [jobsUrl])) {
    throw new ConfigurationError(
      "Run tokens would be derived from the public development signing keys, which anyone can use: set " +
        "QJOBS_RUN_TOKEN_SECRET, or your QStash signing keys (the development keys are accepted only for local use).",
      ["QJOBS_RUN_TOKEN_SECRET", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"],
    );
  }
  const [mint, previous] = await Promise.all([derivedKey(next), derivedKey(current)]);
  return { mint, verify: [mint, previous] };
}

/** What a token's MAC covers. */
function signedText(app: string, runId: string, expiry: number): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${DOMAIN}\n${VERSION}\n${app}\n${runId}\n${expiry}`);
}

/** A token for run `runId` of the app at `jobsUrl`, valid for `seconds`. */
export async function mintRunToken(
  keys: RunTokenKeys,
  jobsUrl: URL | string,
  runId: string,
  seconds: number = DEFAULT_RUN_TOKEN_SECONDS,
  now: number = Date.now(),
): Promise<string> {
  if (!RUN_ID_SHAPE.test(runId)) throw new TypeError(`Not a run id: ${JSON.stringify(runId.slice(0, 64))}`);
  const expiry = Math.floor(now / 1000) + seconds;
  const mac = await sha256.signHmac(keys.mint, signedText(await appHash(jobsUrl), runId, expiry));
  return `${VERSION}.${expiry}.${base64UrlEncode(mac)}`;
}

export type RunTokenCheck = "valid" | "expired" | "invalid";

/**
 * Whether `token` reads run `runId` of the app at `jobsUrl`. `expired` only for a token whose MAC holds (so the
 * answer never tells a forged token from a real one); its shape is checked before any crypto.
 */
export async function checkRunToken(
  keys: RunTokenKeys,
  jobsUrl: URL | string,
  runId: string,
  token: string,
  now: number = Date.now(),
): Promise<RunTokenCheck> {
  const match = TOKEN_SHAPE.exec(token);
  if (!match || !RUN_ID_SHAPE.test(runId)) return "invalid";
  const expiry = Number(match[1]);
  const mac = base64UrlBytes(match[2] as string);
  // One spelling per MAC: the last character's two spare bits must be zero, so no two tokens are the same one.
  if (base64UrlEncode(mac) !== match[2]) return "invalid";
  const text = signedText(await appHash(jobsUrl), runId, expiry);
  for (const key of keys.verify) {
    if (await sha256.verifyHmac(key, text, mac)) return expiry * 1000 > now ? "valid" : "expired";
  }
  return "invalid";
}

/** A token's lifetime in seconds: `expiresIn`, else 24 h; a bad one throws (naming `what`) before any work. */
export function tokenSeconds(expiresIn: number | Duration | undefined, what = "tokenExpiresIn"): number {
  return expiresIn === undefined ? DEFAULT_RUN_TOKEN_SECONDS : wholeSeconds(expiresIn, what);
}

/**
 * What mints the tokens of a dispatch's run handles, or undefined when the environment has no key. Read before
 * publishing, so a refused key (the public development keys outside local use) publishes nothing.
 */
export async function dispatchTokenMinter(
  env: Env,
  jobsUrl: string,
): Promise<((runId: string, seconds: number) => Promise<string>) | undefined> {
  const keys = await readRunTokenKeys(env, new URL(jobsUrl));
  return keys && ((runId, seconds) => mintRunToken(keys, jobsUrl, runId, seconds));
}
