import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { edgeBundleOptions } from "../../../testkit/edge-bundle.js";

const runtimeEntry = fileURLToPath(new URL("../dist/index.js", import.meta.url));
let dir: string;
let metafile: Metafile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "qjobs-edge-"));
  const entry = join(dir, "route.ts");
  // What a generated route and a job module amount to on an edge runtime.
  await writeFile(
    entry,
    `import { createJob, createRouteHandler } from ${JSON.stringify(runtimeEntry)};
     const job = createJob("edge-job", async (payload: { n: number }) => payload.n);
     export const POST = createRouteHandler({ "edge-job": async () => job });`,
  );
  ({ metafile } = await build({
    ...edgeBundleOptions,
    entryPoints: [entry],
    outdir: join(dir, "out"),
    splitting: true,
  }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The outputs a request loads before any dynamic import: the entry and its static imports. */
function requestPath(meta: Metafile): { files: string[]; inputs: string[]; externals: string[] } {
  const entry = Object.keys(meta.outputs).find((file) => meta.outputs[file]?.entryPoint);
  const files: string[] = [];
  const externals: string[] = [];
  const queue = entry ? [entry] : [];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (files.includes(file)) continue;
    files.push(file);
    for (const imported of meta.outputs[file]?.imports ?? []) {
      if (imported.kind !== "import-statement") continue;
      if (imported.external) externals.push(imported.path);
      else queue.push(imported.path);
    }
  }
  const inputs = files.flatMap((file) => Object.keys(meta.outputs[file]?.inputs ?? {}));
  return { files, inputs, externals };
}

describe("the request path is edge-safe", () => {
  it("imports nothing from node: and does not load the QStash SDK", () => {
    const path = requestPath(metafile);
    expect(path.files.length).toBeGreaterThan(0);
    expect(path.inputs.some((input) => input.includes("route.js"))).toBe(true);
    expect(path.externals).toEqual([]);
    expect(path.inputs.filter((input) => input.includes("node_modules")).map((input) => relative(dir, input))).toEqual(
      [],
    );
  });

  it("keeps the SDK, which publishing needs, behind a dynamic import", () => {
    const all = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
    expect(all.some((input) => input.includes("@upstash/qstash"))).toBe(true);
  });
});
