import { resolveJobsUrl } from "@qjobs/runtime";
import { loadConfig } from "../core/config.js";
import { emitFiles } from "../core/emit.js";
import { callbackWarnings, timeoutWarnings } from "../core/model.js";
import { scanProject } from "../core/scan.js";
import { flowControlWarnings } from "../core/templates.js";
import type { Config, Diagnostic, GeneratedFile, RegistryModel } from "../types.js";

export interface GenerateOptions {
  cwd: string;
  /** Write nothing; report which generated files are stale or missing. */
  check?: boolean;
  /** Where QJOBS_URL comes from (to tell the app's callbacks from others'); `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The jobs URL, when the environment names a valid one; a bad one is for the route and dispatch to refuse. */
function knownJobsUrl(env: Readonly<Record<string, string | undefined>>): URL | undefined {
  try {
    return resolveJobsUrl(env);
  } catch {
    return undefined;
  }
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

/** `qjobs generate`: discovers the job files and writes the registry and the route. */
export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const check = options.check ?? false;
  const config = await loadConfig(options.cwd);
  const scan = await scanProject(config, { persistCache: !check });
  const files = scan.diagnostics.length > 0 ? [] : await emitFiles(config, scan.model, check);
  return {
    config,
    model: scan.model,
    diagnostics: scan.diagnostics,
    warnings:
      scan.diagnostics.length > 0
        ? []
        : [
            ...timeoutWarnings(scan.model, config),
            ...flowControlWarnings(scan.model),
            ...callbackWarnings(scan.model, knownJobsUrl(options.env ?? process.env)),
          ],
    files,
    jobFiles: scan.files.length,
    parsed: scan.parsed,
    durationMs: performance.now() - started,
  };
}
