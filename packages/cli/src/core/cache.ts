import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ignoreQjobsFolder, writePrivateFile } from "#local/project";
import type { FileExtraction } from "../types.js";
import { version } from "../version.js";

/** Bump when extraction changes what it finds, so old caches are ignored; a new CLI release ignores them too. */
const CACHE_VERSION = `7/${version}`; // 7: jobs carry bareCronUnchecked and debounce
const CACHE_FILE = join(".qjobs", "extract-cache.json");

type Entries = Record<string, { hash: string; extraction: FileExtraction }>;

export function contentHash(text: string): string {
  return createHash("sha1").update(text).digest("base64url");
}

/**
 * What each job file held, keyed by path and content hash, in the gitignored `.qjobs/` folder.
 * A re-run that finds every file unchanged never loads the parser.
 */
export class ExtractionCache {
  private readonly previous: Entries;
  private readonly next: Entries = {};

  private constructor(
    private readonly root: string,
    previous: Entries,
  ) {
    this.previous = previous;
  }

  static async load(root: string): Promise<ExtractionCache> {
    try {
      const stored = JSON.parse(await readFile(join(root, CACHE_FILE), "utf8")) as {
        version?: string;
        entries?: Entries;
      };
      return new ExtractionCache(root, stored.version === CACHE_VERSION && stored.entries ? stored.entries : {});
    } catch {
      return new ExtractionCache(root, {}); // missing or unreadable: start over
    }
  }

  get(file: string, hash: string): FileExtraction | undefined {
    const entry = this.previous[file];
    if (entry?.hash !== hash) return undefined;
    this.next[file] = entry;
    return entry.extraction;
  }

  set(file: string, hash: string, extraction: FileExtraction): void {
    this.next[file] = { hash, extraction };
  }

  /** Keeps only the files seen in this run. */
  async save(): Promise<void> {
    const sorted = Object.fromEntries(Object.entries(this.next).sort(([a], [b]) => (a < b ? -1 : 1)));
    // Never through a link a checked-out repository planted: generate runs on pull-request checkouts in CI.
    writePrivateFile(
      this.root,
      join(this.root, CACHE_FILE),
      JSON.stringify({ version: CACHE_VERSION, entries: sorted }),
    );
    ignoreQjobsFolder(this.root);
  }
}
