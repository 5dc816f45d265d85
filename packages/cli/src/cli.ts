import { Command, CommanderError } from "commander";
import { UserError } from "./errors.js";
import { dashboardCommand } from "./program/dashboard.js";
import { devCommand } from "./program/dev.js";
import { runCommand, runsCommand } from "./program/runs.js";
import { schedulesCommand } from "./program/schedules.js";
import { generateCommand, initCommand, listCommand, watchCommand } from "./program/setup.js";
import type { CommandDefinition } from "./program/shared.js";
import { type Output, processOutput } from "./terminal.js";
import { version } from "./version.js";

// Commands load their modules when they run, so `qjobs --help` and a cached `generate` start fast.

/** The CLI's commands, in the order `qjobs --help` lists them: each defined in program/. */
const COMMANDS: readonly CommandDefinition[] = [
  initCommand,
  generateCommand,
  watchCommand,
  listCommand,
  runCommand,
  runsCommand,
  schedulesCommand,
  devCommand,
  dashboardCommand,
];

function program(output: Output, setExitCode: (code: number) => void): Command {
  const root = new Command("qjobs")
    .description(
      "Type-safe background jobs on Upstash QStash.\nDiscovers *.job.ts files and generates a typed job registry and one route handler.",
    )
    .version(version, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .showHelpAfterError("(run qjobs --help for usage)")
    .configureOutput({ writeOut: (text) => output.out(text.trimEnd()), writeErr: (text) => output.err(text.trimEnd()) })
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  $ qjobs init                set a project up (safe to re-run)
  $ qjobs generate            write the registry and the route (run it before your build)
  $ qjobs dev --watch         the local QStash server, regenerating as you edit jobs
  $ qjobs generate --check    in CI: fail when the generated files are stale
  $ qjobs list --json         the jobs, as JSON
  $ qjobs schedules sync      after a deploy: make QStash's schedules match the declared ones
  $ qjobs dashboard           see and steer production's jobs (QSTASH_TOKEN), by job key
  $ qjobs run reports:daily --wait    dispatch a job and follow its run to its result

Configuration: qjobs.config.json in the project folder, for example
  { "jobs": ["src/**/*.job.ts"], "registry": "src/qjobs.gen.ts", "route": "src/app/api/jobs/route.ts" }`,
    );

  for (const define of COMMANDS) define(root, { output, setExitCode });
  return root;
}

/** Parses argv, runs one command, and returns the exit code. The bin is the only caller of process.exit. */
export async function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  let exitCode = 0;
  try {
    await program(output, (code) => {
      exitCode = code;
    }).parseAsync(argv as string[]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof UserError) {
      output.err(`${output.errColor.red("error")} ${error.message}`);
      return 1;
    }
    throw error;
  }
}
