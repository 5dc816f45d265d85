import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config, Diagnostic, FileExtraction, RegistryModel } from "../types.js";
import { contentHash, ExtractionCache } from "./cache.js";
import { discoverFiles, jobFileMatcher } from "./discover.js";
import { extractJobs } from "./extract.js";
import { buildModel } from "./model.js";
import { typescript } from "./parser.js";

/**
 * One file's text as the parser should see it (UTF-8, without a byte-order mark), or undefined when it is gone.
 * Synchronous on purpose: for many small files it is ~10x faster than fs.promises (measured: 1,000 job files
 * in 17 ms against 180 ms), which dominates a re-run that parses nothing.
 */
function readJobFile(root: string, file: string): string | undefined {
  try {
    return readFileSync(join(root, file), "utf8").replace(/^\uFEFF/, "");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** What happened to a file since it was last read. */
export type FileChange = "added" | "changed" | "removed" | "unchanged";

/**
 * A project's job files, each extracted once and kept current: `open` discovers and extracts all of them
 * (what `generate` and `list` need), `update` re-reads only the files that changed (what `watch` needs),
 * and `build` checks them into the registry model. The same steps either way, so watch is never a
 * second generator.
 */
export class JobProject {
  private readonly extractions = new Map<string, FileExtraction>();
  /** The content hash each file had when it was last read (undefined: it did not exist). */
  private readonly hashes = new Map<string, string | undefined>();
  private matches: (file: string) => boolean;
  /** How many files the last `open`, `reload` or `update` had to parse (the rest came from the cache). */
  parsed = 0;

  private constructor(
    private current: Config,
    private readonly cache: ExtractionCache,
  ) {
    this.matches = jobFileMatcher(current.jobs);
  }

  /** Discovers and extracts every job file of the project. */
  static async open(config: Config, cache?: ExtractionCache): Promise<JobProject> {
    const project = new JobProject(config, cache ?? (await ExtractionCache.load(config.root)));
    await project.discover();
    return project;
  }

  get config(): Config {
    return this.current;
  }

  /** The job files known now, posix paths relative to the config's folder, sorted. */
  get files(): string[] {
    return [...this.extractions.keys()].sort();
  }

  /** Whether a path is a job file by the config's globs (the generated files never are). */
  isJobFile(file: string): boolean {
    return file !== this.current.registry && file !== this.current.route && this.matches(file);
  }

  /** Whether the project has extracted this file (it may no longer match after a config change). */
  has(file: string): boolean {
    return this.extractions.has(file);
  }

  /** Applies a new config: discovers and extracts every file again (through the cache). */
  async reload(config: Config): Promise<void> {
    this.current = config;
    this.matches = jobFileMatcher(config.jobs);
    this.extractions.clear();
    this.hashes.clear();
    await this.discover();
  }

  /** Re-reads these files, extracting the ones whose content changed; says what happened to each. */
  update(files: readonly string[]): Map<string, FileChange> {
    this.parsed = 0;
    return new Map(files.map((file) => [file, this.read(file)]));
  }

  /** Those of these files whose content on disk is no longer what was last read. */
  changedOnDisk(files: Iterable<string>): string[] {
    return [...files].filter((file) => {
      const text = readJobFile(this.current.root, file);
      return (text === undefined ? undefined : contentHash(text)) !== this.hashes.get(file);
    });
  }

  /** Every job file now on disk that is new or changed, and every known one that is gone. */
  async changedSinceRead(): Promise<string[]> {
    const onDisk = (await discoverFiles(this.current.root, this.current.jobs)).filter((file) => this.isJobFile(file));
    const gone = this.files.filter((file) => !onDisk.includes(file));
    return [...this.changedOnDisk(onDisk), ...gone];
  }

  /** All files' jobs, checked: the registry model, or the diagnostics that stop it. */
  build(): { model: RegistryModel; diagnostics: Diagnostic[] } {
    return buildModel(this.extractions);
  }

  /** Keeps what was parsed for the next run (`.qjobs/`). */
  saveCache(): Promise<void> {
    return this.cache.save();
  }

  private async discover(): Promise<void> {
    this.parsed = 0;
    const files = (await discoverFiles(this.current.root, this.current.jobs)).filter((file) => this.isJobFile(file));
    for (const file of files) this.read(file);
  }

  private read(file: string): FileChange {
    const known = this.hashes.get(file);
    const text = this.isJobFile(file) || this.extractions.has(file) ? readJobFile(this.current.root, file) : undefined;
    const hash = text === undefined ? undefined : contentHash(text);
    this.hashes.set(file, hash);
    if (text === undefined || hash === undefined || !this.isJobFile(file)) {
      const removed = this.extractions.delete(file);
      return removed ? "removed" : "unchanged";
    }
    const change: FileChange = known === undefined ? "added" : known === hash ? "unchanged" : "changed";
    let extraction = this.cache.get(file, hash);
    if (!extraction) {
      extraction = extractJobs(typescript(), file, text);
      this.cache.set(file, hash, extraction);
      this.parsed++;
    }
    this.extractions.set(file, extraction);
    return change;
  }
}
