// What every benchmark script needs: the CLI it measures, its command-line numbers and robust statistics.
import { fileURLToPath } from "node:url";

/** The built `qjobs` bin (the benches build first). */
export const cliBin = fileURLToPath(new URL("../packages/cli/dist/bin.js", import.meta.url));

/** `--name N` from the command line, or the fallback. */
export function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

const sorted = (values) => [...values].sort((a, b) => a - b);
export const median = (values) => sorted(values)[Math.floor(values.length / 2)];
export const p95 = (values) => sorted(values)[Math.floor(values.length * 0.95)];
