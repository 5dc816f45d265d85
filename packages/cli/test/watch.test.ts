import { existsSync, writeFileSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type WatchEvent, watch } from "../src/commands/watch.js";
import { jobSource as job, spawnCli, tempProject } from "./support.js";

/** The job keys a registry holds: one line each in its table of declared options. */
const keysIn = (registry: string) => [...registry.matchAll(/^ {2}"([^"]+)": \{/gm)].map((match) => match[1] as string);

/** `qjobs watch` as a process in a new project, once it says it is watching. */
async function startWatch(files: Record<string, string>) {
  const dir = await tempProject({ "src/app/.keep": "", ...files });
  const cli = spawnCli(["watch", "--cwd", dir]);
  await cli.waitFor(/Watching src\/\*\*\/\*\.job\.ts/);
  return {
    dir,
    output: cli.output,
    /** Resolves when `count` lines of the output match `pattern`. */
    lines: (pattern: RegExp, count?: number) => cli.waitFor(pattern, { count }).then(() => undefined),
    registry: async () => keysIn(await readFile(join(dir, "src/qjobs.gen.ts"), "utf8")),
    stop: cli.stop,
  };
}

/** A line per event of watch() in this process: what caused it and the keys it added. */
const eventLine = (event: WatchEvent) =>
  event.type === "generated"
    ? `${event.changed.join(",") || "started"} ${event.added.map((key) => `+${key}`).join(" ")}`.trim()
    : event.type;

describe("qjobs watch", () => {
  it("in a folder with no job file and no config, writes nothing and waits for the first job file (issue 21)", async () => {
    const w = await startWatch({ "src/jobs/.keep": "" });
    await w.lines(
      /no job files match src\/\*\*\/\*\.job\.ts yet \(and no qjobs\.config\.json\): waiting for the first one/,
    );
    expect(existsSync(join(w.dir, "src/qjobs.gen.ts"))).toBe(false);
    await writeFile(join(w.dir, "src/jobs/a.job.ts"), job("a", "alpha"));
    await w.lines(/src\/jobs\/a\.job\.ts added .*→ 1 job, src\/qjobs\.gen\.ts, src\/app\/api\/jobs\/route\.ts written/);
    expect(await w.registry()).toEqual(["alpha"]);
  });

  it("generates at start, then follows add, change, rename and unlink, naming the keys that came and went", async () => {
    const w = await startWatch({ "src/jobs/a.job.ts": job("a", "alpha") });
    expect(w.output()).toMatch(/✓ started → 1 job, src\/qjobs\.gen\.ts, src\/app\/api\/jobs\/route\.ts written/);
    expect(await w.registry()).toEqual(["alpha"]);

    await writeFile(join(w.dir, "src/jobs/b.job.ts"), job("b", "beta"));
    await w.lines(
      /src\/jobs\/b\.job\.ts added \+beta → 2 jobs, src\/qjobs\.gen\.ts, src\/app\/api\/jobs\/route\.ts written/,
    );
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
    // Even with a glob that matches the generated files themselves.
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/a.job.ts": job("a", "alpha"),
      "qjobs.config.json": JSON.stringify({ jobs: ["src/**/*.ts"] }),
    });
    const events: string[] = [];
    const watcher = await watch({ cwd: dir, onEvent: (event) => events.push(eventLine(event)) });
    try {
      await writeFile(join(dir, "src/jobs/b.job.ts"), job("b", "beta"));
      await expect.poll(() => events, { timeout: 30_000 }).toContain("src/jobs/b.job.ts added +beta");
      await watcher.idle();
      // A run that its own writes had triggered would show up by the time the next edit's run is done.
      await writeFile(join(dir, "src/jobs/c.job.ts"), job("c", "gamma"));
      await expect.poll(() => events, { timeout: 30_000 }).toContain("src/jobs/c.job.ts added +gamma");
      await watcher.idle();
      expect(events).toEqual(["started", "src/jobs/b.job.ts added +beta", "src/jobs/c.job.ts added +gamma"]);
    } finally {
      await watcher.close();
    }
  });
});

describe("watch() as an API", () => {
  it("catches up on an edit made between its first run and the file watcher being ready", async () => {
    const dir = await tempProject({ "src/app/.keep": "", "src/jobs/a.job.ts": job("a", "alpha") });
    const events: string[] = [];
    const watcher = await watch({
      cwd: dir,
      onEvent: (event) => {
        events.push(eventLine(event));
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
