import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "fixtures/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    reporters: ["default", "./scripts/totals-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for deliveries and pages; 1 s (the default) is short on a loaded two-core machine.
    expect: { poll: { timeout: 10_000 } },
  },
});
