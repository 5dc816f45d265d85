// Bundles the local server (@qjobs/local, a private workspace package) into dist/local, so the published CLI
// carries it: users install @qjobs/cli and @qjobs/runtime only, and `npm install` needs nothing off the
// registry. The CLI imports it as `#local` (package.json "imports"); its own dependencies stay external,
// resolved from the CLI's.
import { build } from "esbuild";

const root = new URL("../", import.meta.url);
await build({
  entryPoints: [new URL("../local/src/index.ts", root).pathname],
  outfile: new URL("dist/local/index.js", root).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  legalComments: "none",
  logLevel: "warning",
});
