import { journalRecordProblem } from "./qstash/journal-records.js";
import { REDIS_RECORD, redisRecordProblem } from "./redis/records.js";
import { type JournalNotice, type JournalRecord, openStore, type Store } from "./storage/journal.js";

export type { JournalNotice, JournalRecord, Store };

/** Each line checked by the service whose record it is: the local Redis's, else the local QStash's. */
const recordProblem = (value: unknown) =>
  (value as { k?: unknown } | null)?.k === REDIS_RECORD ? redisRecordProblem(value) : journalRecordProblem(value);

/**
 * Opens the local server's on-disk state: one journal beneath every service, each line checked by the
 * service whose record it is.
 */
export function openJournal(
  root: string,
  dir: string,
  options: { fresh?: boolean } = {},
): { store: Store; records: JournalRecord[]; notice: JournalNotice } {
  return openStore(root, dir, { ...options, recordProblem });
}

/** The live state of one service as journal records: what it keeps when the journal is compacted. */
export type LiveRecords = () => Iterable<JournalRecord>;

/**
 * One journal shared by several services. Each gets its own view of the store; a compaction, whichever
 * service asks for it, writes the live records of all of them (its own as it passes them, the others' as
 * they report them), so no service's state is dropped by another's compaction.
 */
export function shareJournal(store: Store): { section(live: LiveRecords): Store } {
  const sections: LiveRecords[] = [];
  return {
    section(live) {
      const index = sections.push(live) - 1;
      return {
        append: (record) => store.append(record),
        flush: () => store.flush(),
        get size() {
          return store.size;
        },
        close: () => store.close(),
        compact: (records) =>
          store.compact(
            (function* () {
              for (const [at, other] of sections.entries()) yield* at === index ? records : other();
            })(),
          ),
      };
    },
  };
}
