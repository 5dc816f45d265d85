// The one harness for running the built CLI as a user would: `runCli` for a command that ends,
// `spawnCli` for one that keeps running (wait for a line of its output, then stop it).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach } from "vitest";

/** The built `qjobs` bin (packages/cli/dist/bin.js): `pnpm test` builds it first. */
export const cliBin = fileURLToPath(new URL("../packages/cli/dist/bin.js", import.meta.url));
export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Children of `runCli` still running. */
const running = new Set<ChildProcess>();

/**
 * `qjobs dev` keeps its state in a folder it locks: each one a test starts gets a temporary folder of its own
 * (removed when it exits), unless the test names one.
 */
function withState(args: string[]): { args: string[]; cleanup: () => void } {
  if (args[0] !== "dev" || args.includes("--state-dir") || args.includes("--in-memory"))
    return { args, cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), "qjobs-state-"));
  return { args: [...args, "--state-dir", dir], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The environment the CLI runs in: no colors unless the test asks for them. No `{}` default: Next's types make
 * NODE_ENV required in ProcessEnv, and next build type-checks this file through fixtures/next-app/test.
 */
const cliEnv = (env?: NodeJS.ProcessEnv) => ({ ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...env });

/** Runs one command to its end. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  const state = withState(args);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, ...state.args], {
      cwd: options.cwd ?? repoRoot,
      env: cliEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    // A command that should have ended but hangs is killed after the test (which then fails on its timeout).
    running.add(child);
    child.once("exit", () => running.delete(child));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      state.cleanup();
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SpawnedCli {
  readonly child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved as they arrived. */
  output(): string;
  stdout(): string;
  /**
   * Resolves with the match once `count` lines of the output match `pattern`; rejects after `timeoutMs`
   * with the output so far, so a broken run fails instead of hanging.
   */
  waitFor(pattern: RegExp, options?: { count?: number; timeoutMs?: number }): Promise<RegExpMatchArray>;
  /** Stops it with Ctrl-C (SIGINT) and resolves to its exit code; a SIGKILL follows if it lingers. */
  stop(): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

const spawned = { test: new Set<SpawnedCli>(), file: new Set<SpawnedCli>() };
afterEach(() => Promise.all([...spawned.test].map((cli) => cli.stop())));
afterEach(() => {
  for (const child of running) child.kill("SIGKILL");
});
afterAll(() => Promise.all([...spawned.file].map((cli) => cli.stop())));

/**
 * Starts a long-running command (`dev`, `watch`). Unless the test stops it, it is stopped after the test,
 * or with `lifetime: "file"` (started in `beforeAll`) after the test file.
 */
export function spawnCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; lifetime?: "test" | "file" } = {},
): SpawnedCli {
  const owner = spawned[options.lifetime ?? "test"];
  const state = withState(args);
  const child = spawn(process.execPath, [cliBin, ...state.args], {
    cwd: options.cwd ?? repoRoot,
    env: cliEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stdout = "";
  const listeners = new Set<() => void>();
  const heard = () => {
    for (const listener of listeners) listener();
  };
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
    stdout += text;
    heard();
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    output += text;
    heard();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      state.cleanup();
      resolve(code);
    }),
  );
  exited.then(heard);

  const cli: SpawnedCli = {
    child,
    output: () => output,
    stdout: () => stdout,
    exited,
    // Shorter than a test's own timeout (30 s), so a line that never comes fails with the output so far.
    waitFor(pattern, { count = 1, timeoutMs = 20_000 } = {}) {
      const found = () => output.split("\n").filter((line) => pattern.test(line))[count - 1];
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = found();
          if (line !== undefined) {
            done();
            resolve(line.match(pattern) as RegExpMatchArray);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`the CLI exited before printing ${pattern}; it printed:\n${output}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; the CLI printed:\n${output}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      owner.delete(cli);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
      }
      return exited;
    },
  };
  owner.add(cli);
  return cli;
}

/** A job file's source: `export const <name> = createJob("<key>", async (payload: <payload>) => { <body> })`. */
export function jobSource(name: string, key: string, options: { payload?: string; body?: string } = {}): string {
  const parameter = options.payload ? `payload: ${options.payload}` : "";
  return `import { createJob } from "@qjobs/runtime";\nexport const ${name} = createJob(${JSON.stringify(key)}, async (${parameter}) => {${options.body ? ` ${options.body} ` : ""}});\n`;
}
