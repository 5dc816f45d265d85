// qjobs generate against TanStack Router's `tsr generate` (the closest peer: file discovery plus code
// generation), both on 1,000 files, measured in the same run. Prints medians and ratios.
// Usage: pnpm bench:generate [-- --files 1000 --runs 5]
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { arg, cliBin, median } from "./shared.mjs";

const files = arg("files", 1000);
const runs = arg("runs", 5);

const here = fileURLToPath(new URL(".", import.meta.url));
const work = join(here, ".work");
// The package exports no bin path; find it beside its package.json.
const tsrBin = join(
  createRequire(import.meta.url).resolve("@tanstack/router-cli/package.json"),
  "..",
  "bin",
  "tsr.cjs",
);
const measureScript = join(here, "measure.mjs");

function write(path, text) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

function jobSource(i) {
  return `import { createJob, NonRetryableError } from "@qjobs/runtime";

interface Payload${i} {
  userId: string;
  count: number;
  tags?: string[];
}

async function helper(payload: Payload${i}): Promise<number> {
  return payload.count * 2 + payload.userId.length;
}

export const job${i} = createJob("section-${i % 20}/job-${i}", async (payload: Payload${i}, ctx) => {
  if (payload.count < 0) throw new NonRetryableError("negative count");
  const total = await helper(payload);
  return { total, messageId: ctx.messageId };
});
`;
}

function makeQJobsProject(dir, count) {
  rmSync(dir, { recursive: true, force: true });
  // The compiled route runs on plain Node ESM, which needs extensions in relative imports.
  write(
    join(dir, "qjobs.config.json"),
    JSON.stringify({
      jobs: ["src/**/*.job.ts"],
      registry: "src/qjobs.gen.ts",
      route: "src/route.ts",
      importExtension: ".js",
    }),
  );
  write(join(dir, "package.json"), '{ "type": "module" }');
  for (let i = 0; i < count; i++) write(join(dir, "src", "jobs", `section-${i % 20}`, `job-${i}.job.ts`), jobSource(i));
}

function makeTsrProject(dir, count) {
  rmSync(dir, { recursive: true, force: true });
  write(
    join(dir, "tsr.config.json"),
    JSON.stringify({ routesDirectory: "./src/routes", generatedRouteTree: "./src/routeTree.gen.ts" }),
  );
  write(
    join(dir, "src", "routes", "__root.tsx"),
    "import { createRootRoute, Outlet } from '@tanstack/react-router'\nexport const Route = createRootRoute({ component: () => <Outlet /> })\n",
  );
  for (let i = 0; i < count; i++) {
    write(
      join(dir, "src", "routes", `section-${i % 20}`, `page-${i}.tsx`),
      `import { createFileRoute } from '@tanstack/react-router'\n\nexport const Route = createFileRoute('/section-${i % 20}/page-${i}')({\n  component: () => <div>Page ${i}</div>,\n})\n`,
    );
  }
}

/** Runs a CLI in a fresh process; returns its in-process wall time and peak RSS. */
function measure(bin, args, cwd) {
  const run = spawnSync(process.execPath, [measureScript, bin, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const line = run.stderr.split("\n").find((text) => text.startsWith("@@measure "));
  if (run.status !== 0 || !line)
    throw new Error(`${bin} ${args.join(" ")} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(line.slice("@@measure ".length));
}

const ms = (value) => `${Math.round(value)} ms`;

const qjobsDir = join(work, "qjobs-1000");
const tsrDir = join(work, "tsr-1000");
makeQJobsProject(qjobsDir, files);
makeTsrProject(tsrDir, files);

const samples = { qjobsCold: [], tsrCold: [], qjobsWarm: [], qjobsRss: [], tsrRss: [] };
for (let run = 0; run < runs; run++) {
  // Cold: no cache and no generated files, a fresh process each time.
  rmSync(join(qjobsDir, ".qjobs"), { recursive: true, force: true });
  rmSync(join(qjobsDir, "src", "qjobs.gen.ts"), { force: true });
  const cold = measure(cliBin, ["generate"], qjobsDir);
  samples.qjobsCold.push(cold.ms);
  samples.qjobsRss.push(cold.maxRssMb);
  samples.qjobsWarm.push(measure(cliBin, ["generate"], qjobsDir).ms);

  rmSync(join(tsrDir, "src", "routeTree.gen.ts"), { force: true });
  const tsr = measure(tsrBin, ["generate"], tsrDir);
  samples.tsrCold.push(tsr.ms);
  samples.tsrRss.push(tsr.maxRssMb);
}

// Serving one delivery from a freshly imported route: 1,000 jobs against 1 job.
async function compileProject(dir, count) {
  makeQJobsProject(dir, count);
  measure(cliBin, ["generate"], dir);
  const entryPoints = [join(dir, "src", "route.ts"), join(dir, "src", "qjobs.gen.ts")];
  for (let i = 0; i < count; i++) entryPoints.push(join(dir, "src", "jobs", `section-${i % 20}`, `job-${i}.job.ts`));
  await build({
    entryPoints,
    outdir: join(dir, "out"),
    outbase: join(dir, "src"),
    format: "esm",
    platform: "node",
    logLevel: "error",
  });
  // The compiled route imports @qjobs/runtime: make it resolvable from the work folder.
  write(join(dir, "out", "package.json"), '{ "type": "module" }');
}
const serveScript = join(here, "serve-one.mjs");
const serve = (dir) => {
  const run = spawnSync(process.execPath, [serveScript, join(dir, "out", "route.js"), "section-0/job-0"], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
};
await compileProject(join(work, "serve-1000"), files);
await compileProject(join(work, "serve-1"), 1);
const serveSamples = { many: [], one: [] };
for (let run = 0; run < runs * 2; run++) {
  serveSamples.many.push(serve(join(work, "serve-1000")).ms);
  serveSamples.one.push(serve(join(work, "serve-1")).ms);
}

const result = {
  qjobsCold: median(samples.qjobsCold),
  tsrCold: median(samples.tsrCold),
  qjobsWarm: median(samples.qjobsWarm),
  qjobsRss: median(samples.qjobsRss),
  tsrRss: median(samples.tsrRss),
  serveMany: median(serveSamples.many),
  serveOne: median(serveSamples.one),
};
console.log(`node ${process.version}, ${files} files, medians of ${runs} runs (each a fresh process)`);
console.log(
  `  cold qjobs generate        ${ms(result.qjobsCold).padStart(8)}   peak ${Math.round(result.qjobsRss)} MB`,
);
console.log(`  cold tsr generate          ${ms(result.tsrCold).padStart(8)}   peak ${Math.round(result.tsrRss)} MB`);
console.log(`  qjobs re-run, no change    ${ms(result.qjobsWarm).padStart(8)}`);
console.log(
  `  import route + 1 delivery  ${ms(result.serveMany).padStart(8)} with ${files} jobs, ${ms(result.serveOne)} with 1 job (medians of ${runs * 2})`,
);
console.log(`cold: qjobs generate is ${(result.tsrCold / result.qjobsCold).toFixed(2)}x faster than tsr generate`);
console.log(`route with ${files} jobs / with 1 job:  ${(result.serveMany / result.serveOne).toFixed(2)}x`);
