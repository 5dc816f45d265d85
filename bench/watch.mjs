// From saving a job file to the registry written, with 1,000 jobs loaded in `qjobs watch`: median and
// p95 over many edits. Baseline, measured in the same run: running `qjobs generate` after the same edit
// (a fresh process; its cache makes it parse only the changed file).
// Usage: pnpm bench:watch [-- --files 1000 --edits 60]
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { watch } from "@qjobs/cli";
import { arg, cliBin, median, p95 } from "./shared.mjs";

const files = arg("files", 1000);
const edits = arg("edits", 60);
const here = fileURLToPath(new URL(".", import.meta.url));
const dir = join(here, ".work", "watch-1000");

const jobPath = (i) => join(dir, "src", "jobs", `section-${i % 20}`, `job-${i}.job.ts`);
const jobSource = (i, key) => `import { createJob } from "@qjobs/runtime";

interface Payload${i} {
  userId: string;
  count: number;
}

export const job${i} = createJob(${JSON.stringify(key)}, async (payload: Payload${i}, ctx) => {
  return { total: payload.count * 2, messageId: ctx.messageId };
});
`;
rmSync(dir, { recursive: true, force: true });
for (let i = 0; i < files; i++) {
  mkdirSync(join(jobPath(i), ".."), { recursive: true });
  writeFileSync(jobPath(i), jobSource(i, `section-${i % 20}/job-${i}`));
}
writeFileSync(
  join(dir, "qjobs.config.json"),
  JSON.stringify({ jobs: ["src/**/*.job.ts"], registry: "src/qjobs.gen.ts", route: "src/route.ts" }),
);

let resolveWritten;
const watcher = await watch({
  cwd: dir,
  onEvent: (event) => {
    if (event.type !== "generated" || !event.files.some((file) => file.status === "written")) return;
    resolveWritten?.(performance.now());
  },
});
const registry = join(dir, "src", "qjobs.gen.ts");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const latencies = [];
for (let edit = 0; edit < edits; edit++) {
  const i = (edit * 37) % files;
  const key = `edited/${edit}`;
  const written = new Promise((resolve) => (resolveWritten = resolve));
  const saved = performance.now();
  writeFileSync(jobPath(i), jobSource(i, key));
  const at = await Promise.race([written, sleep(5000).then(() => Number.NaN)]);
  if (!readFileSync(registry, "utf8").includes(`"${key}"`)) throw new Error(`edit ${edit}: the registry lacks ${key}`);
  latencies.push(at - saved);
  await sleep(80); // past chokidar's 50 ms per-file change throttle
}
await watcher.close();
// Baseline: the same kind of edit, picked up by a one-off `qjobs generate` (the watcher is closed).
const baseline = [];
for (let run = 0; run < 9; run++) {
  const j = (run * 53 + 11) % files;
  writeFileSync(jobPath(j), jobSource(j, `baseline/${run}`));
  const started = performance.now();
  const result = spawnSync(process.execPath, [cliBin, "generate", "--cwd", dir], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  baseline.push(performance.now() - started);
}

console.log(`node ${process.version}, ${files} jobs loaded, ${latencies.length} edits`);
console.log(
  `  save → registry written (qjobs watch)   median ${median(latencies).toFixed(1)} ms, p95 ${p95(latencies).toFixed(1)} ms`,
);
console.log(
  `  baseline: qjobs generate after an edit  median ${median(baseline).toFixed(1)} ms (${baseline.length} runs, fresh process)`,
);
console.log(`watch / generate: ${(median(latencies) / median(baseline)).toFixed(2)}x the time`);
