// What reaches a browser from @qjobs/runtime/client and /react (issue 19): no environment, no QStash, no store
// client; the react entry is a client module; and the route's and registry's server bundles hold no React.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { edgeBundleOptions } from "../../../testkit/edge-bundle.js";

const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

/** Every file an entry bundles, and the text of the bundle. */
async function bundle(entry: string, options: { platform: "browser" | "neutral"; external?: string[] }) {
  const result = await build({
    ...edgeBundleOptions,
    platform: options.platform,
    entryPoints: [entry],
    write: false,
    external: [...edgeBundleOptions.external, ...(options.external ?? [])],
  });
  return {
    text: result.outputFiles.map((file) => file.text).join("\n"),
    inputs: Object.keys(result.metafile.inputs),
  };
}

describe("the browser entries", () => {
  it('the built react entry starts with "use client" (a Next.js client module)', async () => {
    expect((await readFile(dist("react.js"), "utf8")).startsWith('"use client";')).toBe(true);
  });

  for (const entry of ["client.js", "react.js"]) {
    it(`a browser bundle of ${entry} holds no process.env, QSTASH_ or @upstash/`, async () => {
      const { text, inputs } = await bundle(dist(entry), { platform: "browser", external: ["react"] });
      expect(text).not.toContain("process.env");
      expect(text).not.toContain("QSTASH_");
      expect(text).not.toContain("@upstash/");
      expect(inputs.filter((input) => input.includes("node_modules"))).toEqual([]);
    });
  }

  it("the route's and registry's edge bundle (@qjobs/runtime) holds no React", async () => {
    const { inputs, text } = await bundle(dist("index.js"), { platform: "neutral" });
    expect(inputs.filter((input) => /[\\/]react(-dom)?[\\/]|react\.js$|run-hook\.js$/.test(input))).toEqual([]);
    expect(text).not.toContain("useSyncExternalStore");
  });
});
