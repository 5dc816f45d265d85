import { closeSync, ftruncateSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { lockState } from "./lock.js";
import { createTemporary, openPrivate, privateFolder, refuseLinks, replacePrivateFile } from "./private-files.js";

/**
 * Where `qjobs dev` keeps its state so that a restart or a crash loses no message: an append-only journal
 * of JSON lines, replayed at start and compacted now and then (the live state rewritten, renamed over).
 * A journal rather than an embedded database: better-sqlite3 downloads its binary at install time (here it
 * would compile from source on every fresh machine), and node:sqlite needs Node 22.
 *
 * Durability, as QStash promises it: a record reaches the operating system (write(2), no fsync) before the
 * API answers, so a crash of the process loses nothing that was accepted; a crash of the machine may.
 */
export interface Store {
  /** Records a change; it reaches the journal at the next `flush`, at the latest before the next API answer. */
  append(record: JournalRecord): void;
  /** Hands every appended record to the operating system. */
  flush(): void;
  /** Replaces the journal with these records: the live state, nothing that is gone. */
  compact(records: Iterable<JournalRecord>): void;
  /** How many records the journal holds (compaction is due when it outgrows the live state). */
  readonly size: number;
  close(): void;
}

/** One change of state. `k` says what it is about; the rest is its data, as JSON. */
export type JournalRecord = { k: string } & Record<string, unknown>;

/** Why a parsed line is not a record its service can resume from, or undefined when it is one. */
export type RecordCheck = (value: unknown) => string | undefined;

/** A store for tests and `--in-memory`: state lives in memory only. */
export function memoryStore(): Store {
  return { append: () => undefined, flush: () => undefined, compact: () => undefined, size: 0, close: () => undefined };
}

const JOURNAL = "journal.jsonl";
const LOCK = "lock";

/** What opening the journal found that the user should hear about (printed once, at start). */
export interface JournalNotice {
  /** The folder or journal was readable by others: now 0700 / 0600. */
  tightened: boolean;
  /** Lines that were not records, by line number (1-based), with why: skipped. */
  skipped: { line: number; reason: string }[];
  /** The journal ended in a cut line (a crash mid-write): cut back to its last complete line. */
  cut: boolean;
  /** Where the journal as found was kept before anything rewrote it, when lines were skipped or cut. */
  keptAside?: string;
}

/** The journal's records, and the lines that are not ones (by number); text after the last newline is no line. */
function readRecords(
  text: string,
  recordProblem: RecordCheck,
): { records: JournalRecord[]; skipped: JournalNotice["skipped"] } {
  const records: JournalRecord[] = [];
  const skipped: JournalNotice["skipped"] = [];
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a line cut by a crash mid-write
  lines.forEach((line, index) => {
    if (!line) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skipped.push({ line: index + 1, reason: "not JSON" });
      return;
    }
    const problem = recordProblem(value);
    if (problem) skipped.push({ line: index + 1, reason: problem });
    else records.push(value as JournalRecord);
  });
  return { records, skipped };
}

/**
 * Opens (creating) the journal in `dir`: returns the store, the records it held, in order, and what the
 * user should hear about it. `root` is the project: no part of the path below it may be a link.
 */
export function openStore(
  root: string,
  dir: string,
  options: { fresh?: boolean; recordProblem?: RecordCheck } = {},
): { store: Store; records: JournalRecord[]; notice: JournalNotice } {
  const folder = privateFolder(root, dir);
  const unlock = lockState(root, dir, join(dir, LOCK));
  const path = join(dir, JOURNAL);
  let records: JournalRecord[] = [];
  const notice: JournalNotice = { tightened: folder.tightened, skipped: [], cut: false };
  let opened: { fd: number; tightened: boolean } | undefined;
  try {
    if (options.fresh) {
      refuseLinks(root, path);
      rmSync(path, { force: true });
    }
    opened = openPrivate(root, path, "a+");
    notice.tightened ||= opened.tightened;
    const bytes = readFileSync(opened.fd);
    const text = bytes.toString("utf8");
    const read = readRecords(text, options.recordProblem ?? (() => undefined));
    records = read.records;
    notice.skipped = read.skipped;
    const complete = bytes.lastIndexOf(0x0a) + 1; // the bytes up to the last newline
    notice.cut = complete < bytes.length;
    if (notice.cut || notice.skipped.length > 0) {
      // Kept before the cut below or the next compaction drops what could not be read.
      const aside = createTemporary(root, path, "unreadable");
      writeSync(aside.fd, bytes);
      closeSync(aside.fd);
      notice.keptAside = aside.path;
    }
    // An append after a cut line would join it, and be lost with it at the next start.
    if (notice.cut) ftruncateSync(opened.fd, complete);
  } catch (error) {
    if (opened) closeSync(opened.fd);
    unlock();
    throw error;
  }
  let fd = opened.fd;
  let pending: string[] = [];
  let size = records.length;
  let scheduled = false;
  // After close, changes are not kept: what finishes after a stop is delivered again at the next start.
  let closed = false;
  const store: Store = {
    append(record) {
      if (closed) return;
      pending.push(JSON.stringify(record));
      size++;
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => store.flush());
      }
    },
    flush() {
      scheduled = false;
      if (closed || pending.length === 0) return;
      const text = `${pending.join("\n")}\n`;
      pending = [];
      writeSync(fd, text);
    },
    compact(live) {
      if (closed) return;
      store.flush();
      let count = 0;
      replacePrivateFile(root, path, (out) => {
        let chunk: string[] = [];
        for (const record of live) {
          chunk.push(JSON.stringify(record));
          count++;
          if (chunk.length >= 1000) {
            writeSync(out, `${chunk.join("\n")}\n`);
            chunk = [];
          }
        }
        if (chunk.length > 0) writeSync(out, `${chunk.join("\n")}\n`);
      });
      closeSync(fd);
      fd = openPrivate(root, path, "a").fd;
      size = count;
    },
    get size() {
      return size;
    },
    close() {
      if (closed) return;
      store.flush();
      closed = true;
      closeSync(fd);
      unlock();
    },
  };
  return { store, records, notice };
}
