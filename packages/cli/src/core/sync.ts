import type { Config, Diagnostic, GeneratedFile, RegistryModel } from "../types.js";
import { loadConfig } from "./config.js";
import { emitFiles } from "./emit.js";
import { timeoutWarnings } from "./model.js";
import { scanProject } from "./scan.js";

export interface GenerateOptions {
  cwd: string;
  /** Write nothing; report which generated files are stale or missing. */
  check?: boolean;
}

export interface GenerateResult {
  readonly config: Config;
  readonly model: RegistryModel;
  /** Problems in job files; when there are any, nothing was written. */
  readonly diagnostics: readonly Diagnostic[];
  /** Things that work but will not do what the job says (written anyway). */
  readonly warnings: readonly Diagnostic[];
  /** The generated files and what happened to each (empty when there were diagnostics). */
  readonly files: readonly GeneratedFile[];
  readonly jobFiles: number;
  readonly parsed: number;
  readonly durationMs: number;
}

/**
 * Discovers the job files and writes (or, with `check`, checks) the registry and the route: `qjobs generate`,
 * and `qjobs init` after it set a project up. Here in core, so that no command imports another.
 */
export async function syncProject(options: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const check = options.check ?? false;
  const config = await loadConfig(options.cwd);
  const scan = await scanProject(config, { persistCache: !check });
  const files = scan.diagnostics.length > 0 ? [] : await emitFiles(config, scan.model, check);
  return {
    config,
    model: scan.model,
    diagnostics: scan.diagnostics,
    warnings: scan.diagnostics.length > 0 ? [] : timeoutWarnings(scan.model, config),
    files,
    jobFiles: scan.files.length,
    parsed: scan.parsed,
    durationMs: performance.now() - started,
  };
}
