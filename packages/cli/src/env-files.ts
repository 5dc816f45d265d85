import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/**
 * A variable from the environment, else from the project's `.env.local` or `.env`, as Next.js reads them (with
 * Node's own parseEnv: the dotenv format needs no library here).
 */
export function projectEnv(cwd: string, name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env[name]) return env[name];
  for (const file of [".env.local", ".env"]) {
    try {
      const value = parseEnv(readFileSync(join(cwd, file), "utf8"))[name];
      if (value) return value;
    } catch {
      // no such file
    }
  }
  return undefined;
}
