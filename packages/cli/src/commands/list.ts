import { loadConfig } from "../core/config.js";
import { scanProject } from "../core/scan.js";
import type { Diagnostic, RegisteredJob } from "../types.js";

export interface ListResult {
  /** Sorted by key. */
  readonly jobs: readonly RegisteredJob[];
  readonly diagnostics: readonly Diagnostic[];
}

/** `qjobs list`: the jobs the project defines. */
export async function list(options: { cwd: string }): Promise<ListResult> {
  const config = await loadConfig(options.cwd);
  const { model, diagnostics } = await scanProject(config, { persistCache: true });
  return { jobs: model.jobs, diagnostics };
}
