// Bundles the dashboard's page (page/) into dist/page: one script, one stylesheet, one document, all served by
// the CLI itself, so the page loads nothing from elsewhere and works offline.
import { copyFile, mkdir } from "node:fs/promises";
import { build } from "esbuild";

const root = new URL("../", import.meta.url);
const out = new URL("dist/page/", root);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL("page/main.tsx", root).pathname],
  outfile: new URL("app.js", out).pathname,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
});
await copyFile(new URL("page/app.css", root), new URL("app.css", out));
await copyFile(new URL("page/index.html", root), new URL("index.html", out));
