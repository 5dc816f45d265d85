import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { InvalidPayloadError } from "./errors.js";
import type { DispatchOptions } from "./types.js";

/**
 * Keys from the payload (issue 22): `flowControl.key`, `deduplicationId` and `label` declared on a job may hold
 * `{path}` placeholders (`"tenant:{tenantId}"`, `"order:{order.id}"`) filled from the payload as dispatched.
 * Pure and synchronous, Web APIs only (TextEncoder), so every dispatch path (the registry's `dispatch`,
 * `job.dispatch`, schedules, the dashboard's Run) fills a template the same way, on the edge too.
 */

/** A placeholder: `{` a dotted path of identifiers `}`. */
const PLACEHOLDER = /\{([^{}]*)\}/g;
const PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/**
 * The longest filled value qjobs sends. QStash documents no limit for a flow-control key, a deduplication id or
 * a label; they travel as headers, and a flow-control key also in the path of `/v2/flowControl/{key}`. qjobs
 * keeps each to 128 characters, as job keys, and shortens a longer one (see `shorten`).
 */
export const MAX_FILLED_LENGTH = 128;

/** The placeholders of a template, in order (`"a:{x}:{y.z}"` → `["x", "y.z"]`). */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1] as string);
}

/** Whether a declared value is a template (holds a placeholder) rather than a literal key. */
export function isTemplate(value: unknown): value is string {
  return typeof value === "string" && templatePlaceholders(value).length > 0;
}

/** Whether a placeholder's path is a dotted path of identifiers (`tenantId`, `order.id`). */
export function isPlaceholderPath(path: string): boolean {
  return PATH.test(path);
}

const encoder = new TextEncoder();

/**
 * A placeholder's value as key characters: `A-Z a-z 0-9` stay, every other UTF-8 byte becomes `_XX` (uppercase
 * hex). Values that differ encode differently, and no value can write a comma (a label list), a slash (the
 * flow-control API's path), a brace, or a byte that is not allowed in a header.
 */
