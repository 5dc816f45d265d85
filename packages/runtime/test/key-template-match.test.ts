import { describe, expect, it } from "vitest";
import { fillTemplate, matchesKeyTemplate } from "../src/template.js";

const fill = (template: string, payload: unknown) => fillTemplate("crm/sync", "flowControl.key", template, payload);

describe("matchesKeyTemplate: which flow-control keys a job's declared key template made", () => {
  it("matches every key the template fills to, whatever the payload's values", () => {
    for (const tenantId of ["acme", "a/b", "é日", "", "x\r\ny", 42, true])
      expect(matchesKeyTemplate("tenant:{tenantId}", fill("tenant:{tenantId}", { tenantId }))).toBe(true);
    expect(matchesKeyTemplate("{a}.{b}", fill("{a}.{b}", { a: "x.y", b: "z" }))).toBe(true);
  });

  it("matches a literal key only to itself", () => {
    expect(matchesKeyTemplate("billing", "billing")).toBe(true);
    expect(matchesKeyTemplate("billing", "billing2")).toBe(false);
    expect(matchesKeyTemplate("a.b", "aXb")).toBe(false);
  });

  it("does not match another template's keys, a key with a slash, or a broken escape", () => {
    expect(matchesKeyTemplate("tenant:{tenantId}", fill("site:{siteId}", { siteId: "acme" }))).toBe(false);
    expect(matchesKeyTemplate("tenant:{tenantId}", "tenant:acme/other")).toBe(false);
    expect(matchesKeyTemplate("tenant:{tenantId}", "tenant:a_2")).toBe(false);
    expect(matchesKeyTemplate("tenant:{tenantId}", "tenant:a_zz")).toBe(false);
    expect(matchesKeyTemplate("tenant:{tenantId}", "tenant:a-b")).toBe(false);
    expect(matchesKeyTemplate("tenant:{tenantId}", "xtenant:acme")).toBe(false);
    expect(matchesKeyTemplate("tenant:{tenantId}:eu", "tenant:acme")).toBe(false);
    // The literal parts are verbatim, not a pattern: `.` is a dot.
    expect(matchesKeyTemplate("t.{id}", "tX1")).toBe(false);
  });

  it("matches a key shortened with a hash when its start could come from the template, and no other's", () => {
    const long = fill("tenant:{tenantId}", { tenantId: "é".repeat(60) });
    expect(long).toContain("~");
    expect(matchesKeyTemplate("tenant:{tenantId}", long)).toBe(true);
    expect(matchesKeyTemplate("site:{siteId}", long)).toBe(false);
    const cutInLiteral = fill("{a}:a-long-literal-part-that-runs-on-and-on", { a: "x".repeat(90) });
    expect(cutInLiteral).toContain("~");
    expect(matchesKeyTemplate("{a}:a-long-literal-part-that-runs-on-and-on", cutInLiteral)).toBe(true);
    expect(matchesKeyTemplate("{a}:another-literal", cutInLiteral)).toBe(false);
  });
});
