import { join } from "node:path";
import { loadConfig } from "../core/config.js";
import { renderRegistry, renderRoute } from "../core/render.js";
import { scanProject } from "../core/scan.js";
import { readIfExists, writeIfChanged } from "../core/write.js";
import type { Config, Diagnostic, GeneratedFile, RegistryModel } from "../types.js";

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
  /** The generated files and what happened to each (empty when there were diagnostics). */
  readonly files: readonly GeneratedFile[];
  readonly jobFiles: number;
  readonly parsed: number;
  readonly durationMs: number;
}

/** The two generated files for a model, path → content. */
export function renderFiles(config: Config, model: RegistryModel): [path: string, content: string][] {
  return [
    [config.registry, renderRegistry(model, config)],
    [config.route, renderRoute(config)],
  ];
}

/** Writes (or with `check`, compares) each generated file. */
export async function emitFiles(config: Config, model: RegistryModel, check: boolean): Promise<GeneratedFile[]> {
  return Promise.all(
    renderFiles(config, model).map(async ([path, content]): Promise<GeneratedFile> => {
      const absolute = join(config.root, path);
      if (!check) return { path, status: (await writeIfChanged(absolute, content)) ? "written" : "unchanged" };
      const current = await readIfExists(absolute);
      return { path, status: current === undefined ? "missing" : current === content ? "unchanged" : "stale" };
    }),
  );
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
    files,
    jobFiles: scan.files.length,
    parsed: scan.parsed,
    durationMs: performance.now() - started,
  };
}
