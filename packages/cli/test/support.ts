import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const fixturesDir = join(repoRoot, "fixtures");
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns the built CLI as a user would, without colors unless the env asks for them. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

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
