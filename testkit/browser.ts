// Browser tests drive Debian's Chromium with playwright-core (Playwright's own browser download cannot work on
// these machines). Without Chromium they skip, saying how to get it; under CI they fail instead.
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll } from "vitest";

export const chromiumPath = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  const why = `Chromium is not at ${chromiumPath}: install it with \`sudo apt-get install -y chromium\` (Debian/Ubuntu)`;
  if (process.env.CI) throw new Error(`${why}. Under CI the browser tests must run.`);
  console.warn(`Skipping the browser tests. ${why}.`);
  return why;
}

// Headless, as root in CI (no sandbox), and quiet: this machine's closed network refuses Chromium's own calls home.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

let launched: Promise<Browser> | undefined;

/** One Chromium per test file, closed after it. */
export function browser(): Promise<Browser> {
  launched ??= chromium.launch({ executablePath: chromiumPath, headless: true, args: FLAGS });
  return launched;
}

afterAll(async () => {
  const open = launched;
  launched = undefined;
  await (await open)?.close();
});
