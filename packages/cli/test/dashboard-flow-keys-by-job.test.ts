import { describe, expect, it } from "vitest";
import type { ProjectJob } from "../../local/src/dashboard/view.js";
import type { FlowControlInfo } from "../page/api.js";
import { flowKeysByJob, KEYS_PER_JOB, readFlowKeys, usedOfMax } from "../page/flow-keys.js";

const job = (key: string, options: Record<string, unknown>) => ({ key, options }) as unknown as ProjectJob;
const info = (flowControlKey: string, waitListSize: number, parallelismCount = 0): FlowControlInfo => ({
  flowControlKey,
  waitListSize,
  parallelismMax: 1,
  parallelismCount,
  rateMax: 0,
  rateCount: 0,
  ratePeriod: 1,
});

describe("flowKeysByJob: each job's flow-control keys from one list for the whole page", () => {
  it("gives a templated job its busiest 50 keys by waiting + in flight, and how many matched", () => {
    const tenants = Array.from({ length: 60 }, (_, n) => info(`tenant:t${n}`, n % 7, n % 2));
    const byJob = flowKeysByJob([job("crm/sync", { flowControl: { key: "tenant:{tenantId}" } })], tenants);
    const sync = byJob.get("crm/sync");
    expect(sync?.total).toBe(60);
    expect(sync?.keys).toHaveLength(KEYS_PER_JOB);
    const loads = sync?.keys.map((key) => key.waitListSize + (key.parallelismCount ?? 0)) ?? [];
    expect(loads).toEqual([...loads].sort((a, b) => b - a));
    expect(Math.min(...loads)).toBeGreaterThanOrEqual(
      Math.max(
        ...tenants
          .filter((key) => !sync?.keys.includes(key))
          .map((key) => key.waitListSize + (key.parallelismCount ?? 0)),
      ),
    );
  });

  it("gives each job only its own keys: a literal key itself, no other template's keys, none for a job without", () => {
    const keys = [info("billing", 1), info("billing2", 1), info("tenant:acme", 2), info("site:docs", 3)];
    const byJob = flowKeysByJob(
      [
        job("billing", { flowControl: { key: "billing", parallelism: 1 } }),
        job("crm/sync", { flowControl: { key: "tenant:{tenantId}" } }),
        job("plain", { retries: 0 }),
      ],
      keys,
    );
    expect(byJob.get("billing")?.keys.map((key) => key.flowControlKey)).toEqual(["billing"]);
    expect(byJob.get("crm/sync")?.keys.map((key) => key.flowControlKey)).toEqual(["tenant:acme"]);
    expect(byJob.has("plain")).toBe(false);
  });
});

describe("readFlowKeys: QStash's list as the page shows it, whichever documented shape it has", () => {
  it("reads an array, or { flowControls }, with waitListSize or waitlistSize; a list without figures shows –", () => {
    const full = { flowControlKey: "tenant:acme", waitListSize: 3, parallelismMax: 2, parallelismCount: 1, rateMax: 0 };
    expect(readFlowKeys([full])[0]).toMatchObject(full);
    const bare = readFlowKeys({ flowControls: [{ flowControlKey: "tenant:globex", waitlistSize: 4 }] });
    expect(bare).toMatchObject([{ flowControlKey: "tenant:globex", waitListSize: 4 }]);
    expect(usedOfMax(bare[0]?.parallelismCount, bare[0]?.parallelismMax)).toBe("–");
    expect(usedOfMax(1, 2)).toBe("1/2");
    expect(usedOfMax(5, 0)).toBe("5");
  });

  it("reads ratePeriodStart in seconds (QStash's docs, qjobs dev) or milliseconds as milliseconds", () => {
    const at = Date.UTC(2026, 0, 2);
    expect(readFlowKeys([{ flowControlKey: "k", ratePeriodStart: at / 1000 }])[0]?.ratePeriodStart).toBe(at);
    expect(readFlowKeys([{ flowControlKey: "k", ratePeriodStart: at }])[0]?.ratePeriodStart).toBe(at);
  });

  it("leaves out an item without a key, and refuses an answer that holds no list (an error, not 'no keys')", () => {
    expect(readFlowKeys([null, { waitListSize: 1 }, { flowControlKey: "k" }]).map((key) => key.flowControlKey)).toEqual(
      ["k"],
    );
    expect(() => readFlowKeys({ error: "nope" })).toThrow(/GET \/v2\/flowControl holds no list/);
    expect(() => readFlowKeys(null)).toThrow(/holds no list/);
  });
});
