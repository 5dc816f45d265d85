// Bundles the local server (@qjobs/local, a private workspace package) into dist/local, so the published CLI
// carries it: users install @qjobs/cli and @qjobs/runtime only, and `npm install` needs nothing off the
// registry. The CLI imports it as `#local` (package.json "imports"); its own dependencies stay external,
// resolved from the CLI's.
import { build } from "esbuild";

const root = new URL("../", import.meta.url);
// Three entries: `#local/defaults` (defaults and UserError, what start-up and `--help` need), `#local/project`
// (crons and private files, what generate and the reports need) and the server (`#local`), split so they share
// one UserError class (instanceof holds), `--version` loads no server and a cached generate no zod.
await build({
  entryPoints: ["index", "defaults", "project"].map((name) => new URL(`../local/src/${name}.ts`, root).pathname),
  outdir: new URL("dist/local", root).pathname,
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  legalComments: "none",
  logLevel: "warning",
});
