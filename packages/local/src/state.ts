import { journalRecordProblem } from "./qstash/journal-records.js";
import { type JournalNotice, type JournalRecord, openStore, type Store } from "./storage/journal.js";

export type { JournalNotice, JournalRecord, Store };

/**
 * Opens the local server's on-disk state: one journal beneath every service, each line checked by the
 * service whose record it is.
 */
export function openJournal(
  root: string,
  dir: string,
  options: { fresh?: boolean } = {},
): { store: Store; records: JournalRecord[]; notice: JournalNotice } {
  return openStore(root, dir, { ...options, recordProblem: journalRecordProblem });
}
