import { formatScore } from "./arguments.js";
import type { WriteRecord } from "./command.js";
import type { Keyspace, Value } from "./keyspace.js";
import { compareIds, formatId } from "./stream.js";

/** The commands that recreate one key's value (its expiry aside). */
function valueCommands(key: string, value: Value, expiresAt: number | undefined): string[][] {
  switch (value.type) {
    case "string":
      return [["SET", key, value.data, ...(expiresAt !== undefined ? ["PXAT", String(expiresAt)] : [])]];
    case "hash":
      return [["HSET", key, ...[...value.data].flat()]];
    case "zset":
      return [
        [
          "ZADD",
          key,
          ...value.data
            .byRank(0, value.data.size - 1, false)
            .flatMap(({ member, score }) => [formatScore(score), member]),
        ],
      ];
    case "stream": {
      const stream = value.data;
      // An empty stream still remembers its last id: made by an entry trimmed at once, then XSETID.
      const entries = stream.entries.length
        ? stream.entries.map((entry) => ["XADD", key, formatId(entry.id), ...entry.fields])
        : [["XADD", key, "MAXLEN", "=", "0", "0-1", "f", "v"]];
      const top = stream.entries.at(-1);
      const lastIdMoved = !top || compareIds(top.id, stream.lastId) !== 0;
      return lastIdMoved ? [...entries, ["XSETID", key, formatId(stream.lastId)]] : entries;
    }
  }
}

/**
 * Records that rebuild the keys live at `now`, all dated `now`: a SET, HSET or ZADD per key, an XADD per
 * stream entry, and PEXPIREAT where a key expires. (Stream nodes are packed afresh, as when Redis loads a
 * rewritten append-only file, so a later `MAXLEN ~` may keep a few more entries than it would have.)
 */
export function snapshotRecords(keys: Keyspace, now: number): WriteRecord[] {
  const records: WriteRecord[] = [];
  for (const { key, value, expiresAt } of keys.live(now)) {
    for (const command of valueCommands(key, value, expiresAt)) records.push({ at: now, command });
    if (expiresAt !== undefined && value.type !== "string")
      records.push({ at: now, command: ["PEXPIREAT", key, String(expiresAt)] });
  }
  return records;
}
