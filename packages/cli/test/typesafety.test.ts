import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir, jobSource, runCli, tempProject } from "./support.js";
import { compilers, tsc } from "./tsc.js";

const exportForms = join(fixturesDir, "export-forms");

describe("the generated registry types dispatch, checked by real tsc (strict)", () => {
  // usage.ts holds valid calls and, under @ts-expect-error, an unknown key, a wrong payload, a
  // missing field, another job's payload and an unknown option: tsc fails if any of those compiles.
  it.each(Object.entries(compilers))("%s accepts the valid calls and rejects every misuse", (name, compiler) => {
    const version = spawnSync(process.execPath, [compiler, "--version"], { encoding: "utf8" }).stdout;
    expect(version).toMatch(name === "typescript 7" ? /^Version 7\./ : /^Version 5\.9\./);
    const result = tsc(compiler, exportForms);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  it("really checks: a misuse without @ts-expect-error fails to compile, naming the key", async () => {
    const dir = await tempProject({}, { from: exportForms, inRepo: true });
    await writeFile(
      join(dir, "src/misuse.ts"),
      'import { dispatch } from "./qjobs.gen.js";\nawait dispatch("welcome-email", { userId: 42 });\nexport {};\n',
    );
    const result = tsc(compilers["typescript 5.9"], dir);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(
      /src\/misuse\.ts\(2,.*error TS2322: Type 'number' is not assignable to type 'string'/,
    );
  });

  it("a job added to a file is typed as soon as generate runs", async () => {
    const dir = await tempProject({}, { from: exportForms, inRepo: true });
    await writeFile(
      join(dir, "src/jobs/new.job.ts"),
      jobSource("added", "added", { payload: "{ n: number }", body: "return payload.n;" }),
    );
    await writeFile(
      join(dir, "src/use-new.ts"),
      'import { dispatch } from "./qjobs.gen.js";\nawait dispatch("added", { n: 1 });\nexport {};\n',
    );
    expect(tsc(compilers["typescript 5.9"], dir).output).toMatch(/use-new\.ts.*"added"/);
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    expect(tsc(compilers["typescript 5.9"], dir)).toEqual({ code: 0, output: "" });
  });
});
