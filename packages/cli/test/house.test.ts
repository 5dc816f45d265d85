// The house rules that keep the CLI in shape (shared/STYLE.md): checked on the sources, so a change that
// breaks one fails here rather than in review.
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./support.js";

const commandsDir = join(repoRoot, "packages", "cli", "src", "commands");

describe("the CLI's shape", () => {
  it("no command imports another command: what two share lives in core/ (issue 21: init imported generate)", async () => {
    const files = (await readdir(commandsDir)).filter((file) => file.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(3);
    const imports = await Promise.all(
      files.map(async (file) => {
        const text = await readFile(join(commandsDir, file), "utf8");
        const siblings = [...text.matchAll(/from\s+"(\.\/[^"]+)"|import\(\s*"(\.\/[^"]+)"\s*\)/g)];
        return siblings.map((match) => `${file} imports ${match[1] ?? match[2]}`);
      }),
    );
    expect(imports.flat()).toEqual([]);
  });
});

describe("the packed packages (issue 21)", () => {
  it.each(["runtime", "cli"])("@qjobs/%s carries its README and the repository's LICENSE", async (name) => {
    const dir = join(repoRoot, "packages", name);
    const pack = spawnSync("pnpm", ["pack", "--dry-run", "--json"], { cwd: dir, encoding: "utf8" });
    expect(pack.status, pack.stderr).toBe(0);
    const files = (JSON.parse(pack.stdout) as { files: { path: string }[] }).files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(["README.md", "LICENSE", "package.json"]));
    // One license: each package's copy is the repository's.
    expect(await readFile(join(dir, "LICENSE"), "utf8")).toBe(await readFile(join(repoRoot, "LICENSE"), "utf8"));
  });
});

describe("the local server inside the CLI (issue 23)", () => {
  it("the packed @qjobs/cli carries @qjobs/local in its files and depends on nothing off the registry", async () => {
    const dir = await mkdtemp(join(tmpdir(), "qjobs-pack-"));
    try {
      const cli = join(repoRoot, "packages", "cli");
      const pack = spawnSync("pnpm", ["pack", "--pack-destination", dir, "--json"], { cwd: cli, encoding: "utf8" });
      expect(pack.status, pack.stderr).toBe(0);
      const packed = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] };
      expect(packed.files.map((file) => file.path)).toContain("dist/local/index.js");
      const untar = spawnSync("tar", ["-xzf", packed.filename, "-C", dir], { encoding: "utf8" });
      expect(untar.status, untar.stderr).toBe(0);
      const manifest = JSON.parse(await readFile(join(dir, "package", "package.json"), "utf8")) as Record<
        string,
        Record<string, string> | undefined
      >;
      const needed = { ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies };
      expect(Object.keys(needed)).not.toContain("@qjobs/local");
      expect(Object.keys(needed).filter((name) => name.startsWith("@qjobs/"))).toEqual(["@qjobs/runtime"]);
      expect(Object.values(needed).filter((range) => range.startsWith("workspace:"))).toEqual([]);
      // What the bundle imports by name is all declared: a dependency it forgot would fail only after install.
      const bundle = await readFile(join(dir, "package", "dist", "local", "index.js"), "utf8");
      const imported = new Set(
        [...bundle.matchAll(/from\s*"([^".][^"]*)"/g)]
          .map((match) => match[1] as string)
          .filter((name) => !name.startsWith("node:")),
      );
      for (const name of imported)
        expect(Object.keys(needed), name).toContain(
          name
            .split("/")
            .slice(0, name.startsWith("@") ? 2 : 1)
            .join("/"),
        );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("help texts agree with the README (issue 21)", () => {
  it("qjobs dev --help says what the README says of QSTASH_DEV and of the public development keys", async () => {
    const readme = await readFile(join(repoRoot, "README.md"), "utf8");
    const help = (await runCli(["dev", "--help"])).stdout.replace(/\s+/g, " ");
    const rule = "every jobs URL on a loopback address or NODE_ENV development or test";
    expect(help).toContain(`accepted only for local use, ${rule}`);
    expect(readme.replace(/\s+/g, " ")).toContain(
      "accepted only for local use (every jobs URL on a loopback address, or `NODE_ENV` `development` or `test`)",
    );
    const qstashDev =
      "qjobs reads QSTASH_URL, never QSTASH_DEV: with the public token and no QSTASH_URL, dispatch refuses at once";
    expect(help).toContain(qstashDev);
    expect(readme.replace(/`/g, "").replace(/\s+/g, " ")).toContain(qstashDev);
    expect(help).not.toContain("refused in production");
  });
});
