// Keys from the payload (issue 22) on the CLI side: generate reads templates statically and refuses unsafe ones,
// warns on one flow-control key with two limits; the dashboard's Run fills them through the runtime's function.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InvalidPayloadError } from "@qjobs/runtime";
import { describe, expect, it } from "vitest";
import { startCaptureServer } from "../../../testkit/capture-server.js";
import type { ProjectJob } from "../../local/src/dashboard/view.js";
import { runHeaders } from "../page/keys.js";
import { templateProblem } from "../src/core/templates.js";
import { runCli, tempProject } from "./support.js";

const job = (name: string, options: string) =>
  `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob("${name}", { ${options}, handler: async () => {} });\n`;

describe("qjobs generate reads key templates statically", () => {
  it("refuses a template whose values could run together or whose literal parts could break out, naming the template", () => {
    expect(templateProblem("tenant:{tenantId}")).toBeUndefined();
    expect(templateProblem("contact:{tenantId}:{contactId}")).toBeUndefined();
    expect(templateProblem("{order.id}-{order.line}")).toBeUndefined();
    // Encoded values are A-Z a-z 0-9 _: a separator of those alone lets two payloads share a key.
    expect(templateProblem("{a}{b}")).toMatch(/two placeholders need a separator/);
    expect(templateProblem("{a}_{b}")).toMatch(/two placeholders need a separator/);
    expect(templateProblem("{a}x9{b}")).toMatch(/two placeholders need a separator/);
    // Literal parts: the job-key characters only (no comma for labels, no space, no header breaking).
    expect(templateProblem("a,b:{id}")).toMatch(/"," cannot be in its literal parts/);
    expect(templateProblem("a\r\nX: y{id}")).toMatch(/cannot be in its literal parts/);
    expect(templateProblem("a:{id")).toMatch(/braces do not pair/);
    expect(templateProblem("a:{id}}")).toMatch(/braces do not pair/);
    expect(templateProblem("a:{}")).toMatch(/placeholder \{\} is not a field path/);
    expect(templateProblem("a:{x[0]}")).toMatch(/placeholder \{x\[0\]\} is not a field path/);
  });

  it("writes the declared templates verbatim into the registry, where dispatch fills them", async () => {
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/sync.job.ts": job("sync", 'flowControl: { key: "tenant:{tenantId}", parallelism: 2 }, label: "sync"'),
    });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    const registry = await readFile(join(dir, "src/qjobs.gen.ts"), "utf8");
    expect(registry).toContain('"sync": {"flowControl":{"key":"tenant:{tenantId}","parallelism":2},"label":"sync"},');
    const list = await runCli(["list", "--json", "--cwd", dir]);
    expect(JSON.parse(list.stdout)[0].options).toEqual({
      flowControl: { key: "tenant:{tenantId}", parallelism: 2 },
      label: "sync",
    });
  });

  it("reads debounce statically: the registry's dispatch gets it, list --json shows it", async () => {
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/reindex.job.ts": job("reindex", 'debounce: { key: "site:{siteId}", period: "30s", maxWait: "5m" }'),
    });
    expect((await runCli(["generate", "--cwd", dir])).code).toBe(0);
    const registry = await readFile(join(dir, "src/qjobs.gen.ts"), "utf8");
    expect(registry).toContain('debounce: { "reindex": {"key":"site:{siteId}","period":"30s","maxWait":"5m"} }');
    const list = await runCli(["list", "--json", "--cwd", dir]);
    expect(JSON.parse(list.stdout)[0]).toMatchObject({
      options: {},
      debounce: { key: "site:{siteId}", period: "30s", maxWait: "5m" },
    });
  });

  it("refuses debounce with a delay, notBefore or deduplicationId, and a debounce that is not { key, period, maxWait? }", async () => {
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/a.job.ts": job("a", 'deduplicationId: "x", debounce: { key: "k", period: 5 }'),
      "src/jobs/b.job.ts": job("b", 'notBefore: 1, debounce: { key: "k", period: "1m" }'),
      "src/jobs/c.job.ts": job("c", 'debounce: { key: "k", period: "soon" }'),
      "src/jobs/d.job.ts": job("d", 'debounce: { key: "k", period: 5, wait: 1 }'),
    });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/a\.job\.ts:2:\d+: debounce of job "a": it cannot go with deduplicationId/);
    expect(run.stderr).toMatch(/b\.job\.ts:2:\d+: debounce of job "b": it cannot go with notBefore/);
    expect(run.stderr).toMatch(/c\.job\.ts:2:\d+: debounce of job "c": "period" must be seconds or a duration/);
    expect(run.stderr).toMatch(/d\.job\.ts:2:\d+: debounce of job "d": unknown field "wait"/);
  });

  it("warns when two jobs declare the same flow-control key with different limits (QStash keeps one per key)", async () => {
    const dir = await tempProject({
      "src/app/.keep": "",
      "src/jobs/a.job.ts": job("a", 'flowControl: { key: "crm-api", parallelism: 2 }'),
      "src/jobs/b.job.ts": job("b", 'flowControl: { key: "crm-api", parallelism: 5, rate: 10, period: "1m" }'),
      "src/jobs/c.job.ts": job("c", 'flowControl: { key: "crm-api", parallelism: 2, period: 1 }'),
    });
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(0);
    const warnings = run.stderr.trim().split("\n");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^src\/jobs\/b\.job\.ts:2:\d+: job "b" declares flow-control key "crm-api" with parallelism 5, rate 10 per 60 s, but job "a" \(src\/jobs\/a\.job\.ts:2:\d+\) declares it with parallelism 2: .* \(warning\)$/,
    );
  });
});