export function encodeKeyValue(value: string): string {
  let encoded = "";
  for (const byte of encoder.encode(value)) {
    const isAlphanumeric = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122);
    encoded += isAlphanumeric ? String.fromCharCode(byte) : `_${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

/** What a payload holds at a dotted path, or why it cannot fill a placeholder. */
function valueAt(payload: unknown, path: string): { value: string } | { problem: string } {
  let current = payload;
  for (const segment of path.split(".")) {
    if (current === null || typeof current !== "object" || Array.isArray(current) || !Object.hasOwn(current, segment))
      return { problem: "is missing" };
    current = (current as Record<string, unknown>)[segment];
  }
  if (typeof current === "string" || typeof current === "boolean") return { value: String(current) };
  if (typeof current === "number")
    return Number.isFinite(current) ? { value: String(current) } : { problem: "is not a finite number" };
  if (current === undefined) return { problem: "is missing" };
  if (current === null) return { problem: "is null" };
  return {
    problem: Array.isArray(current)
      ? "is an array"
      : `is ${typeof current === "object" ? "an object" : `a ${typeof current}`}`,
  };
}

/**
 * A filled key longer than `MAX_FILLED_LENGTH` keeps its first 95 characters and ends in `~` and the first 32 hex
 * digits (128 bits) of the SHA-256 of the whole: a payload cannot craft a long key that lands on another's (a
 * shared deduplication id would drop a message). `~` is in neither a template's literal parts nor an encoded
 * value, so a shortened key never equals a filled one. SHA-256 from @noble/hashes: synchronous (Web Crypto's is
 * not) and edge-safe, so filling stays one pure function.
 */
function shorten(filled: string): string {
  if (filled.length <= MAX_FILLED_LENGTH) return filled;
  const hash = bytesToHex(sha256(encoder.encode(filled))).slice(0, 32);
  return `${filled.slice(0, MAX_FILLED_LENGTH - hash.length - 1)}~${hash}`;
}

/**
 * Fills a template from the payload as dispatched (a schema's input, before transforms). A placeholder whose
 * value is missing, null, an object or an array throws `InvalidPayloadError` for job `key`, naming the
 * placeholder and `option`, so nothing is published. A string without placeholders is returned as it is.
 */
export function fillTemplate(key: string, option: string, template: string, payload: unknown): string {
  if (!isTemplate(template)) return template;
  const filled = template.replace(PLACEHOLDER, (_, path: string) => {
    const found = valueAt(payload, path);
    if ("problem" in found) {
      throw new InvalidPayloadError(key, [
        {
          path,
          message: `${found.problem}, but ${option} "${template}" needs it: placeholder {${path}} takes a string, number or boolean`,
        },
      ]);
    }
    return encodeKeyValue(found.value);
  });
  return shorten(filled);
}

/**
 * A job's declared options with their templates filled from one payload: `flowControl.key`, `deduplicationId`
 * and `label`. Only declared options are filled: a dispatch's own options are literal strings, merged on top.
 */
export function fillDeclaredOptions(key: string, declared: DispatchOptions, payload: unknown): DispatchOptions {
  const { flowControl, deduplicationId, label } = declared;
  if (!isTemplate(flowControl?.key) && !isTemplate(deduplicationId) && !isTemplate(label)) return declared;
  return {
    ...declared,
    ...(flowControl
      ? { flowControl: { ...flowControl, key: fillTemplate(key, "flowControl.key", flowControl.key, payload) } }
      : {}),
    ...(deduplicationId !== undefined
      ? { deduplicationId: fillTemplate(key, "deduplicationId", deduplicationId, payload) }
      : {}),
    ...(label !== undefined ? { label: fillTemplate(key, "label", label, payload) } : {}),
  };
}

/** What one placeholder's filled value can be: a run of `A-Z a-z 0-9` and `_XX` escapes (see `encodeKeyValue`). */
const ENCODED_VALUE = "(?:[A-Za-z0-9]|_[0-9A-F]{2})*";
const SHORTENED = new RegExp(`^(.{${MAX_FILLED_LENGTH - 33}})~[0-9a-f]{32}$`, "s");
const escapeLiteral = (text: string) => text.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");

/** The literal parts and placeholders of a template, in order (`"t:{id}"` → `["t:", null]`; null is a placeholder). */
function templateParts(template: string): (string | null)[] {
  return template.split(PLACEHOLDER).map((part, index) => (index % 2 === 0 ? part : null));
}

/** A pattern for any prefix of what `parts` can fill to: a shortened key keeps only the first characters. */
function prefixPattern(parts: readonly (string | null)[]): string {
  const [part, ...rest] = parts;
  if (part === undefined) return "";
  if (part === null) return `${ENCODED_VALUE}(?:_[0-9A-F]?|${prefixPattern(rest)})`;
  const shorter = [...part].map((_, length) => escapeLiteral(part.slice(0, length)));
  return `(?:${[...shorter, `${escapeLiteral(part)}${prefixPattern(rest)}`].join("|")})`;
}

/**
 * Whether `key` is one that `template` fills to (the dashboard lists a job's flow-control keys with it): a literal
 * key matches itself only; in a template, literal parts match verbatim and each placeholder a run of `A-Z a-z 0-9`
 * and `_XX` escapes, so another template's keys and a key with a slash do not match. A key shortened by `shorten`
 * matches when its first characters could start one the template fills to.
 */
export function matchesKeyTemplate(template: string, key: string): boolean {
  if (!isTemplate(template)) return key === template;
  const parts = templateParts(template);
  const whole = parts.map((part) => (part === null ? ENCODED_VALUE : escapeLiteral(part))).join("");
  if (key.length <= MAX_FILLED_LENGTH && new RegExp(`^${whole}$`).test(key)) return true;
  const shortened = SHORTENED.exec(key);
  return shortened !== null && new RegExp(`^${prefixPattern(parts)}$`).test(shortened[1] as string);
}
