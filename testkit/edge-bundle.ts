import type { BuildOptions } from "esbuild";

/**
 * How an edge runtime's bundler sees code: neutral platform, worker/browser conditions, and `node:` left out
 * (so a Node import shows up as an external the tests can refuse).
 */
export const edgeBundleOptions = {
  bundle: true,
  format: "esm",
  platform: "neutral",
  mainFields: ["module", "main"],
  conditions: ["worker", "browser"],
  external: ["node:*"],
  metafile: true,
  logLevel: "silent",
} as const satisfies BuildOptions;
