import { existsSync } from "node:fs";
import { join } from "node:path";
import { resolveJobsUrl } from "@qjobs/runtime";
import type { Config, Diagnostic, GeneratedFile, RegistryModel } from "../types.js";
import { CONFIG_FILE, isUnsetProject, loadConfig } from "./config.js";
import { emitFiles } from "./emit.js";
import { bareCronWarnings, callbackWarnings, timeoutWarnings } from "./model.js";
import { type ScanResult, scanProject } from "./scan.js";
import { flowControlWarnings } from "./templates.js";

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

/**
 * Discovers the job files and writes (or, with `check`, checks) the registry and the route: `qjobs generate`,
 * and `qjobs init` after it set a project up. Here in core, so that no command imports another.
 */
export async function syncProject(options: GenerateOptions): Promise<GenerateResult> {
  const started = performance.now();
  const check = options.check ?? false;
  const config = await loadConfig(options.cwd);
  const scan = await scanProject(config, { persistCache: !check });
  const unset = isUnsetProject(config, scan.files.length);
  const emit = scan.diagnostics.length === 0 && (!unset || (check && generatedFilesExist(config)));
  const files = emit ? await emitFiles(config, scan.model, check) : [];
  return {
    config,
    model: scan.model,
    diagnostics: scan.diagnostics,
    warnings:
      scan.diagnostics.length > 0
        ? []
        : [
            ...jobFileWarnings(config, scan, unset),
            ...bareCronWarnings(scan.model),
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

const generatedFilesExist = (config: Config) =>
  existsSync(join(config.root, config.registry)) || existsSync(join(config.root, config.route));

/** No job file at all (naming the globs), and each `*.job.ts` file with no job in it (it would be skipped silently). */
function jobFileWarnings(config: Config, scan: ScanResult, unset: boolean): Diagnostic[] {
  if (scan.files.length === 0) {
    const where = config.jobs.join(", ");
    return [
      {
        file: CONFIG_FILE,
        line: 1,
        column: 1,
        message: unset
          ? `no job files match ${where} here, and there is no ${CONFIG_FILE}: nothing was written. Run qjobs in your app's folder (--cwd), or qjobs init`
          : `no job files match ${where}: the registry and the route have no job`,
      },
    ];
  }
  const withJobs = new Set(scan.model.jobs.map((job) => job.file));
  return scan.files
    .filter((file) => !withJobs.has(file))
    .map((file) => ({
      file,
      line: 1,
      column: 1,
      message:
        'no job in this file: export one, e.g. `export const thumbnail = createJob("images/thumbnail", async (payload: { url: string }) => {})`',
    }));
}
