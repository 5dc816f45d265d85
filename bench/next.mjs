// The first delivery to a freshly started `next start`: the fixture app with 200 job files against the
// same app with 1, each built once and started afresh for every sample. Lazy per-job loading should keep
// the ratio near 1. Usage: pnpm bench:next [-- --jobs 200 --runs 5]
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDeliveryRequest } from "@qjobs/runtime/testing";
import { arg, cliBin, median } from "./shared.mjs";

const jobs = arg("jobs", 200);
const runs = arg("runs", 5);
const here = fileURLToPath(new URL(".", import.meta.url));
const fixture = join(here, "..", "fixtures", "next-app");
const next = join(here, "node_modules", "next", "dist", "bin", "next");
const keys = {
  QSTASH_CURRENT_SIGNING_KEY: "sig_bench_current_000000000",
  QSTASH_NEXT_SIGNING_KEY: "sig_bench_next_000000000000",
};
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...keys };

function makeApp(count) {
  const dir = join(here, ".work", `next-${count}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of ["src", "next.config.ts", "tsconfig.json", "qjobs.config.json", "package.json"])
    cpSync(join(fixture, entry), join(dir, entry), { recursive: true });
  rmSync(join(dir, "src", "jobs"), { recursive: true });
  mkdirSync(join(dir, "src", "jobs"));
  rmSync(join(dir, "src", "app", "api", "dispatch"), { recursive: true });
  for (let i = 0; i < count; i++) {
    writeFileSync(
      join(dir, "src", "jobs", `job-${i}.job.ts`),
      `import { createJob } from "@qjobs/runtime";\nimport { z } from "zod";\n\nexport const job${i} = createJob("bench/job-${i}", {\n  schema: z.object({ n: z.number() }),\n  handler: async (payload) => payload.n * ${i + 1},\n});\n`,
    );
  }
  for (const [command, args] of [
    [cliBin, ["generate", "--cwd", dir]],
    [next, ["build"]],
  ]) {
    const run = spawnSync(process.execPath, [command, ...args], { cwd: dir, env, encoding: "utf8" });
    if (run.status !== 0) throw new Error(`${args.join(" ")} failed in ${dir}:\n${run.stdout}\n${run.stderr}`);
  }
  return dir;
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
// Waits for the port to accept connections without an HTTP request, which would warm the server up.
const listening = (port) =>
  new Promise((resolve) => {
    const attempt = () =>
      createConnection(port, "127.0.0.1")
        .once("connect", function () {
          this.destroy();
          resolve();
        })
        .once("error", () => setTimeout(attempt, 20));
    attempt();
  });

async function firstDelivery(dir) {
  const port = await freePort();
  const server = spawn(process.execPath, [next, "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: dir,
    env: { ...env, QJOBS_URL: `http://127.0.0.1:${port}/api/jobs` },
    stdio: "ignore",
  });
  try {
    await listening(port);
    const request = await createDeliveryRequest({
      routeUrl: `http://127.0.0.1:${port}/api/jobs`,
      key: "bench/job-0",
      payload: { n: 1 },
      signingKey: keys.QSTASH_CURRENT_SIGNING_KEY,
    });
    const started = performance.now();
    const response = await fetch(request);
    const ms = performance.now() - started;
    if (response.status !== 200) throw new Error(`the delivery answered ${response.status}: ${await response.text()}`);
    return ms;
  } finally {
    server.kill("SIGKILL");
  }
}

const many = makeApp(jobs);
const one = makeApp(1);
const samples = { many: [], one: [] };
for (let run = 0; run < runs; run++) {
  samples.many.push(await firstDelivery(many));
  samples.one.push(await firstDelivery(one));
}
console.log(`node ${process.version}, next 16.4.6 (Turbopack build, next start), medians of ${runs} fresh starts`);
console.log(`  first delivery with ${jobs} job files  ${median(samples.many).toFixed(0)} ms`);
console.log(`  first delivery with 1 job file     ${median(samples.one).toFixed(0)} ms`);
console.log(`${jobs} jobs / 1 job: ${(median(samples.many) / median(samples.one)).toFixed(2)}x`);
