import { MESSAGE_ID, REPLAY_OF_FORWARD } from "./endpoints.js";
import type { ProjectView } from "./view.js";

/**
 * What the dashboard's proxy lets through, decided on one parse of the request: the path it matches is the path
 * it forwards, a publish goes only to a declared job's delivery URL, and what QStash answers reaches the page
 * as JSON, capped, with no piece of a secret in it (issue 20).
 */

/** A dot segment or an encoded `.`, `/` or `\`: a parser on the way to QStash could read another path. */
const AMBIGUOUS = /%2e|%2f|%5c/i;

/** The path and query the proxy forwards, parsed once; or why the target is refused (400). */
export function parseTarget(target: string): { url: URL } | { refusal: string } {
  const raw = target.split("?")[0] as string;
  let url: URL;
  try {
    url = new URL(target, "http://dashboard.invalid");
  } catch {
    return { refusal: "The path does not parse" };
  }
  if (url.pathname !== raw || AMBIGUOUS.test(raw) || raw.includes("\\"))
    return { refusal: `The dashboard forwards only canonical paths, not ${JSON.stringify(raw.slice(0, 200))}` };
  return { url };
}

/** A URL from the page, parsed, with no userinfo; undefined when it is not one. */
function plainUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.username === "" && url.password === "" ? url : undefined;
  } catch {
    return undefined;
  }
}

export interface CheckedPublish {
  /** The destination to forward: the declared job's delivery URL, as qjobs writes it. */
  destination: string;
  /** The callbacks to forward, parsed and written back canonically. */
  callbacks: Record<string, string>;
}

const CALLBACK_HEADERS = ["upstash-callback", "upstash-failure-callback"] as const;

/**
 * Checks a publish from the page: its destination must be the delivery URL of a declared job (never a hook's),
 * its failure callback the job's hook URL or the one it declares, its callback the one it declares.
 */
export function checkPublish(
  destinationText: string,
  headers: Readonly<Record<string, string>>,
  project: ProjectView,
): CheckedPublish | { refusal: string } {
  const destination = plainUrl(destinationText);
  const key = destination?.searchParams.get("job");
  const job = project.jobs.find((candidate) => candidate.key === key);
  if (
    !destination ||
    !job?.publish ||
    destination.searchParams.has("hook") ||
    destination.href !== job.publish.destination
  )
    return { refusal: "The dashboard publishes only to the delivery URL of one of the app's jobs" };
  // The app receives it: only a message id, never a text the page (or a script that reached the proxy) chose.
  const replayOf = headers[REPLAY_OF_FORWARD];
  if (replayOf !== undefined && !MESSAGE_ID.test(replayOf))
    return {
      refusal: `${REPLAY_OF_FORWARD} names the replayed message by its id, not ${JSON.stringify(replayOf.slice(0, 100))}`,
    };
  const declared = job.publish.headers;
  const callbacks: Record<string, string> = {};
  for (const name of CALLBACK_HEADERS) {
    const asked = headers[name];
    if (asked === undefined) continue;
    const url = plainUrl(asked);
    const allowed = [
      declared[name],
      name === "upstash-failure-callback" && job.failureHook ? hookUrl(job.publish.destination) : undefined,
    ];
    if (!url || !allowed.includes(url.href))
      return {
        refusal: `The dashboard sends callbacks only to the job's hook or where the job declares them, not ${JSON.stringify(asked.slice(0, 100))}`,
      };
    callbacks[name] = url.href;
  }
  return { destination: destination.href, callbacks };
}

/** The job's onFailure hook URL, from its delivery URL. */
function hookUrl(destination: string): string {
  const url = new URL(destination);
  url.searchParams.set("hook", "failure");
  return url.href;
}

/** The most of QStash's answer the proxy buffers (a page of logs is far less). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** QStash's answer, up to `limit` bytes; undefined when it is longer. */
export async function readCapped(answer: Response, limit = MAX_ANSWER_BYTES): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!answer.body) return Buffer.alloc(0);
  const reader = answer.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}

/**
 * How long a piece of a secret must be to be hidden: QStash cuts log bodies (4 KiB), so a value may hold any
 * prefix or suffix of it; 8 characters left in view leave the rest of a Vercel secret out of guessing range.
 */
const PIECE = 8;

/**
 * A piece as it reads inside base64 text, at each of the three byte alignments: the characters whose six bits all
 * come from the piece (QStash's logs carry bodies base64-encoded, so the secret is never there as itself).
 */
function base64Readings(piece: string): string[] {
  const bytes = Buffer.from(piece, "utf8");
  return [0, 1, 2].flatMap((align) => {
    const encoded = Buffer.concat([Buffer.alloc(align), bytes]).toString("base64");
    const stable = encoded.slice(Math.ceil((8 * align) / 6), Math.floor((8 * (align + bytes.length)) / 6));
    return [stable, stable.replace(/\+/g, "-").replace(/\//g, "_")];
  });
}

/**
 * One pattern matching any piece of any of the secrets, as itself or inside base64: one pass over each value.
 * Undefined when there is no secret to hide.
 */
function piecesPattern(secrets: readonly string[]): RegExp | undefined {
  const pieces = new Set<string>();
  for (const secret of secrets) {
    const size = Math.min(PIECE, secret.length);
    for (let start = 0; start + size <= secret.length; start++) {
      const piece = secret.slice(start, start + size);
      pieces.add(piece);
      for (const reading of base64Readings(piece)) pieces.add(reading);
    }
  }
  if (pieces.size === 0) return undefined;
  return new RegExp([...pieces].map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"));
}

/** Every string (and key) of a JSON value that holds a piece of a secret, replaced by `REDACTED`. */
function redactValue(value: unknown, pieces: RegExp): unknown {
  if (typeof value === "string") return pieces.test(value) ? "REDACTED" : value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, pieces));
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([name, item]) => [pieces.test(name) ? "REDACTED" : name, redactValue(item, pieces)]),
    );
  return value;
}

/**
 * QStash's answer as the JSON the page gets: every value holding a piece of the token or the bypass secret
 * hidden (its logs list the headers and bodies messages were published with); an answer that is not JSON
 * becomes an error naming its status, so no other content type ever reaches the page's origin.
 */
export function pageAnswer(body: Buffer, status: number, secrets: readonly (string | undefined)[]): string {
  const pieces = piecesPattern(secrets.filter((secret): secret is string => !!secret));
  const text = body.toString("utf8");
  if (text === "") return "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const shown = pieces?.test(text) ? "(withheld: it held a secret)" : text.slice(0, 500);
    return JSON.stringify({ error: `QStash answered ${status} with a body that is not JSON: ${shown}` });
  }
  return JSON.stringify(pieces ? redactValue(parsed, pieces) : parsed);
}
