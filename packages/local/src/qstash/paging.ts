import { BadRequest } from "./message.js";
import type { Page } from "./types.js";

const DEFAULT_PAGE = 100;

/** Newest first, from a cursor (the `seq` below which the page starts), `count` at most. */
export function page<T extends { seq: number }>(
  items: Iterable<T>,
  accept: (item: T) => boolean,
  count = DEFAULT_PAGE,
  cursor?: string,
): Page<T> {
  const before = cursor === undefined || cursor === "" ? Number.POSITIVE_INFINITY : Number(cursor);
  if (Number.isNaN(before)) throw new BadRequest(`invalid cursor: "${cursor}"`);
  const chosen: T[] = [];
  for (const item of items) {
    if (item.seq >= before || !accept(item)) continue;
    if (chosen.length === count) return { items: chosen, cursor: String((chosen.at(-1) as T).seq) };
    chosen.push(item);
  }
  return { items: chosen };
}

/** A Map's values, newest first (insertion order is oldest first). */
export const newestFirst = <T>(map: Map<string, T>) => [...map.values()].reverse();
