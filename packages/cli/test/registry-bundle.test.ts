// Importing `dispatch` from the generated registry never makes a bundler see job code (issue 13).
import { join } from "node:path";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { edgeBundleOptions } from "../../../testkit/edge-bundle.js";
import { runCli, tempProject } from "./support.js";

describe("the registry's dispatch bundles without any job module", () => {
  it("an edge-style bundle of a file that imports dispatch holds no job file and nothing from node:", async () => {
    // Jobs with Node-only dependencies, as real ones have (a database driver, the file system).
    const job = (name: string, key: string) =>
      `import { readFileSync } from "node:fs";\nimport { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob(${JSON.stringify(key)}, { retries: 4, handler: async (payload: { id: string }) => void readFileSync(payload.id) });\n`;
    const dir = await tempProject(
      {
        "src/jobs/a.job.ts": job("a", "alpha"),
        "src/jobs/b.job.ts": job("b", "beta"),
        "src/app/.keep": "",
        "src/app/action.ts":
          'import { dispatch } from "../qjobs.gen";\nexport const go = (id: string) => dispatch("alpha", { id });\n',
      },
      { inRepo: true },
    );
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    const { metafile } = await build({
      ...edgeBundleOptions,
      entryPoints: [join(dir, "src/app/action.ts")],
      write: false,
    });
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.some((input) => input.endsWith("qjobs.gen.ts"))).toBe(true);
    expect(inputs.filter((input) => input.includes(".job."))).toEqual([]);
    const externals = Object.values(metafile.outputs).flatMap((output) =>
      output.imports.filter((i) => i.external).map((i) => i.path),
    );
    expect(externals.filter((path) => path.startsWith("node:"))).toEqual([]);
  });
});
