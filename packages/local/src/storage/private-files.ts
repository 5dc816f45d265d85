import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  writeSync,
} from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { UserError } from "../user-error.js";

/**
 * Writes under the project's `.qjobs/` folder (the dev state, its lock, generate's cache and `.gitignore`):
 * a checked-out repository decides what is there, so a committed symbolic link must never redirect a write
 * outside it (issue 20, item 2). Every path part from the project root is checked, files are opened without
 * following a link, temporary files are created exclusively under unpredictable names, and everything is
 * private to the user (folders 0700, files 0600: the journal holds forwarded secrets).
 *
 * Hand-written: write-file-atomic and the like follow links and take no project root to check from.
 */

/** Where the platform has it (not on Windows), opening a link fails (ELOOP) instead of following it. */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
const PRIVATE_FOLDER_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;

const linkError = (path: string, link: string) =>
  new UserError(
    `Refusing to write ${path}: ${link} is a symbolic link (a checked-out repository could point it anywhere). Remove the link.`,
  );

function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Whether `path` is `root` itself or outside it (a --state-dir elsewhere): no parts below the root to check. */
const outside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel);
};

/** The folders and file from `root` (excluded) down to `path`; just `path` when it is not under `root`. */
function partsBelow(root: string, path: string): string[] {
  if (outside(root, path)) return [path];
  const rel = relative(root, path);
  const parts: string[] = [];
  let current = root;
  for (const name of rel.split(sep)) {
    current = join(current, name);
    parts.push(current);
  }
  return parts;
}

/** Refuses, with an error naming it, when a part of `path` below `root` is a symbolic link. */
export function refuseLinks(root: string, path: string): void {
  for (const part of partsBelow(root, path)) if (lstatIfExists(part)?.isSymbolicLink()) throw linkError(path, part);
}

/**
 * Creates `dir` and its missing parents below `root` (0700), refusing links on the way. Returns the
 * missing-or-created folder's stats.
 */
function makeFolder(root: string, dir: string): Stats {
  for (const part of partsBelow(root, dir)) {
    const stats = lstatIfExists(part);
    if (stats?.isSymbolicLink()) throw linkError(dir, part);
    if (stats && !stats.isDirectory()) throw new UserError(`Cannot use ${dir}: ${part} is not a folder`);
    if (!stats) {
      try {
        // A --state-dir outside the project is created with its missing parents, as any tool would.
        mkdirSync(part, { mode: PRIVATE_FOLDER_MODE, recursive: outside(root, part) });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
  }
  const stats = lstatSync(dir);
  if (stats.isSymbolicLink()) throw linkError(dir, dir);
  return stats;
}

/**
 * The state folder (`.qjobs/dev` or --state-dir): created 0700, never through a link. A folder that another
 * user owns, or that group or others may write, is refused: they could plant links between two starts.
 * One that others may only read is tightened to 0700; the result says so, for the banner to tell once.
 */
export function privateFolder(root: string, dir: string): { tightened: boolean } {
  const stats = makeFolder(root, dir);
  // Windows has no owner or mode bits to check here (it reports 0o666 for everything).
  if (process.platform === "win32") return { tightened: false };
  if (typeof process.getuid === "function" && stats.uid !== process.getuid())
    throw new UserError(`Refusing to use ${dir}: it belongs to another user (uid ${stats.uid}).`);
  if (stats.mode & 0o022)
    throw new UserError(
      `Refusing to use ${dir}: group or others may write it (mode ${(stats.mode & 0o777).toString(8)}), so they could plant links in it. Run chmod 700 on it.`,
    );
  if ((stats.mode & 0o777) === PRIVATE_FOLDER_MODE) return { tightened: false };
  chmodSync(dir, PRIVATE_FOLDER_MODE);
  return { tightened: true };
}

/**
 * Opens a file of the project's `.qjobs/` without following a link: `flags` as for fs.openSync
 * ("a", "r+", "wx"...). A file created is 0600; an existing one readable by others is tightened to 0600,
 * and `tightened` says so.
 */
export function openPrivate(root: string, path: string, flags: string): { fd: number; tightened: boolean } {
  refuseLinks(root, path);
  let fd: number;
  try {
    fd = openSync(path, numericFlags(flags) | NO_FOLLOW, PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") throw linkError(path, path);
    throw error;
  }
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw new UserError(`Cannot use ${path}: it is not a regular file`);
  }
  const tightened = process.platform !== "win32" && (stats.mode & 0o777 & ~PRIVATE_FILE_MODE) !== 0;
  if (tightened) chmodSync(path, PRIVATE_FILE_MODE);
  return { fd, tightened };
}

function numericFlags(flags: string): number {
  const { O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } = constants;
  const table: Record<string, number> = {
    r: O_RDONLY,
    "r+": O_RDWR,
    a: O_WRONLY | O_APPEND | O_CREAT,
    "a+": O_RDWR | O_APPEND | O_CREAT,
    wx: O_WRONLY | O_CREAT | O_EXCL,
    w: O_WRONLY | O_CREAT | O_TRUNC,
  };
  const value = table[flags];
  if (value === undefined) throw new Error(`unsupported open flags ${flags}`);
  return value;
}

/** A new file beside `path` under a name nobody can guess, created exclusively (0600), never through a link. */
export function createTemporary(root: string, path: string, suffix = "tmp"): { fd: number; path: string } {
  const temporary = `${path}.${randomBytes(8).toString("hex")}.${suffix}`;
  return { fd: openPrivate(root, temporary, "wx").fd, path: temporary };
}

/**
 * Replaces `path` with what `write` puts in a fresh temporary file, by a rename (atomic; a rename replaces
 * a link rather than following it, and links were refused before). The temporary file goes on failure.
 */
export function replacePrivateFile(root: string, path: string, write: (fd: number) => void): void {
  makeFolder(root, dirname(path));
  refuseLinks(root, path);
  const temporary = createTemporary(root, path);
  try {
    write(temporary.fd);
    closeSync(temporary.fd);
    renameSync(temporary.path, path);
  } catch (error) {
    try {
      closeSync(temporary.fd);
    } catch {
      // already closed
    }
    rmSync(temporary.path, { force: true });
    throw error;
  }
}

/**
 * Writes `content` to `path` under the project's `.qjobs/` when it differs (see replacePrivateFile); a link
 * is refused even when nothing would change. Returns whether it wrote.
 */
export function writePrivateFile(root: string, path: string, content: string): boolean {
  refuseLinks(root, path);
  let current: string | undefined;
  try {
    current = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (current === content) return false;
  replacePrivateFile(root, path, (fd) => {
    writeSync(fd, content);
  });
  return true;
}

/** The `.qjobs/` folder ignores itself, so it never shows up in git, even before `qjobs init` lists it. */
export function ignoreQjobsFolder(root: string): void {
  writePrivateFile(root, join(root, ".qjobs", ".gitignore"), "*\n");
}
