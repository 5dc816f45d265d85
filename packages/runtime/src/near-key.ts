import { closest, distance } from "fastest-levenshtein";

/**
 * The declared key a mistyped one most likely meant ("did you mean …?"), or undefined when none is near:
 * within a third of the key's length in edits (at least 2), so `images/thumbnail` finds `images/thumbnails`
 * but `a` does not find `b/c`.
 */
function nearKey(key: string, keys: readonly string[]): string | undefined {
  if (keys.length === 0) return undefined;
  const near = closest(key, keys);
  return distance(key, near) <= Math.max(2, Math.floor(key.length / 3)) ? near : undefined;
}

/** ` Did you mean "x"?` for an unknown key, or nothing. */
export function didYouMean(key: string, keys: readonly string[]): string {
  const near = nearKey(key, keys);
  return near === undefined ? "" : ` Did you mean ${JSON.stringify(near)}?`;
}
