import { notFloat, notInteger } from "./errors.js";

// Numbers in command arguments, read as Redis reads them (string2ll and strtod), so the stand-in
// refuses and accepts exactly what Redis does.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A signed 64-bit integer as Redis's string2ll reads it: no sign `+`, no spaces, no leading zeros. */
export function tryInteger(text: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** An integer argument, or Redis's `value is not an integer or out of range`. */
export function integer(text: string): bigint {
  const value = tryInteger(text);
  if (value === undefined) throw notInteger();
  return value;
}

export function inInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** C's strtod on a whole string: a leading float (or inf/nan) and what is left after it. */
function strtod(text: string): { value: number; rest: string } {
  const match = /^[\t\n\v\f\r ]*([+-]?(?:inf(?:inity)?|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?))/i.exec(text);
  if (!match) return { value: 0, rest: text };
  const literal = (match[1] as string).toLowerCase();
  const sign = literal.startsWith("-") ? -1 : 1;
  const unsigned = literal.replace(/^[+-]/, "");
  const value = unsigned.startsWith("inf") ? sign * Infinity : unsigned === "nan" ? Number.NaN : Number(literal);
  return { value, rest: text.slice(match[0].length) };
}

/** A float argument as Redis's getDoubleFromObject reads it: no spaces, no junk, no NaN, no overflow. */
export function float(text: string): number {
  const { value, rest } = strtod(text);
  const overflowed = !Number.isFinite(value) && !/inf/i.test(text);
  if (text === "" || /^\s/.test(text) || rest !== "" || Number.isNaN(value) || overflowed) throw notFloat();
  return value;
}

/** One end of a score range (`1.5`, `(1.5` exclusive, `-inf`, `+inf`), as zslParseRange reads it; undefined if invalid. */
export function scoreBound(text: string): { value: number; exclusive: boolean } | undefined {
  const exclusive = text.startsWith("(");
  const { value, rest } = strtod(exclusive ? text.slice(1) : text);
  return rest !== "" || Number.isNaN(value) ? undefined : { value, exclusive };
}

/** A score as Redis replies it: `inf`, `-inf`, or the shortest decimal that reads back the same. */
export function formatScore(score: number): string {
  if (score === Infinity) return "inf";
  if (score === -Infinity) return "-inf";
  return String(score);
}

/** Whether `text` is `option`, ignoring case (strcasecmp). */
export const isOption = (text: string | undefined, option: string) => text?.toLowerCase() === option;
