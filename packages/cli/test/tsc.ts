import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fixturesDir, repoRoot } from "./support.js";

/** The two compilers the type-safety tests run: the workspace's TypeScript 5.9, and TypeScript 7 (native). */
export const compilers = {
  "typescript 5.9": join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
  "typescript 7": join(fixturesDir, "export-forms", "node_modules", "typescript-7", "bin", "tsc"),
};

/** Runs a compiler on a project's tsconfig.json (or another config file of the project). */
export function tsc(
  compiler: string,
  project: string,
  configFile = "tsconfig.json",
): { code: number | null; output: string } {
  const run = spawnSync(process.execPath, [compiler, "-p", join(project, configFile), "--pretty", "false"], {
    encoding: "utf8",
  });
  return { code: run.status, output: run.stdout + run.stderr };
}
