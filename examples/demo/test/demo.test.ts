import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the README's demo (pnpm demo)", () => {
  it("runs every job end to end on qjobs dev and exits 0 in under 30 s", () => {
    const started = performance.now();
    const run = spawnSync(process.execPath, [fileURLToPath(new URL("../demo.mjs", import.meta.url))], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 30_000,
    });
    expect(run.stdout).toContain("✓ crm/sync-contacts failed once, then succeeded on its retry");
    expect(run.stdout).toContain("✓ the declined charge is in the dead-letter queue, and nothing else");
    expect(run.stdout).toContain("✓ crm/sync-contacts's run was followed to its result");
    expect(run.stdout).toMatch(/qstash │ .*billing\/charge-card\s+#1\s+489/);
    expect(run.stdout).toMatch(/demo ok in/);
    expect(run.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(30_000);
  }, 40_000);
});
