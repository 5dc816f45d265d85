// The local server's shape (issue 23): checked on the sources, so a change that breaks it fails here.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

async function sources(): Promise<{ path: string; text: string }[]> {
  const entries = await readdir(src, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile() && entry.name.endsWith(".ts"));
  return Promise.all(
    files.map(async (entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, text: await readFile(path, "utf8") };
    }),
  );
}

describe("the local server's shape (issue 23)", () => {
  it("imports nothing from the CLI: no arrow from packages/local up into the CLI's commands", async () => {
    const files = await sources();
    expect(files.length).toBeGreaterThan(30);
    const upward = files.flatMap(({ path, text }) =>
      [...text.matchAll(/from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g)]
        .map((match) => (match[1] ?? match[2]) as string)
        .filter((target) =>
          target.startsWith(".")
            ? !resolve(dirname(path), target).startsWith(src)
            : target.startsWith("#") || target.startsWith("@qjobs/cli"),
        )
        .map((target) => `${relative(root, path)} imports ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it("no file over 400 lines: the 1,100-line engine is the shape left behind", async () => {
    const long = (await sources())
      .map(({ path, text }) => ({ file: relative(root, path), lines: text.split("\n").length - 1 }))
      .filter(({ lines }) => lines > 400);
    expect(long).toEqual([]);
  });
});
