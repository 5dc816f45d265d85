import picomatch from "picomatch";
import { glob } from "tinyglobby";

/** Folders that never hold job files and are never searched. */
export const IGNORED_DIRS: ReadonlySet<string> = new Set(["node_modules", ".git", ".next", "dist", ".qjobs", ".turbo"]);

const ignore = [...IGNORED_DIRS].map((dir) => `**/${dir}/**`);

// Dot-folders are searched, as the first version's walker did: a job in `src/.internal/` must not silently
// drop out of the registry. Symlinks are not followed (the config check bounds where globs may lead).
const options = { dot: true } as const;

/** The folder a glob can be walked from: its part before the first wildcard. */
export function staticBase(pattern: string): string {
  return picomatch.scan(pattern).base;
}

/** Whether a path (posix, relative to the config's folder) matches any of the globs. */
export function jobFileMatcher(globs: readonly string[]): (file: string) => boolean {
  return picomatch([...globs], options);
}

/**
 * The files under `root` that match any of the globs: sorted, posix paths relative to root.
 * node_modules, .git, .next, dist, .qjobs and .turbo are never searched.
 */
export async function discoverFiles(root: string, globs: readonly string[]): Promise<string[]> {
  const files = await glob([...globs], {
    ...options,
    cwd: root,
    ignore,
    onlyFiles: true,
    followSymbolicLinks: false,
    expandDirectories: false,
  });
  return files.sort();
}