describe("qjobs run fills the declared templates as the registry's dispatch does", () => {
  it("publishes the filled key, and refuses a payload that cannot fill it as a user error, publishing nothing", async () => {
    const qstash = await startCaptureServer();
    try {
      const dir = await tempProject({
        "src/app/.keep": "",
        "src/jobs/sync.job.ts": job("sync", 'flowControl: { key: "tenant:{tenantId}", parallelism: 2 }'),
      });
      const env = { QSTASH_URL: qstash.url, QSTASH_TOKEN: "test-token", QJOBS_URL: "https://app.example.com/api/jobs" };
      const refused = await runCli(["run", "sync", "--payload", "{}", "--cwd", dir], { env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/tenantId: is missing, but flowControl\.key "tenant:\{tenantId\}" needs it/);
      expect(refused.stderr).not.toMatch(/crashed|at file:/);
      expect(qstash.requests).toEqual([]);

      const sent = await runCli(["run", "sync", "--payload", '{"tenantId":"a b"}', "--cwd", dir], { env });
      expect(sent.code).toBe(0);
      expect(qstash.requests[0]?.headers["upstash-flow-control-key"]).toBe("tenant:a_20b");
    } finally {
      await qstash.close();
    }
  });
});

describe("the dashboard's Run fills the declared templates through the runtime's function", () => {
  const view: ProjectJob = {
    key: "crm/sync",
    file: "src/jobs/sync.job.ts",
    line: 3,
    options: { flowControl: { key: "tenant:{tenantId}", parallelism: 2 }, label: "sync-{tenantId}" },
    failureHook: false,
    schedules: [],
    publish: {
      destination: "http://127.0.0.1:3000/api/jobs?job=crm%2Fsync",
      headers: { "upstash-flow-control-key": "tenant:{tenantId}", "upstash-label": "sync-{tenantId}" },
    },
  };
  const publish = view.publish as NonNullable<ProjectJob["publish"]>;

  it("publishes the keys filled from the payload typed in, encoded", () => {
    expect(runHeaders(view, publish, '{"tenantId":"a/b"}')).toMatchObject({
      "upstash-flow-control-key": "tenant:a_2Fb",
      "upstash-label": "sync-a_2Fb",
    });
  });

  it("refuses a payload that cannot fill them, naming the placeholder", () => {
    expect(() => runHeaders(view, publish, "{}")).toThrow(InvalidPayloadError);
    expect(() => runHeaders(view, publish, "{}")).toThrow(/\{tenantId\}/);
  });

  it("publishes any body as it is for a job without templates", () => {
    const plain = { ...view, options: { label: "plain" } };
    expect(runHeaders(plain, { ...publish, headers: { "upstash-label": "plain" } }, "not json")).toEqual({
      "upstash-label": "plain",
    });
  });
});
