// What every benchmark script needs: its command-line numbers and robust statistics.

/** `--name N` from the command line, or the fallback. */
export function arg(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

const sorted = (values) => [...values].sort((a, b) => a - b);
export const median = (values) => sorted(values)[Math.floor(values.length / 2)];
export const p95 = (values) => sorted(values)[Math.floor(values.length * 0.95)];
