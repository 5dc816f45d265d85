import { spawn } from "node:child_process";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { tempProject } from "./support.js";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const job = (name: string, key: string) =>
  `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob(${JSON.stringify(key)}, async () => {});\n`;
const keysIn = (registry: string) =>
  [...registry.matchAll(/^ {4}case "([^"]+)":/gm)].map((match) => match[1] as string);

interface Watching {
  dir: string;
  output: () => string;
  /** Resolves when the output has `count` lines matching `pattern`; bounded so a test never hangs. */
  lines: (pattern: RegExp, count?: number) => Promise<void>;
  registry: () => Promise<string[]>;
  stop: () => Promise<number | null>;
}

const running: Watching[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((watching) => watching.stop()));
});

async function startWatch(files: Record<string, string>): Promise<Watching> {
  const dir = await tempProject({ "src/app/.keep": "", ...files });
  const child = spawn(process.execPath, [bin, "watch", "--cwd", dir], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text) => (output += text));
  child.stderr.setEncoding("utf8").on("data", (text) => (output += text));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const watching: Watching = {
    dir,
    output: () => output,
    lines: async (pattern, count = 1) => {
      const matching = () => output.split("\n").filter((line) => pattern.test(line)).length;
      for (const started = Date.now(); matching() < count; await new Promise((resolve) => setTimeout(resolve, 20))) {
        if (Date.now() - started > 30_000) throw new Error(`no line matching ${pattern} in:\n${output}`);
      }
    },
    registry: async () => keysIn(await readFile(join(dir, "src/qjobs.gen.ts"), "utf8")),
    stop: async () => {
      child.kill("SIGINT");
      return exited;
    },
  };
  running.push(watching);
  await watching.lines(/Watching src\/\*\*\/\*\.job\.ts/);
  return watching;
}

describe("qjobs watch", () => {
  it("generates at start, then follows add, change, rename and unlink, naming the keys that came and went", async () => {
    const w = await startWatch({ "src/jobs/a.job.ts": job("a", "alpha") });
    expect(w.output()).toMatch(/✓ started → 1 job, src\/qjobs\.gen\.ts, src\/app\/api\/jobs\/route\.ts written/);
    expect(await w.registry()).toEqual(["alpha"]);

    await writeFile(join(w.dir, "src/jobs/b.job.ts"), job("b", "beta"));
    await w.lines(/src\/jobs\/b\.job\.ts added \+beta → 2 jobs, src\/qjobs\.gen\.ts written/);
    expect(await w.registry()).toEqual(["alpha", "beta"]);

    await writeFile(join(w.dir, "src/jobs/b.job.ts"), job("b", "gamma"));
    await w.lines(/src\/jobs\/b\.job\.ts changed \+gamma -beta → 2 jobs/);

    await rename(join(w.dir, "src/jobs/a.job.ts"), join(w.dir, "src/jobs/renamed.job.ts"));
    // Usually one run ("a removed, renamed added"); under load the two events may land in two runs.
    await w.lines(/src\/jobs\/renamed\.job\.ts added.* → 2 jobs/);
    expect(await readFile(join(w.dir, "src/qjobs.gen.ts"), "utf8")).toContain('import("./jobs/renamed.job")');
    expect(await readFile(join(w.dir, "src/qjobs.gen.ts"), "utf8")).not.toContain('import("./jobs/a.job")');

    await rm(join(w.dir, "src/jobs/b.job.ts"));
    await w.lines(/src\/jobs\/b\.job\.ts removed -gamma → 1 job/);
    expect(await w.registry()).toEqual(["alpha"]);
    expect(await w.stop()).toBe(0);
  });

  it("reports a broken file, keeps the last good registry, and recovers when it is fixed", async () => {
    const w = await startWatch({ "src/jobs/a.job.ts": job("a", "alpha") });
    const good = await readFile(join(w.dir, "src/qjobs.gen.ts"), "utf8");
    await writeFile(
      join(w.dir, "src/jobs/a.job.ts"),
      `${job("a", "alpha")}export const half = createJob("half", async () => {`,
    );
    await w.lines(/^src\/jobs\/a\.job\.ts:3:\d+: syntax error: /m);
    await w.lines(/✗ src\/jobs\/a\.job\.ts changed: 1 error; the last good registry stays until they are fixed/);
    expect(await readFile(join(w.dir, "src/qjobs.gen.ts"), "utf8")).toBe(good);

    await writeFile(
      join(w.dir, "src/jobs/a.job.ts"),
      `${job("a", "alpha")}export const half = createJob("half", async () => {});\n`,
    );
    await w.lines(/src\/jobs\/a\.job\.ts changed \+half → 2 jobs/);
    expect(await w.registry()).toEqual(["alpha", "half"]);
  });

  it("reloads qjobs.config.json, and survives a broken one", async () => {
    const w = await startWatch({ "src/jobs/a.job.ts": job("a", "alpha"), "src/tasks/t.task.ts": job("t", "task") });
    await writeFile(join(w.dir, "qjobs.config.json"), "{ broken");
    await w.lines(/✗ qjobs\.config\.json is not valid JSON.*keeping the last good config/);
    await writeFile(
      join(w.dir, "qjobs.config.json"),
      JSON.stringify({ jobs: ["src/**/*.job.ts", "src/**/*.task.ts"] }),
    );
    await w.lines(/qjobs\.config\.json changed \+task → 2 jobs/);
    expect(await w.registry()).toEqual(["alpha", "task"]);
  });

  it("does not trigger itself: its own outputs and the cache cause no regeneration", async () => {
    const w = await startWatch({ "src/jobs/a.job.ts": job("a", "alpha") });
    await writeFile(join(w.dir, "src/jobs/b.job.ts"), job("b", "beta"));
    await w.lines(/\+beta/);
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a self-triggered run to show up, if there were one
    expect(
      w
        .output()
        .split("\n")
        .filter((line) => line.includes("✓")),
    ).toHaveLength(2);
  });
});

describe("watch() as an API", () => {
  it("catches up on an edit made between its first run and the file watcher being ready", async () => {
    const { watch } = await import("../src/commands/watch.js");
    const { writeFileSync } = await import("node:fs");
    const dir = await tempProject({ "src/app/.keep": "", "src/jobs/a.job.ts": job("a", "alpha") });
    const events: string[] = [];
    const watcher = await watch({
      cwd: dir,
      onEvent: (event) => {
        events.push(
          event.type === "generated"
            ? `${event.changed.join(",") || "started"} ${event.added.map((key) => `+${key}`).join(" ")}`.trim()
            : event.type,
        );
        // The first event comes before the watcher exists: this write raises no event of its own.
        if (events.length === 1) writeFileSync(join(dir, "src/jobs/b.job.ts"), job("b", "beta"));
      },
    });
    try {
      await watcher.idle();
      await expect.poll(() => events, { timeout: 30_000 }).toEqual(["started", "src/jobs/b.job.ts added +beta"]);
      expect(keysIn(await readFile(join(dir, "src/qjobs.gen.ts"), "utf8"))).toEqual(["alpha", "beta"]);
    } finally {
      await watcher.close();
    }
  });
});
