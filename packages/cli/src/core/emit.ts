import { join } from "node:path";
import type { Config, GeneratedFile, RegistryModel } from "../types.js";
import { renderRegistry, renderRoute } from "./render.js";
import { readIfExists, writeIfChanged } from "./write.js";

/** The two generated files for a model, path → content. */
function renderFiles(config: Config, model: RegistryModel): [path: string, content: string][] {
  return [
    [config.registry, renderRegistry(model, config)],
    [config.route, renderRoute(model, config)],
  ];
}

/** Writes each generated file when its content changed, or with `check`, only compares it. */
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
