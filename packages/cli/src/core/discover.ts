import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** Folders that never hold job files and are never searched. */
export const IGNORED_DIRS: ReadonlySet<string> = new Set(["node_modules", ".git", ".next", "dist", ".qjobs", ".turbo"]);

function escape(text: string): string {
  return text.replace(/[.+^$()|[\]\\]/g, "\\$&");
}

/** A glob (`**`, `*`, `?`, `{a,b}`) as a regular expression over posix paths. */
export function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === "*" && glob[i + 1] === "*") {
      const atSegmentStart = i === 0 || glob[i - 1] === "/";
      const atSegmentEnd = glob[i + 2] === "/" || i + 2 === glob.length;
      i++;
      if (atSegmentStart && glob[i + 1] === "/") {
        source += "(?:[^/]+/)*"; // `**/`: any number of folders, none included
        i++;
      } else if (atSegmentStart && atSegmentEnd) {
        source += ".*";
      } else {
        source += "[^/]*";
      }
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "{") {
      const end = glob.indexOf("}", i);
      if (end === -1) source += "\\{";
      else {
        source += `(?:${glob
          .slice(i + 1, end)
          .split(",")
          .map(escape)
          .join("|")})`;
        i = end;
      }
    } else source += escape(char);
  }
  return new RegExp(`^${source}$`);
}

/** The folder a glob can be walked from: its segments before the first wildcard. */
export function staticBase(glob: string): string {
  const segments = glob.split("/");
  const base: string[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (/[*?{]/.test(segment)) break;
    base.push(segment);
  }
  return base.join("/");
}

/**
 * The files under `root` that match any of the globs: sorted, posix paths relative to root.
 * node_modules, .git, .next, dist and .qjobs are never searched.
 */
export async function discoverFiles(root: string, globs: readonly string[]): Promise<string[]> {
  const patterns = globs.map(globToRegExp);
  const bases = [...new Set(globs.map(staticBase))].sort();
  // Walk each base once; a base inside another is covered by the outer walk.
  const roots = bases.filter(
    (base) => !bases.some((other) => other !== base && (other === "" || base.startsWith(`${other}/`))),
  );
  const found = new Set<string>();

  async function walk(dir: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(root, dir), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR")
        return;
      throw error;
    }
    const subfolders: Promise<void>[] = [];
    for (const entry of entries) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!IGNORED_DIRS.has(entry.name)) subfolders.push(walk(path));
      } else if (entry.isFile() && patterns.some((pattern) => pattern.test(path))) {
        found.add(path);
      }
    }
    await Promise.all(subfolders);
  }

  await Promise.all(roots.map(walk));
  return [...found].sort();
}
