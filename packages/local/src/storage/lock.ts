import { createHash, randomBytes } from "node:crypto";
import { closeSync, linkSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { UserError } from "../user-error.js";
import { createTemporary, openPrivate } from "./private-files.js";

/** Who holds a lock: the process, when it started (a reused PID is another process) and a nonce of its own. */
interface Owner {
  pid: number;
  /** The start time the operating system reports (/proc/<pid>/stat on Linux); empty where there is none. */
  start: string;
  nonce: string;
}

/** Locks this process holds, by nonce: a second store in the same process is refused like another process. */
const held = new Set<string>();

/** A process's start time, in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined elsewhere. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

function alive(owner: Owner): boolean {
  if (held.has(owner.nonce)) return true;
  if (!(owner.pid > 0) || owner.pid === process.pid || !isRunning(owner.pid)) return false;
  // A live process with the same PID but another start time is an unrelated one that reused the PID.
  const start = startTime(owner.pid);
  return start === undefined || owner.start === "" || start === owner.start;
}

/** The owner a lock file names, or undefined when it is gone. A lock of an older qjobs holds only a PID. */
function readOwner(root: string, file: string): Owner | undefined {
  let text: string;
  try {
    const { fd } = openPrivate(root, file, "r");
    try {
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    const owner = JSON.parse(text) as Partial<Owner>;
    if (typeof owner.pid === "number" && typeof owner.nonce === "string")
      return { pid: owner.pid, start: String(owner.start ?? ""), nonce: owner.nonce };
  } catch {
    // not JSON: an older lock, or garbage
  }
  const pid = Number(text.trim());
  // A lock nobody can be named in is stale; its text identifies it for the takeover.
  return {
    pid: Number.isInteger(pid) && pid > 0 ? pid : 0,
    start: "",
    nonce: `old-${Buffer.from(text).toString("hex").slice(0, 32)}`,
  };
}

const same = (a: Owner, b: Owner) => a.pid === b.pid && a.start === b.start && a.nonce === b.nonce;

const MAX_DEPTH = 8;

/**
 * Makes `file` name `me`, atomically (issue 20, item 11): a fresh lock is linked into place (link fails if
 * the name exists), never removed-then-created. A stale lock is replaced only by the process that first
 * creates its claim file (`<lock>.<nonce>.claim`, taken the same way, so a claim left by a crash is itself
 * stale and taken over), and only if the lock is still the stale one once the claim is held.
 */
function take(root: string, file: string, me: Owner, inUse: (owner: Owner) => Error, depth = 0): void {
  if (depth > MAX_DEPTH) throw new UserError(`Could not lock ${file}: too many interrupted takeovers; remove ${file}*`);
  const fresh = createTemporary(root, file, "new");
  try {
    writeSync(fresh.fd, JSON.stringify(me));
  } finally {
    closeSync(fresh.fd);
  }
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        linkSync(fresh.path, file);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const owner = readOwner(root, file);
      if (!owner) continue; // released in between: try again
      if (alive(owner)) throw inUse(owner);
      // Named by a hash: the nonce is the lock file's text, which a checked-out repository may have written.
      const claim = `${file}.${createHash("sha256").update(owner.nonce).digest("hex").slice(0, 32)}.claim`;
      take(root, claim, me, inUse, depth + 1);
      try {
        const still = readOwner(root, file);
        if (still && same(still, owner)) {
          renameSync(fresh.path, file);
          return;
        }
      } finally {
        rmSync(claim, { force: true });
      }
    }
    throw new UserError(`Could not lock ${file}: it kept changing`);
  } finally {
    rmSync(fresh.path, { force: true });
  }
}

/**
 * Takes the state folder for this process: the lock file names the owner, so a second server on the same
 * state stops with a clear error instead of two processes delivering the same messages. Returns the unlock.
 */
export function lockState(root: string, dir: string, file: string): () => void {
  const me: Owner = { pid: process.pid, start: startTime(process.pid) ?? "", nonce: randomBytes(16).toString("hex") };
  take(
    root,
    file,
    me,
    (owner) =>
      new UserError(
        `Another qjobs dev (process ${owner.pid}) is using the state in ${dir}. Stop it, or give this one --state-dir.`,
      ),
  );
  held.add(me.nonce);
  return () => {
    held.delete(me.nonce);
    const owner = readOwner(root, file);
    if (owner && same(owner, me)) rmSync(file, { force: true });
  };
}
