import { describe, expect, it } from "vitest";
import { extractJobs } from "../src/core/extract.js";
import { typescript } from "../src/core/parser.js";

const extract = (text: string, path = "a.job.ts") => extractJobs(typescript(), path, text);
const keys = (text: string) => extract(text).jobs.map((job) => `${job.key}=${job.exportName}`);
const runtime = 'import { createJob } from "@qjobs/runtime";\n';

describe("extractJobs finds createJob calls of @qjobs/runtime, syntax only", () => {
  it("ignores createJob from any other module, and type-only imports", () => {
    expect(keys('import { createJob } from "./my-own";\nexport const a = createJob("a", () => {});')).toEqual([]);
    expect(
      keys('import type { createJob } from "@qjobs/runtime";\nexport const a = createJob("a", () => {});'),
    ).toEqual([]);
    expect(
      keys('import { type createJob } from "@qjobs/runtime";\nexport const a = createJob("a", () => {});'),
    ).toEqual([]);
  });

  it("never takes text in comments, strings or templates for a job", () => {
    const text = `${runtime}// export const a = createJob("comment", () => {});
/* export const b = createJob("block", () => {}); */
export const c = "createJob(\\"string\\", () => {})";
export const d = \`export const e = createJob("template", () => {})\`;`;
    expect(extract(text)).toEqual({ jobs: [], problems: [] });
  });

  it("accepts template literals without substitutions, and wrappers like satisfies and as", () => {
    const text = `${runtime}export const a = createJob(\`plain\`, () => {});
export const b = (createJob("wrapped", () => {}) satisfies object);
export const c = createJob("cast", () => {}) as unknown;`;
    expect(keys(text)).toEqual(["plain=a", "wrapped=b", "cast=c"]);
  });

  it("registers a job exported under several names once, under its first", () => {
    expect(keys(`${runtime}const a = createJob("a", () => {});\nexport { a, a as b };\nexport default a;`)).toEqual([
      "a=a",
    ]);
  });

  it("handles string export names", () => {
    expect(keys(`${runtime}const a = createJob("a", () => {});\nexport { a as "not-an-identifier" };`)).toEqual([
      "a=not-an-identifier",
    ]);
  });

  it("reports 1-based lines and columns, also with CRLF line endings", () => {
    const text = `${runtime}\n\n  export const a = createJob(someKey, () => {});`.replace(/\n/g, "\r\n");
    expect(extract(text).problems).toEqual([
      { line: 4, column: 30, message: expect.stringContaining("string literal") },
    ]);
  });

  it("reports every syntax error, and no jobs from a file that does not parse", () => {
    const result = extract(`${runtime}export const a = createJob("a", () => {});\nconst = ;\nlet x = {`);
    expect(result.jobs).toEqual([]);
    expect(result.problems.length).toBeGreaterThanOrEqual(2);
    expect(result.problems.every((problem) => problem.message.startsWith("syntax error: "))).toBe(true);
  });

  it("parses TSX job files", () => {
    const text = `${runtime}export const a = createJob("render", () => <div>hello</div>);`;
    expect(extract(text).problems[0]?.message).toMatch(/^syntax error/); // JSX in a .ts file...
    expect(extract(text, "a.job.tsx").jobs.map((job) => job.key)).toEqual(["render"]); // ...and fine in .tsx
  });
});

describe("a bare cron on a job whose payload is required (issue 21: it fires with none and crashes the handler)", () => {
  const job = (definition: string, prelude = "") =>
    extract(`${runtime}${prelude}export const j = createJob("reports/daily", ${definition});\n`);
  const bareCronProblem = /job "reports\/daily" has a schedule without a payload, but its handler requires one/;

  it.each([
    ['{ schedule: "0 9 * * *", handler: async (users: string[]) => {} }'],
    ['{ schedule: ["0 9 * * *"], handler: async (payload: { day: string }) => {} }'],
    ['{ schedule: { cron: "0 9 * * *" }, handler: async function (id: string | number) {} }'],
    // Quoted names are the same properties: the schedule and the handler are found as written.
    ['{ "schedule": "0 9 * * *", "handler": async (users: string[]) => {} }'],
  ])("is refused when the parameter is annotated in place and plainly required: %s", (definition) => {
    const { problems } = job(definition);
    expect(problems.map((problem) => problem.message)).toEqual([expect.stringMatching(bareCronProblem)]);
  });

  it.each([
    ['{ schedule: "0 9 * * *", handler: async () => {} }'],
    ['{ schedule: "0 9 * * *", handler: async (payload?: { day: string }) => {} }'],
    ['{ schedule: "0 9 * * *", handler: async (payload: { day: string } | undefined) => {} }'],
    ['{ schedule: { cron: "0 9 * * *", payload: { day: "mon" } }, handler: async (payload: { day: string }) => {} }'],
  ])("is accepted when the handler takes no payload, an optional one, or the schedule gives one: %s", (definition) => {
    const { jobs, problems } = job(definition);
    expect(problems).toEqual([]);
    expect(jobs[0]?.bareCronUnchecked).toBeUndefined();
  });

  it("is left to tsc, marked for a warning, when a schema or a named type decides", () => {
    const schema = job(
      '{ schema, schedule: "0 9 * * *", handler: async (payload) => {} }',
      "declare const schema: never;\n",
    );
    const alias = job(
      '{ schedule: "0 9 * * *", handler: async (payload: Report) => {} }',
      "type Report = { day: string };\n",
    );
    for (const { jobs, problems } of [schema, alias]) {
      expect(problems).toEqual([]);
      expect(jobs[0]?.bareCronUnchecked).toBe(true);
    }
  });
});
