import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll } from "vitest";
import { repoRoot } from "../../../testkit/cli.js";

export { type CliRun, jobSource, repoRoot, runCli, spawnCli } from "../../../testkit/cli.js";
export const fixturesDir = join(repoRoot, "fixtures");

const created: string[] = [];
afterAll(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * A throwaway project, removed after the test file. `inRepo` puts it inside packages/cli so that
 * `@qjobs/runtime` and zod resolve from the workspace (for tsc and for importing generated code).
 */
export async function tempProject(
  files: Record<string, string> = {},
  options: { inRepo?: boolean; from?: string } = {},
): Promise<string> {
  const parent = options.inRepo ? join(repoRoot, "packages", "cli", ".tmp") : tmpdir();
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, "qjobs-test-"));
  created.push(dir);
  if (options.from)
    await cp(options.from, dir, { recursive: true, filter: (source) => !/[/\\](node_modules|\.qjobs)$/.test(source) });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}
