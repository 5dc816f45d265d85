// Runs a Node CLI in this process and, when it exits, reports its wall time and peak memory on stderr
// as one line `@@measure {"ms":…,"maxRssMb":…}`. Usage: node measure.mjs <cli.js> [args...]
import { pathToFileURL } from "node:url";

const started = performance.now();
const [script, ...args] = process.argv.slice(2);
process.on("exit", () => {
  const ms = performance.now() - started;
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stderr.write(`\n@@measure ${JSON.stringify({ ms, maxRssMb })}\n`);
});
process.argv = [process.argv[0], script, ...args];
await import(pathToFileURL(script).href);
