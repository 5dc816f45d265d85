import { describe, expect, it } from "vitest";
import { z } from "zod";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { createDispatch, createJob, InvalidPayloadError } from "../src/index.js";
import { encodeKeyValue, fillTemplate, MAX_FILLED_LENGTH } from "../src/template.js";

const fill = (template: string, payload: unknown) => fillTemplate("crm/sync", "flowControl.key", template, payload);

describe("fillTemplate: keys from the payload, encoded so that no payload breaks out", () => {
  it("fills {path} placeholders, nested ones too, from strings, numbers and booleans", () => {
    expect(fill("tenant:{tenantId}", { tenantId: "acme", other: 1 })).toBe("tenant:acme");
    expect(fill("order:{order.id}-{order.paid}", { order: { id: 42, paid: false } })).toBe("order:42-false");
    expect(fill("fixed-key", { tenantId: "acme" })).toBe("fixed-key");
  });

  it("keeps A-Z a-z 0-9 and writes every other UTF-8 byte as _XX, so a value cannot write / , _ { or a newline", () => {
    expect(encodeKeyValue("a/b,c_d")).toBe("a_2Fb_2Cc_5Fd");
    expect(encodeKeyValue("é日")).toBe("_C3_A9_E6_97_A5");
    expect(encodeKeyValue("x\r\nUpstash-Forward-Evil: 1")).toBe("x_0D_0AUpstash_2DForward_2DEvil_3A_201");
    expect(fill("t:{id}", { id: "{id}" })).toBe("t:_7Bid_7D");
    expect(fill("t:{id}", { id: "" })).toBe("t:");
  });

  it("gives payloads whose values differ different keys, even a value that spells another's encoding", () => {
    const keys = ["a/b", "a_2Fb", "a_b", "a b", "a\u0000b", "ab"].map((id) => fill("t:{id}", { id }));
    expect(new Set(keys).size).toBe(keys.length);
    // Two placeholders: moving the separator between values cannot make two payloads share a key.
    expect(fill("{a}:{b}", { a: "x:y", b: "z" })).not.toBe(fill("{a}:{b}", { a: "x", b: "y:z" }));
    // Payloads that differ only elsewhere share the key.
    expect(fill("t:{id}", { id: "1", note: "a" })).toBe(fill("t:{id}", { id: "1", note: "b" }));
  });

  it.each([
    ["missing", {}, /\{tenantId\}.*is missing|is missing.*\{tenantId\}/],
    ["null", { tenantId: null }, /is null/],
    ["an object", { tenantId: { id: 1 } }, /is an object/],
    ["an array", { tenantId: ["a"] }, /is an array/],
    ["not a finite number", { tenantId: Number.NaN }, /is not a finite number/],
  ])("refuses a value that is %s with InvalidPayloadError naming the placeholder", (_, payload, reason) => {
    const error = (() => {
      try {
        return fill("tenant:{tenantId}", payload);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as InvalidPayloadError).issues[0]?.path).toBe("tenantId");
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toContain('flowControl.key "tenant:{tenantId}"');
  });

  it("refuses a path through a missing parent, an array or a payload that is not an object", () => {
    expect(() => fill("{order.id}", { order: null })).toThrow(InvalidPayloadError);
    expect(() => fill("{order.id}", { order: [{ id: 1 }] })).toThrow(InvalidPayloadError);
    expect(() => fill("{id}", undefined)).toThrow(InvalidPayloadError);
    expect(() => fill("{toString}", {})).toThrow(/is missing/);
  });

  it("shortens a very long key to the limit with a hash of the whole: distinct values stay distinct", () => {
    const long = "x".repeat(500);
    const a = fill("tenant:{id}", { id: `${long}a` });
    const b = fill("tenant:{id}", { id: `${long}b` });
    expect(a).toHaveLength(MAX_FILLED_LENGTH);
    expect(a).toMatch(/^tenant:x+~[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
    expect(fill("tenant:{id}", { id: `${long}a` })).toBe(a);
    // A key at the limit is kept as it is.
    const atLimit = fill("t:{id}", { id: "y".repeat(MAX_FILLED_LENGTH - 2) });
    expect(atLimit).toBe(`t:${"y".repeat(MAX_FILLED_LENGTH - 2)}`);
    // Unicode grows threefold when encoded, and is shortened the same way.
    expect(fill("t:{id}", { id: "日".repeat(100) })).toHaveLength(MAX_FILLED_LENGTH);
  });
});

const jobsUrl = "https://app.example.com/api/jobs";
const qstash = useCaptureQStash({ jobsUrl });

const sync = createJob("crm/sync", {
  schema: z.object({ tenantId: z.string(), contactId: z.string().transform((id) => id.toUpperCase()) }),
  flowControl: { key: "tenant:{tenantId}", parallelism: 2, rate: 10, period: "1m" },
  deduplicationId: "contact:{tenantId}:{contactId}",
  label: "sync-{tenantId}",
  handler: async () => {},
});

describe("every dispatch fills the declared templates through the one function", () => {
  it("job.dispatch fills flowControl.key, deduplicationId and label from the payload as dispatched (before transforms)", async () => {
    await sync.dispatch({ tenantId: "acme/eu", contactId: "c1" });
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-flow-control-key": "tenant:acme_2Feu",
      "upstash-flow-control-value": "parallelism=2, rate=10, period=1m",
      "upstash-deduplication-id": "contact:acme_2Feu:c1",
      "upstash-label": "sync-acme_2Feu",
    });
  });

  it("a dispatch's own options are literal, never filled, and win", async () => {
    await sync.dispatch(
      { tenantId: "acme", contactId: "c1" },
      { deduplicationId: "mine:{tenantId}", flowControl: { key: "own", parallelism: 1 } },
    );
    expect(qstash.requests[0]?.headers).toMatchObject({
      "upstash-deduplication-id": "mine:{tenantId}",
      "upstash-flow-control-key": "own",
      "upstash-label": "sync-acme",
    });
  });

  it("a payload that cannot fill a template throws InvalidPayloadError and publishes nothing", async () => {
    const { dispatch } = createDispatch({ "crm/sync": { deduplicationId: "contact:{contactId}" } });
    await expect(dispatch("crm/sync" as never, { tenantId: "acme" } as never)).rejects.toThrow(/contactId.*is missing/);
    expect(qstash.requests).toEqual([]);
  });

  it("the registry's dispatch and dispatchMany fill each payload's own keys, from the declared templates", async () => {
    const { dispatch, dispatchMany } = createDispatch({
      "crm/sync": { flowControl: { key: "tenant:{tenantId}", parallelism: 2 } },
    });
    await dispatch("crm/sync" as never, { tenantId: "a" } as never);
    expect(qstash.requests[0]?.headers["upstash-flow-control-key"]).toBe("tenant:a");
    await dispatchMany("crm/sync" as never, [{ tenantId: "b" }, { tenantId: "c" }] as never);
    const entries = JSON.parse(String(qstash.requests[1]?.body)) as { headers: Record<string, string> }[];
    const key = (headers: Record<string, string>) =>
      Object.entries(headers).find(([name]) => name.toLowerCase() === "upstash-flow-control-key")?.[1];
    expect(entries.map((entry) => key(entry.headers))).toEqual(["tenant:b", "tenant:c"]);
  });

  it("dispatchMany refuses every payload when one cannot fill a template, publishing none", async () => {
    const { dispatchMany } = createDispatch({ "crm/sync": { deduplicationId: "contact:{contactId}" } });
    await expect(
      dispatchMany("crm/sync" as never, [{ contactId: "1" }, { contactId: { id: 2 } }] as never),
    ).rejects.toThrow(InvalidPayloadError);
    expect(qstash.requests).toEqual([]);
  });
});
