import { createRequire } from "node:module";
import type { ts as TypeScript } from "ts-morph";

export type TS = typeof TypeScript;

let loaded: TS | undefined;

/**
 * ts-morph's bundled TypeScript compiler (the design's choice: TypeScript 7, the native compiler, has no
 * JavaScript API to parse with, and the project's own `typescript` may be any version or none), loaded on
 * first use: it costs about half a second,
 * so commands that find everything in the cache never pay for it. `require` is used because
 * importing this large CommonJS bundle as ESM makes Node scan it for exports first (~0.15 s more).
 */
export function typescript(): TS {
  loaded ??= (createRequire(import.meta.url)("ts-morph") as { ts: TS }).ts;
  return loaded;
}
