import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";

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

/** A store for tests and `--no-persist`: state lives in memory only. */
export function memoryStore(): Store {
  return { append: () => undefined, flush: () => undefined, compact: () => undefined, size: 0, close: () => undefined };
}

const JOURNAL = "journal.jsonl";
const LOCK = "lock";

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Takes the state folder for this process: a lock file names the owner, so a second server on the same
 * state stops with a clear error instead of two processes delivering the same messages.
 */
function lock(dir: string): () => void {
  const file = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(file, "utf8").trim());
      if (owner && owner !== process.pid && isRunning(owner)) {
        throw new UserError(
          `Another qjobs dev (process ${owner}) is using the state in ${dir}. Stop it, or give this one --state-dir.`,
        );
      }
      rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  throw new UserError(`Could not lock the state folder ${dir}`);
}

/** Opens (creating) the journal in `dir`: returns the store and the records it held, in order. */
export function openJournal(
  dir: string,
  options: { fresh?: boolean } = {},
): { store: Store; records: JournalRecord[] } {
  mkdirSync(dir, { recursive: true });
  const unlock = lock(dir);
  const path = join(dir, JOURNAL);
  if (options.fresh) rmSync(path, { force: true });
  const records: JournalRecord[] = [];
  if (existsSync(path)) {
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as JournalRecord);
      } catch {
        // The last line of a journal cut by a crash mid-write: everything before it stands.
      }
    }
  }
  let fd = openSync(path, "a");
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
      const temporary = `${path}.tmp`;
      const out = openSync(temporary, "w");
      let count = 0;
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
      closeSync(out);
      closeSync(fd);
      renameSync(temporary, path);
      fd = openSync(path, "a");
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
  return { store, records };
}
