import type { Config, Diagnostic, RegistryModel } from "../types.js";
import { JobProject } from "./project.js";

export interface ScanResult {
  readonly model: RegistryModel;
  readonly diagnostics: readonly Diagnostic[];
  /** The job files found, posix paths relative to the config's folder. */
  readonly files: readonly string[];
  /** How many files had to be parsed (the rest came from the cache). */
  readonly parsed: number;
}

/**
 * Discovery → extraction → model, once: every job of the project, checked.
 * `persistCache: false` leaves the cache file untouched (for `--check`, which writes nothing).
 */
export async function scanProject(config: Config, options: { persistCache: boolean }): Promise<ScanResult> {
  const project = await JobProject.open(config);
  if (options.persistCache) await project.saveCache();
  const { model, diagnostics } = project.build();
  return { model, diagnostics, files: project.files, parsed: project.parsed };
}
