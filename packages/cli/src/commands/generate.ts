import { type GenerateOptions, type GenerateResult, syncProject } from "../core/sync.js";

export type { GenerateOptions, GenerateResult };

/** `qjobs generate`: discovers the job files and writes the registry and the route. */
export function generate(options: GenerateOptions): Promise<GenerateResult> {
  return syncProject(options);
}
