import { invalidStreamId, RedisError } from "./errors.js";

/** A stream entry id, `<ms>-<seq>`, both unsigned 64-bit. */
export interface StreamId {
  ms: bigint;
  seq: bigint;
}

export interface StreamEntry {
  id: StreamId;
  /** Field, value, field, value… in the order given. */
  fields: string[];
}

export const UINT64_MAX = 2n ** 64n - 1n;
const MIN_ID: StreamId = { ms: 0n, seq: 0n };
const MAX_ID: StreamId = { ms: UINT64_MAX, seq: UINT64_MAX };
/**
 * Redis packs a stream into nodes (listpacks) of at most 100 entries, deleted ones included
 * (stream-node-max-entries), or about 4 KiB (stream-node-max-bytes); `~` trims whole nodes only.
 */
const NODE_ENTRIES = 100;
const NODE_BYTES = 4096;
/** What a listpack spends on each field or value besides its bytes: an estimate, so node sizes in bytes are approximate. */
const ELEMENT_OVERHEAD_BYTES = 2;

/** One node: its live entries, every entry it ever took, and roughly its size. */
interface StreamNode {
  live: number;
  total: number;
  bytes: number;
}

export const formatId = (id: StreamId) => `${id.ms}-${id.seq}`;
export const compareIds = (a: StreamId, b: StreamId) =>
  a.ms === b.ms ? (a.seq === b.seq ? 0 : a.seq < b.seq ? -1 : 1) : a.ms < b.ms ? -1 : 1;

/** An unsigned 64-bit number as string2ull reads it (strtoull's leading spaces, `+` and zeros allowed). */
function unsigned(text: string): bigint | undefined {
  if (!/^[\t\n\v\f\r ]*\+?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text.trim().replace(/^\+/, ""));
  return value > UINT64_MAX ? undefined : value;
}

/**
 * An id argument, as Redis's streamGenericParseIDOrReply reads it: `<ms>-<seq>`, `<ms>` (seq `missingSeq`),
 * `<ms>-*` where `autoSeq` allows it (seq left to XADD), and `-`/`+` unless `strict`.
 */
export function parseId(
  text: string,
  options: { strict: boolean; missingSeq?: bigint; autoSeq?: boolean },
): { id: StreamId; seqGiven: boolean } {
  if (text.length > 127) throw invalidStreamId();
  if (text === "-" || text === "+") {
    if (options.strict) throw invalidStreamId();
    return { id: text === "-" ? MIN_ID : MAX_ID, seqGiven: true };
  }
  const dash = text.indexOf("-");
  const ms = unsigned(dash === -1 ? text : text.slice(0, dash));
  if (ms === undefined) throw invalidStreamId();
  if (dash === -1) return { id: { ms, seq: options.missingSeq ?? 0n }, seqGiven: true };
  const tail = text.slice(dash + 1);
  if (options.autoSeq && tail === "*") return { id: { ms, seq: 0n }, seqGiven: false };
  const seq = unsigned(tail);
  if (seq === undefined) throw invalidStreamId();
  return { id: { ms, seq }, seqGiven: true };
}

/** One end of an XRANGE interval: an id, `-`, `+`, or `(<id>` to exclude it. */
export function parseIntervalEnd(text: string, end: "start" | "end"): StreamId {
  const missingSeq = end === "start" ? 0n : UINT64_MAX;
  if (text.length > 1 && text.startsWith("(")) {
    const { id } = parseId(text.slice(1), { strict: true, missingSeq });
    const next = end === "start" ? nextId(id) : previousId(id);
    if (!next) throw new RedisError(`ERR invalid ${end} ID for the interval`);
    return next;
  }
  return parseId(text, { strict: false, missingSeq }).id;
}

function nextId(id: StreamId): StreamId | undefined {
  if (id.seq < UINT64_MAX) return { ms: id.ms, seq: id.seq + 1n };
  return id.ms < UINT64_MAX ? { ms: id.ms + 1n, seq: 0n } : undefined;
}

function previousId(id: StreamId): StreamId | undefined {
  if (id.seq > 0n) return { ms: id.ms, seq: id.seq - 1n };
  return id.ms > 0n ? { ms: id.ms - 1n, seq: UINT64_MAX } : undefined;
}

/** The entries of one stream key, oldest first, and the last id it ever handed out. */
export class Stream {
  readonly entries: StreamEntry[] = [];
  lastId: StreamId = MIN_ID;
  /** The nodes, oldest first: Redis's radix tree of listpacks, kept as counts only. */
  private readonly nodes: StreamNode[] = [];

  /**
   * The id XADD gives a new entry: `requested` as is, or with `seqGiven` false its sequence taken after
   * the last id's; without `requested`, the current millisecond (or the last id's, if the clock went back).
   */
  nextId(now: number, requested?: { id: StreamId; seqGiven: boolean }): StreamId {
    let id: StreamId;
    if (!requested) {
      const ms = BigInt(now);
      id = ms > this.lastId.ms ? { ms, seq: 0n } : (nextId(this.lastId) ?? MAX_ID);
    } else if (!requested.seqGiven && requested.id.ms === this.lastId.ms) {
      if (this.lastId.seq === UINT64_MAX) throw idTooSmall();
      id = { ms: this.lastId.ms, seq: this.lastId.seq + 1n };
    } else {
      id = requested.id;
    }
    if (compareIds(id, this.lastId) <= 0) throw idTooSmall();
    return id;
  }

  append(id: StreamId, fields: string[]): void {
    this.entries.push({ id, fields });
    this.lastId = id;
    const bytes = fields.reduce((sum, field) => sum + Buffer.byteLength(field) + ELEMENT_OVERHEAD_BYTES, 0);
    const tail = this.nodes.at(-1);
    if (tail && tail.total < NODE_ENTRIES && tail.bytes + bytes < NODE_BYTES) {
      tail.live++;
      tail.total++;
      tail.bytes += bytes;
    } else this.nodes.push({ live: 1, total: 1, bytes });
  }

  /**
   * Trims to `maxlen` entries, oldest first. Approximate trimming removes only whole nodes (so at least
   * `maxlen` remain) and at most `limit` entries; exact trimming removes exactly what is over.
   */
  trim(maxlen: number, approximate: boolean, limit: number): number {
    let removed = 0;
    for (let node = this.nodes[0]; node && this.entries.length - removed > maxlen; node = this.nodes[0]) {
      const over = this.entries.length - removed - maxlen;
      if (node.live <= over) {
        if (approximate && limit > 0 && removed + node.live > limit) break;
        this.nodes.shift();
        removed += node.live;
      } else {
        // Exact trimming marks entries deleted inside the node, which still counts them as taken.
        if (approximate) break;
        node.live -= over;
        removed += over;
      }
    }
    this.entries.splice(0, removed);
    return removed;
  }

  /** Entries with `start <= id <= end`, oldest first (newest first if `reverse`), at most `count` (0: all). */
  range(start: StreamId, end: StreamId, count: number, reverse: boolean): StreamEntry[] {
    const from = this.firstAtOrAfter(start);
    let to = this.firstAtOrAfter(end);
    if (to < this.entries.length && compareIds((this.entries[to] as StreamEntry).id, end) === 0) to++;
    if (from >= to) return [];
    const slice = this.entries.slice(from, to);
    if (reverse) slice.reverse();
    return count > 0 ? slice.slice(0, count) : slice;
  }

  private firstAtOrAfter(id: StreamId): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareIds((this.entries[middle] as StreamEntry).id, id) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

const idTooSmall = () =>
  new RedisError("ERR The ID specified in XADD is equal or smaller than the target stream top item");
