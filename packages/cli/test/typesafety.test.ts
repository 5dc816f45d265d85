import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir, jobSource, runCli, tempProject } from "./support.js";
import { compilers, tsc } from "./tsc.js";

const exportForms = join(fixturesDir, "export-forms");

const LONG_PAYLOAD =
  '{ id: string; userId: string; title: string; body: string; channel: "email" | "sms" | "push"; tags: string[]; meta: { source: string; campaign: string | null; attempts: number }; remindAt: Date }';

/** The first line of tsc's first error in a file, or "" when it has none. */
function firstLineFor(output: string, fileStart: string): string {
  return output.split("\n").find((line) => line.includes(fileStart)) ?? "";
}

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

  it("@qjobs/runtime's own dispatch does not compile, and the error names the registry's import (issue 21)", async () => {
    const dir = await tempProject({}, { from: exportForms, inRepo: true });
    await writeFile(
      join(dir, "src/misuse.ts"),
      'import { dispatch } from "@qjobs/runtime";\nawait dispatch("welcome-email", { userId: "u_1" });\nexport {};\n',
    );
    const result = tsc(compilers["typescript 5.9"], dir);
    expect(result.code).toBe(2);
    expect(result.output).toMatch(
      /src\/misuse\.ts\(2,.*error TS2345: .*'"import \{ dispatch \} from your generated registry \(\\"@\/qjobs\.gen\\"\), not from \\"@qjobs\/runtime\\""'/,
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

describe("payload types never lie: what JSON cannot carry does not compile (issue 13)", () => {
  const job = (name: string, body: string) =>
    `import { createJob } from "@qjobs/runtime";\nimport { z } from "zod";\nvoid z;\n${body.replace("NAME", `"refused/${name}"`)}\n`;
  const refused: Record<string, [source: string, names: string]> = {
    date: ["export const j = createJob(NAME, async (payload: { at: Date }) => void payload);", "payload.at is a Date"],
    // A long payload type: tsc cuts types short in its messages, and must not cut the issue.
    long: [
      `export const j = createJob(NAME, async (payload: ${LONG_PAYLOAD}) => void payload);`,
      "payload.remindAt is a Date",
    ],
    "long-definition": [
      `export const j = createJob(NAME, { retries: 3, handler: async (payload: ${LONG_PAYLOAD}) => void payload });`,
      "payload.remindAt is a Date",
    ],
    map: [
      "export const j = createJob(NAME, async (payload: { byId: Map<string, number> }) => void payload);",
      "payload.byId is a Map",
    ],
    set: [
      "export const j = createJob(NAME, async (payload: { tags: Set<string> }) => void payload);",
      "payload.tags is a Set",
    ],
    bigint: [
      "export const j = createJob(NAME, async (payload: { cents: bigint }) => void payload);",
      "payload.cents is a bigint",
    ],
    holes: [
      "export const j = createJob(NAME, async (payload: { ids: (string | undefined)[] }) => void payload);",
      "payload.ids[] may hold undefined",
    ],
    instance: [
      'class Money { constructor(readonly cents: number) {} format() { return ""; } }\nexport const j = createJob(NAME, async (payload: { price: Money }) => void payload);',
      "payload.price.format is a function",
    ],
    nested: [
      "interface Order { lines: { at: Date }[] }\nexport const j = createJob(NAME, { handler: async (payload: Order) => void payload });",
      "payload.lines[].at is a Date",
    ],
    schema: [
      "export const j = createJob(NAME, { schema: z.object({ at: z.date() }), handler: async () => {} });",
      "payload.at is a Date",
    ],
  };
  const accepted =
    'interface Signup { email: string; plan?: "free" | "pro"; tags: string[]; meta: { source: string | null } }\n' +
    "export const iface = createJob(NAME, async (payload: Signup) => void payload);\n" +
    // The seed's own example: an array payload (issue 21: refused under "strict": false, as `next build` writes).
    'export const users = createJob("accepted/users", async (users: string[]) => void users);\n' +
    // The payload's type given as a type argument, the handler's parameter left to it.
    'export const explicit = createJob<{ userId: string }>("accepted/explicit", async (payload) => payload.userId);\n' +
    'export const explicitDefinition = createJob<{ ids: string[] }, number>("accepted/explicit-definition", { retries: 1, handler: async (payload) => payload.ids.length });\n' +
    'export const coerced = createJob("accepted/coerced", { schema: z.object({ at: z.coerce.date() }), handler: async ({ at }) => void at.getTime() });\n' +
    // A schema job's handler typed by hand with the schema's output: the Date is made after delivery, not sent.
    'export const annotated = createJob("accepted/annotated", { schema: z.object({ at: z.coerce.date() }), handler: async (payload: { at: Date }) => void payload.at.getTime() });';
  // Without strictNullChecks every type admits undefined, so "may hold undefined" cannot be told apart there:
  // that one check is off; every other refusal holds under each setting.
  const settings: Record<string, { options: Record<string, boolean>; holes: boolean }> = {
    "strict: true": { options: { strict: true }, holes: true },
    "strict: false (as next build writes it)": { options: { strict: false }, holes: false },
    exactOptionalPropertyTypes: { options: { strict: true, exactOptionalPropertyTypes: true }, holes: true },
  };
  const cases = Object.entries(compilers).flatMap(([name, compiler]) =>
    Object.entries(settings).map(([setting, { options, holes }]) => [name, setting, compiler, options, holes] as const),
  );

  it.each(cases)(
    "%s with %s refuses each one, naming the field, and accepts interfaces, arrays and coercing schemas, handler typed or not",
    async (_name, _setting, compiler, options, holes) => {
      const tsconfig = JSON.parse(await readFile(join(exportForms, "tsconfig.json"), "utf8"));
      const files = Object.fromEntries(
        Object.entries(refused).map(([file, [source]]) => [
          `src/${file === "holes" && !holes ? "accepted" : "refused"}/${file}.ts`,
          job(file, source),
        ]),
      );
      const dir = await tempProject(
        {
          ...files,
          "src/accepted/iface.ts": job("iface", accepted),
          "tsconfig.json": JSON.stringify({
            ...tsconfig,
            compilerOptions: { ...tsconfig.compilerOptions, ...options },
          }),
        },
        { from: exportForms, inRepo: true },
      );
      const result = tsc(compiler, dir);
      expect(result.code).not.toBe(0);
      for (const [file, [, issue]] of Object.entries(refused)) {
        if (file === "holes" && !holes) continue;
        // The first line a user reads names the field (issue 21): one signature, so no "No overload matches".
        expect(firstLineFor(result.output, `src/refused/${file}.ts(`), file).toContain(issue);
      }
      expect(result.output).not.toMatch(/src\/accepted\//);
    },
  );
});

describe("keys from the payload: tsc checks each {placeholder} of a key template against the payload (issue 22)", () => {
  const job = (name: string, body: string) =>
    `import { createJob } from "@qjobs/runtime";\nimport { z } from "zod";\nvoid z;\n${body.replace("NAME", `"keys/${name}"`)}\n`;
  // [source, the issue tsc names on its first line]
  const refused: Record<string, [source: string, issue: string]> = {
    "wrong-placeholder": [
      'export const j = createJob(NAME, { schema: z.object({ tenantId: z.string() }), flowControl: { key: "tenant:{tenant}", parallelism: 2 }, handler: async (input) => void input });',
      "placeholder {tenant} names no field of the payload",
    ],
    "wrong-field-type": [
      'export const j = createJob(NAME, { deduplicationId: "doc:{doc}", handler: async (payload: { doc: { id: string } }) => void payload });',
      "placeholder {doc} names a field that is not a string, number or boolean",
    ],
    "nested-path-optional": [
      'export const j = createJob(NAME, { label: "order-{order.id}", handler: async (payload: { order?: { id: string } }) => void payload });',
      "placeholder {order.id} names an optional field (order)",
    ],
    "nested-path-missing": [
      'export const j = createJob(NAME, { label: "order-{order.number}", handler: async (payload: { order: { id: string } }) => void payload });',
      "placeholder {order.number} names no field of the payload",
    ],
    "handler-typed-wrong-placeholder": [
      'export const j = createJob(NAME, { flowControl: { key: "t:{tenantID}", rate: 1 }, handler: async (payload: { tenantId: string }) => void payload });',
      "placeholder {tenantID} names no field of the payload",
    ],
    "optional-field": [
      'export const j = createJob(NAME, { deduplicationId: "{id}", handler: async (payload: { id?: string }) => void payload });',
      "placeholder {id} names an optional field",
    ],
    "debounce-key": [
      'export const j = createJob(NAME, { schema: z.object({ siteId: z.string() }), debounce: { key: "site:{site}", period: "30s" }, handler: async (input) => void input });',
      "placeholder {site} names no field of the payload",
    ],
    "schema-optional-field": [
      'export const j = createJob(NAME, { schema: z.object({ id: z.string().optional() }), deduplicationId: "{id}", handler: async (input) => void input });',
      "placeholder {id} names an optional field",
    ],
  };
  const strictOnly: typeof refused = {
    nullable: [
      'export const j = createJob(NAME, { label: "{id}", handler: async (payload: { id: string | null }) => void payload });',
      "placeholder {id} names a field that may be null",
    ],
  };
  const accepted = [
    'export const schema = createJob("accepted/schema", { schema: z.object({ tenantId: z.string(), contactId: z.string(), at: z.string().transform((s) => new Date(s)) }), flowControl: { key: "tenant:{tenantId}", parallelism: 2, rate: 10, period: "1m" }, deduplicationId: "contact:{tenantId}:{contactId}", label: "sync", handler: async (input) => void input.at.getTime() });',
    'export const nested = createJob("accepted/nested", { label: "order-{order.id}.{order.paid}", handler: async (payload: { order: { id: number; paid: boolean } }) => void payload });',
    'interface Doc { region: "eu" | "us"; id: string }\nexport const handlerTyped = createJob("accepted/handler", { deduplicationId: "{region}:{id}", handler: async (payload: Doc) => payload.id });',
    'export const fixed = createJob("accepted/fixed", { flowControl: { key: "everyone", parallelism: 1 }, handler: async () => 1 });',
    'export const withContext = createJob("accepted/context", { flowControl: { key: "t:{tenantId}", parallelism: 1 }, handler: async (payload: { tenantId: string }, ctx: import("@qjobs/runtime").JobContext) => void ctx.key });',
    'export const contextLeftToInfer = createJob("accepted/context-inferred", { label: "t:{tenantId}", handler: async (payload: { tenantId: string }, ctx) => ctx.key + payload.tenantId });',
    'export const debounced = createJob("accepted/debounced", { schema: z.object({ siteId: z.string() }), debounce: { key: "site:{siteId}", period: "30s", maxWait: 300 }, handler: async (input) => void input.siteId });',
  ].join("\n");

  /** A project with only these files and a tsconfig, strict or not. */
  async function project(strict: boolean, cases: typeof refused) {
    const files = Object.fromEntries(
      Object.entries(cases).map(([file, [source]]) => [`src/refused/${file}.ts`, job(file, source)]),
    );
    const dir = await tempProject(
      { ...files, "src/accepted.ts": job("accepted", accepted) },
      { from: exportForms, inRepo: true },
    );
    const tsconfig = JSON.parse(await readFile(join(dir, "tsconfig.json"), "utf8"));
    tsconfig.compilerOptions.strict = strict;
    tsconfig.include = ["src/refused", "src/accepted.ts"];
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    return dir;
  }

  for (const strict of [true, false]) {
    it.each(Object.entries(compilers))(
      `%s (strict: ${strict}) refuses a wrong placeholder, a field of the wrong type, an optional nested path, naming the placeholder; accepts schema, nested and handler-typed templates`,
      async (_name, compiler) => {
        const cases = strict ? { ...refused, ...strictOnly } : refused;
        const result = tsc(compiler, await project(strict, cases));
        expect(result.code).not.toBe(0);
        for (const [file, [, issue]] of Object.entries(cases)) {
          expect(firstLineFor(result.output, `src/refused/${file}.ts(`), file).toContain(issue);
        }
        expect(result.output).not.toMatch(/src\/accepted\.ts/);
      },
    );
  }
});

describe("a run's result is typed by its key as what JSON makes of it (issue 18)", () => {
  // runs-usage.ts (strict) and jsonify-usage.ts (strict and non-strict) hold valid uses and, each under an
  // expected-error directive, a wrong result type, a property the result does not have, a Date that stays a Date.
  it.each(Object.entries(compilers))(
    "%s, non-strict too, accepts the typed uses and rejects the misuses",
    (_name, compiler) => {
      expect(tsc(compiler, exportForms, "tsconfig.loose.json")).toEqual({ code: 0, output: "" });
    },
  );

  it("really checks: a wrong property on getRun's result fails to compile", async () => {
    const dir = await tempProject({}, { from: exportForms, inRepo: true });
    await writeFile(
      join(dir, "src/misuse-run.ts"),
      'import { dispatch, getRun } from "./qjobs.gen.js";\nconst run = await getRun(await dispatch("billing.refund", { orderId: "o" }));\nexport const n: number | undefined = run?.result?.length;\nexport const wrong = run?.result?.cents;\n',
    );
    const result = tsc(compilers["typescript 7"], dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/misuse-run\.ts\(4,.*Property 'cents' does not exist on type 'string'/);
  });
});
