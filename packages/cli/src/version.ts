import { createRequire } from "node:module";

/** The CLI's version, from its package.json: what `--version` prints and what `init` installs. */
export const { version } = createRequire(import.meta.url)("../package.json") as { version: string };
