import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config, Diagnostic, FileExtraction, RegistryModel } from "../types.js";
import { contentHash, ExtractionCache } from "./cache.js";
import { discoverFiles } from "./discover.js";
import { extractJobs } from "./extract.js";
import { buildModel } from "./model.js";
import { typescript } from "./parser.js";

export interface ScanResult {
  readonly model: RegistryModel;
  readonly diagnostics: readonly Diagnostic[];
  /** The job files found, posix paths relative to the config's folder. */
  readonly files: readonly string[];
  /** How many files had to be parsed (the rest came from the cache). */
  readonly parsed: number;
}

/**
 * One file's text as the parser should see it: UTF-8, without a byte-order mark.
 * Synchronous on purpose: for many small files it is ~10x faster than fs.promises (measured: 1,000
 * job files in 17 ms against 180 ms), which dominates a re-run that parses nothing.
 */
export function readJobFile(root: string, file: string): string {
  return readFileSync(join(root, file), "utf8").replace(/^\uFEFF/, "");
}

/** Extracts one file, through the cache when it has this exact content. */
export function extractWithCache(
  cache: ExtractionCache | undefined,
  file: string,
  text: string,
): { extraction: FileExtraction; parsed: boolean } {
  const hash = contentHash(text);
  const cached = cache?.get(file, hash);
  if (cached) return { extraction: cached, parsed: false };
  const extraction = extractJobs(typescript(), file, text);
  cache?.set(file, hash, extraction);
  return { extraction, parsed: true };
}

/**
 * Discovery → extraction → model: every job of the project, checked.
 * `persistCache: false` leaves the cache file untouched (for `--check`, which writes nothing).
 */
export async function scanProject(config: Config, options: { persistCache: boolean }): Promise<ScanResult> {
  const generated = new Set([config.registry, config.route]);
  const files = (await discoverFiles(config.root, config.jobs)).filter((file) => !generated.has(file));
  const cache = await ExtractionCache.load(config.root);
  const texts = files.map((file) => readJobFile(config.root, file));
  const extractions = new Map<string, FileExtraction>();
  let parsed = 0;
  files.forEach((file, index) => {
    const result = extractWithCache(cache, file, texts[index] as string);
    extractions.set(file, result.extraction);
    if (result.parsed) parsed++;
  });
  if (options.persistCache) await cache.save();
  const { model, diagnostics } = buildModel(extractions);
  return { model, diagnostics, files, parsed };
}
