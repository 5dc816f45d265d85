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
 * they report them), so no service's state is dropped by another's compaction. A view's `size` leaves out
 * the lines the other services appended since the last compaction: each decides when to compact from its own
 * traffic (runs write to the Redis at every delivery, and must not make the QStash engine rewrite the journal).
 */
export function shareJournal(store: Store): { section(live: LiveRecords): Store } {
  const sections: { live: LiveRecords; appended: number }[] = [];
  return {
    section(live) {
      const mine = { live, appended: 0 };
      sections.push(mine);
      const others = () => sections.reduce((sum, section) => sum + (section === mine ? 0 : section.appended), 0);
      return {
        append: (record) => {
          mine.appended++;
          store.append(record);
        },
        flush: () => store.flush(),
        get size() {
          return store.size - others();
        },
        close: () => store.close(),
        compact: (records) => {
          store.compact(
            (function* () {
              for (const section of sections) yield* section === mine ? records : section.live();
            })(),
          );
          for (const section of sections) section.appended = 0;
        },
      };
    },
  };
}
