// What every benchmark script needs: the CLI it measures, its command-line numbers and robust statistics.
import { spawn } from "node:child_process";
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

/** Starts `qjobs dev --port 0 --quiet` with these flags; resolves once it prints its dashboard's address. */
export function startDev(flags) {
  const child = spawn(process.execPath, [cliBin, "dev", "--port", "0", "--quiet", ...flags], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (text) => {
      out += text;
      const url = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const dashboard = /Dashboard: (\S+)/.exec(out)?.[1];
      if (url && dashboard) resolve({ child, url, dashboard });
    });
    child.once("exit", (code) => reject(new Error(`qjobs dev exited with ${code}`)));
  });
}
